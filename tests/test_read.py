"""The raw readers (``ospo_survey.ingest.read``) on the real upstream files (``data`` tests;
the readers' errors on inputs made without the data are in ``test_read_errors.py``).

Expected values are derived independently of the reader: from the raw bytes, from the CSV parsed
with Python's ``csv`` module, or from facts checked by hand in the files. The per-year layout
facts below (title rows, header rows, where the respondent id sits) are written out here on
purpose rather than read from the codebooks, so a wrong setting cannot confirm itself.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from ospo_survey import read_raw
from ospo_survey.core.errors import (
    CodebookError,
    RawFormatError,
    UnknownCodeError,
)
from ospo_survey.ingest import fetch
from ospo_survey.ingest.dataset import year_data
from ospo_survey.ingest.labels import clean_label, label_key
from ospo_survey.ingest.read import RawSurvey

pytestmark = pytest.mark.data

YEARS = list(range(2018, 2025))

# title rows, header rows, position of the respondent id, meta columns -- checked by hand
LAYOUT = {
    2018: {"title": 0, "header": 2, "id_pos": 0, "n_meta": 4},
    2019: {"title": 1, "header": 2, "id_pos": 0, "n_meta": 3},
    2020: {"title": 0, "header": 2, "id_pos": 0, "n_meta": 3},
    2021: {"title": 0, "header": 2, "id_pos": 2, "n_meta": 8},
    2022: {"title": 0, "header": 3, "id_pos": 2, "n_meta": 9},
    2023: {"title": 0, "header": 3, "id_pos": 0, "n_meta": 5},
    2024: {"title": 0, "header": 3, "id_pos": 0, "n_meta": 5},
}
RESPONDENTS = {2018: 748, 2019: 2681, 2020: 1026, 2021: 1141, 2022: 1048, 2023: 489, 2024: 222}
# (empty trailing rows, empty trailing columns) per export
PADDING = {
    (2018, "responses"): (0, 0),
    (2019, "responses"): (0, 29),
    (2020, "responses"): (378, 23),
    (2021, "responses"): (5, 0),
    (2022, "responses"): (0, 64),
    (2023, "responses"): (0, 0),
    (2024, "responses"): (0, 1),
    (2024, "responses_text"): (688, 1),
}
KINDS = {"meta", "single", "multiple", "matrix", "numeric", "text"}
TYPOGRAPHY = "\u00a0\u2019\u2018\u201c\u201d\ufeff"
BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- helpers


@cache
def survey(year: int, role: str | None = None) -> RawSurvey:
    """Each export is parsed once per test session (the tests only read the result)."""
    return read_raw(year, role=role)


def raw_file(year: int, role: str = "responses") -> Path:
    return fetch.raw_path(year, role)


@cache
def raw_rows(year: int, role: str = "responses") -> tuple[tuple[str, ...], ...]:
    """The export parsed by the csv module alone, title rows dropped (a BOM is not a cell)."""
    with open(raw_file(year, role), encoding="utf-8-sig", newline="") as fh:
        rows = [tuple(r) for r in csv.reader(fh)]
    return tuple(rows[LAYOUT[year]["title"] :])


def raw_header(year: int, role: str = "responses") -> tuple[tuple[str, ...], ...]:
    return raw_rows(year, role)[: LAYOUT[year]["header"]]


def raw_body(year: int, role: str = "responses") -> list[tuple[str, ...]]:
    """Respondent rows: everything under the header minus the empty rows at the end."""
    body = list(raw_rows(year, role)[LAYOUT[year]["header"] :])
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
    return body


def raw_column(year: int, position: int, role: str = "responses") -> list[str]:
    return [r[position] for r in raw_body(year, role)]


def position_of(s: RawSurvey, column: str) -> int:
    return int(s.questions.set_index("column").loc[column, "position"])


def raw_counts(year: int, column: str) -> Counter:
    """Non-empty raw cells of one of the survey's columns, counted."""
    s = survey(year)
    return Counter(v.strip() for v in raw_column(year, position_of(s, column)) if v.strip())


def answers_of(s: RawSurvey, column: str) -> list[tuple[float, str]]:
    a = s.answers[s.answers["column"] == column]
    return list(zip(a["code"].tolist(), a["label"].tolist(), strict=True))


def groups(s: RawSurvey) -> list[tuple[str, list[int]]]:
    """(qid, positions) of every question in file order, from the question table."""
    out: list[tuple[str, list[int]]] = []
    for row in s.questions[s.questions["kind"] != "meta"].itertuples():
        if out and out[-1][0] == row.qid:
            out[-1][1].append(row.position)
        else:
            out.append((row.qid, [row.position]))
    return out


@cache
def reference_model(year: int) -> dict[str, dict[str, str]]:
    """The publisher's reference model read with the csv module: {Q#: {R#: text}}.

    The question's own text is under the key ``"text"``.
    """
    with open(raw_file(year, "reference_model"), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    head = next(i for i, r in enumerate(rows) if "Q#" in r and "R#" in r)
    iq, ir, it = (rows[head].index(k) for k in ("Q#", "R#", "Questions and Responses"))
    model: dict[str, dict[str, str]] = {}
    current = None
    for r in rows[head + 1 :]:
        if r[iq].strip().isdigit():
            current = r[iq].strip()
            model[current] = {"text": r[it]}
        elif current and r[ir].strip() and r[it].strip():
            model[current][r[ir].strip()] = r[it]
    return model


def write_rows(path: Path, rows: list[list[str]] | tuple, *, bom: bool = False) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes((BOM if bom else b"") + buf.getvalue().encode("utf-8"))
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def full_rows(year: int, role: str = "responses") -> list[list[str]]:
    """Every row of the file (title rows included), as editable lists."""
    with open(raw_file(year, role), encoding="utf-8-sig", newline="") as fh:
        return [list(r) for r in csv.reader(fh)]


# --------------------------------------------------------------------------- 1. respondents


@pytest.mark.parametrize("year", YEARS)
def test_respondent_count_excludes_padding(year: int) -> None:
    s = survey(year)
    assert s.n == RESPONDENTS[year]
    assert len(s.responses) == len(raw_body(year)) == RESPONDENTS[year]


@pytest.mark.parametrize("year", YEARS)
def test_respondent_ids_unique_and_in_file_order(year: int) -> None:
    s = survey(year)
    ids = s.responses["respondent_id"]
    raw_ids = [r[LAYOUT[year]["id_pos"]].strip() for r in raw_body(year)]
    assert ids.tolist() == raw_ids
    assert ids.is_unique
    assert ids.str.fullmatch(r"\d+").all()  # no header or title text leaked into the data


# --------------------------------------------------------------------------- 2. question tables


@pytest.mark.parametrize("year", YEARS)
def test_question_table_has_one_row_per_raw_column(year: int) -> None:
    s = survey(year)
    q = s.questions
    width = len(raw_header(year)[0]) - PADDING[(year, "responses")][1]
    assert list(q.columns) == [
        "column", "position", "qid", "question", "kind", "row", "option", "code"
    ]  # fmt: skip
    assert q["position"].tolist() == list(range(width))
    assert q["column"].is_unique
    assert list(s.responses.columns) == q["column"].tolist()
    assert set(q["kind"]) <= KINDS
    assert (q["kind"] == "meta").sum() == LAYOUT[year]["n_meta"]
    assert (q.loc[q["kind"] != "meta", "qid"] != "").all()
    assert set(s.answers["column"]) <= set(q.loc[q["kind"].isin(["single", "matrix"]), "column"])


def test_question_lookup_is_case_insensitive_and_rejects_unknown_ids() -> None:
    s = survey(2024)
    assert s.question("Q12")["column"].tolist() == s.question("q12")["column"].tolist()
    with pytest.raises(CodebookError, match=r"no question 'q99'"):
        s.question("q99")


def test_2024_q12_single_choice_one_column_per_option() -> None:
    s = survey(2024)
    q = s.question("q12")
    opt_row = raw_header(2024)[2]
    assert q["kind"].tolist() == ["single"] * 5
    assert q["option"].tolist() == [clean_label(opt_row[p]) for p in q["position"]]
    assert q["option"].tolist() == [
        "Don't know or not sure",
        "Yes, and it is formally structured with dedicated person-hours, reporting structure"
        " and / or job titles",
        "Yes, and it is informally structured, part time, and / or virtual",
        "No, but we are planning one",
        "No",
    ]
    assert q["code"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    # the data carries the codes 1-4; nobody ticked "Don't know", whose 0 is the model's
    seen = {
        c: set(raw_column(2024, p)) - {""} for c, p in zip(q["column"], q["position"], strict=True)
    }
    assert seen == {"q12_1": set(), "q12_2": {"1"}, "q12_3": {"2"}, "q12_4": {"3"}, "q12_5": {"4"}}
    assert reference_model(2024)["12"]["0"] == "Don't know or not sure"
    checks = s.label_checks.set_index("column")
    assert pd.isna(checks.loc["q12_1", "data_code"])
    assert checks.loc["q12_1", "model_code"] == "0"
    # single choice: nobody has two of its columns
    assert s.responses[q["column"]].notna().sum(axis=1).max() == 1


def test_2022_q6_single_value_coded_answers_from_reference_model() -> None:
    s = survey(2022)
    q = s.question("Q6")
    assert q[["column", "kind"]].values.tolist() == [["Q6", "single"]]
    model = {k: v for k, v in reference_model(2022)["6"].items() if k != "text"}
    assert answers_of(s, "Q6") == [(float(k), clean_label(v)) for k, v in model.items()]
    assert [c for c, _ in answers_of(s, "Q6")] == [1.0, 2.0, 3.0, 4.0]
    assert answers_of(s, "Q6")[3] == (4.0, "No")
    raw = raw_counts(2022, "Q6")
    assert set(raw) == {"1", "2", "3", "4"}
    assert s.responses["Q6"].value_counts().to_dict() == dict(raw)


def test_2022_q1_multiple_choice_with_q1_0() -> None:
    s = survey(2022)
    q = s.question("Q1")
    codes_row = raw_header(2022)[0]
    assert q["column"].tolist() == [f"Q1_{k}" for k in range(7)]
    assert q["column"].tolist() == [codes_row[p] for p in q["position"]]
    assert set(q["kind"]) == {"multiple"}
    assert q["option"].iloc[0] == "Don't know or not applicable"
    assert q["option"].iloc[6] == "Not involved in open source"
    # Q1_1..Q1_5 carry their own numbers as codes in the data
    for k in range(1, 6):
        assert set(raw_column(2022, q["position"].iloc[k])) - {""} == {str(k)}
        assert q["code"].iloc[k] == k
    # nobody ticked Q1_0 or Q1_6: their codes come from the reference model (7 and 6)
    assert set(raw_column(2022, q["position"].iloc[0])) == {""}
    assert q["code"].iloc[0] == float(
        next(k for k, v in reference_model(2022)["1"].items() if v.startswith("Don't know"))
    )
    assert q["code"].iloc[0] == 7.0
    assert (s.responses[q["column"]].notna().sum(axis=1) > 1).any()  # several ticks allowed


@pytest.mark.parametrize("year", [2018, 2019, 2020, 2021])
def test_two_row_q1_journey_is_multiple_choice(year: int) -> None:
    s = survey(year)
    q = s.question("Q1")
    opt_row = raw_header(year)[1]
    options = [clean_label(opt_row[p]) for p in q["position"]]
    assert set(q["kind"]) == {"multiple"}
    assert q["option"].tolist() == options
    assert options[0] == "Consuming open source code in products or services"
    assert options[-1] == "Don't know"
    assert q["code"].tolist() == [float(k) for k in range(1, len(options) + 1)]
    assert (
        q["question"]
        .iloc[0]
        .startswith("Where is your company or organization on its open source journey?")
    )
    # a ticked cell repeats the option label; an empty one is a blank
    for col, pos, opt in zip(q["column"], q["position"], options, strict=True):
        assert {clean_label(v) for v in raw_column(year, pos) if v.strip()} == {opt}
        assert s.responses[col].dropna().eq(opt).all()


def test_2018_q2_org_size_labels_in_questionnaire_order() -> None:
    s = survey(2018)
    q = s.question("Q2")
    assert q[["column", "kind"]].values.tolist() == [["Q2", "single"]]
    labels = [lab for _, lab in answers_of(s, "Q2")]
    # questions.md order; the export writes the '10,000+' band as 'Greater than 10,000'
    assert labels == [
        "Self-employed or not working",
        "2-50",
        "51-250",
        "251-1,000",
        "1,000-10,000",
        "Greater than 10,000",
        "Don't know",
    ]
    assert [c for c, _ in answers_of(s, "Q2")] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert set(clean_label(v) for v in raw_counts(2018, "Q2")) == set(labels)


@pytest.mark.parametrize(("year", "qid"), [(2019, "Q5"), (2020, "Q6"), (2021, "Q6")])
def test_ospo_question_yes_planning_no(year: int, qid: str) -> None:
    s = survey(year)
    q = s.question(qid)
    assert q[["column", "kind"]].values.tolist() == [[qid, "single"]]
    assert q["question"].iloc[0].startswith("Does your company have an open source program")
    assert answers_of(s, qid) == [(1.0, "Yes"), (2.0, "No, but planning one"), (3.0, "No")]
    assert s.responses[qid].value_counts().to_dict() == dict(raw_counts(year, qid))


def test_2021_q3_matrix_rows() -> None:
    s = survey(2021)
    q = s.question("Q3")
    opt_row = raw_header(2021)[1]
    assert set(q["kind"]) == {"matrix"}
    assert q["row"].tolist() == [clean_label(opt_row[p]) for p in q["position"]]
    assert q["row"].tolist() == [
        "Contribute code upstream",
        "Use open source code for noncommercial or internal reasons",
        "Use open source code in commercial products",
        "Recruit and hire developers to work on open source projects",
        "Train developers to contribute to open source projects",
        "Create its own open source projects",
        "Attend and speak at open source events or conferences",
    ]
    scale = ["Never", "Rarely", "Sometimes", "Frequently", "Don't know"]
    for col in q["column"]:
        assert answers_of(s, col) == [(float(i), lab) for i, lab in enumerate(scale, 1)]
        assert set(raw_counts(2021, col)) <= set(scale)


def test_2023_q9_single_one_hot() -> None:
    s = survey(2023)
    q = s.question("q9")
    assert q["column"].tolist() == ["q9_1", "q9_2", "q9_3", "q9_4"]
    assert set(q["kind"]) == {"single"}
    assert q["option"].tolist()[2:] == ["No, but we are planning one", "No"]
    assert q["option"].iloc[0].startswith("Yes, and it is formally structured")
    assert q["code"].tolist() == [1.0, 2.0, 3.0, 4.0]
    for pos, code in zip(q["position"], q["code"], strict=True):
        assert set(raw_column(2023, pos)) - {""} == {str(int(code))}
    assert s.responses[q["column"]].notna().sum(axis=1).max() == 1


def test_2023_q8_one_hot_matrix_split_on_dash() -> None:
    s = survey(2023)
    q = s.question("q8")
    opt_row = raw_header(2023)[2]
    cells = q[q["kind"] == "matrix"]
    assert len(cells) == 18 and (q["kind"] == "text").sum() == 1
    for row in cells.itertuples():
        raw_row, _, raw_answer = opt_row[row.position].rpartition(" - ")
        assert (row.row, row.option) == (clean_label(raw_row), clean_label(raw_answer))
    assert cells["option"].tolist()[:3] == ["Yes", "No", "Don't know or not sure"]
    assert cells["row"].iloc[0] == "Use of open source code in products (dependencies)"
    assert cells["row"].nunique() == 6
    assert cells["code"].tolist() == [1.0, 2.0, 3.0] * 6
    for row in cells.itertuples():
        assert set(raw_column(2023, row.position)) <= {"", str(int(row.code))}


def test_2024_matrix_rows_one_hot() -> None:
    s = survey(2024)
    q = s.question("q7")
    opt_row = raw_header(2024)[2]
    assert len(q) == 42 and set(q["kind"]) == {"matrix"}
    assert q["row"].unique().tolist()[0] == "Contribute code upstream"
    assert q["row"].nunique() == 7
    scale = ["Never", "Rarely", "Sometimes", "Frequently", "Very frequently"]
    assert q["option"].tolist() == (scale + ["Don't know or not sure"]) * 7
    assert q["code"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] * 7
    for row in q.itertuples():
        assert f"{row.row} - {row.option}" == clean_label(opt_row[row.position])
        assert set(raw_column(2024, row.position)) <= {"", str(int(row.code))}
    # one answer per row and respondent
    for _, cols in q.groupby("row")["column"]:
        assert s.responses[cols.tolist()].notna().sum(axis=1).max() <= 1


@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_one_hot_codes_are_the_values_in_the_data(year: int) -> None:
    """Every one-hot column's code is the single value its cells hold (when anyone ticked it)."""
    s = survey(year)
    hot = s.questions[
        s.questions["kind"].isin(["single", "multiple", "matrix"])
        & ~s.questions["column"].isin(s.answers["column"])
    ]
    assert len(hot) > 0
    for row in hot.itertuples():
        values = set(raw_column(year, row.position)) - {""}
        if values:
            assert values == {str(int(row.code))}, row.column


def test_2024_one_hot_matrix_code_filled_from_its_other_rows() -> None:
    """A matrix option nobody chose takes the code its option carries in the other rows."""
    s = survey(2024)
    col = s.questions.set_index("column").loc["q22_8"]
    assert set(raw_column(2024, int(col["position"]))) == {""}  # nobody chose it
    assert (col["row"], col["option"], col["code"]) == (
        "Develop guidelines and policies for contributing to open source projects",
        "Very ineffective",
        2.0,
    )
    # the reference model lists q44's rows (and a 'Don't know' row coded 0), not its scale
    q44 = s.question("q44")
    assert set(q44.loc[q44["option"] == "Don't know or not sure", "code"]) == {6.0}


def test_2024_q19_is_single_choice_as_in_the_reference_model() -> None:
    s = survey(2024)
    q = s.question("q19")
    assert "(select one)" not in q["question"].iloc[0]
    assert clean_label(reference_model(2024)["19"]["text"]).endswith("(select one)")
    assert set(q["kind"]) == {"single"}
    assert s.responses[q["column"]].notna().sum(axis=1).max() == 1


# --------------------------------------------------------------------------- 3. traps


@pytest.mark.parametrize(
    ("year", "role", "first"),
    [
        (2020, "responses", "Respondent ID"),
        (2021, "responses", "Serial #"),
        (2022, "responses", "Sequence #"),
        (2024, "responses_text", "Respondent ID"),
    ],
)
def test_bom_is_not_part_of_the_first_header(year: int, role: str, first: str) -> None:
    data = raw_file(year, role).read_bytes()
    assert data.startswith(BOM)
    s = survey(year, role if role != "responses" else None)
    assert s.questions["question"].iloc[0] == first
    assert s.questions["column"].iloc[0] in {"respondent_id", "serial", "sequence"}
    for text in s.questions["question"].tolist() + s.questions["column"].tolist():
        assert "\ufeff" not in text


@pytest.mark.parametrize(("year", "role"), [(2018, "responses"), (2019, "responses"),
                                            (2023, "responses"), (2024, "responses")])  # fmt: skip
def test_files_without_bom(year: int, role: str) -> None:
    assert not raw_file(year, role).read_bytes().startswith(BOM)


def test_bom_added_to_a_file_without_one_is_tolerated(tmp_path: Path) -> None:
    copy = tmp_path / "results.csv"
    copy.write_bytes(BOM + raw_file(2018).read_bytes())
    s = read_raw(2018, path=copy)
    assert s.questions["question"].iloc[0] == "Respondent ID"
    assert s.responses["respondent_id"].tolist() == survey(2018).responses["respondent_id"].tolist()


@pytest.mark.parametrize(
    ("year", "column", "raw", "clean"),
    [
        (2018, "Q1_4", "Initiating\u00a0or releasing", "Initiating or releasing open source"),
        (2018, "Q1_6", "Don\u2019t know", "Don't know"),
        (2020, "Q1_4", "Initiating\u00a0or releasing", "Initiating or releasing open source"),
        (2020, "Q1_7", "Don\u2019t know", "Don't know"),
        (2022, "Q31_4", "Haven\u2019t considered it", "Haven't considered it"),
        (2023, "q6_1", "\u201cEnd user\u201d organization", '"End user" organization that'),
    ],
)
def test_typography_normalised_in_option_labels(
    year: int, column: str, raw: str, clean: str
) -> None:
    s = survey(year)
    pos = position_of(s, column)
    raw_label = raw_header(year)[-1][pos]
    assert raw in raw_label  # the trap is really in the file ...
    assert raw.encode() in raw_file(year).read_bytes()
    option = s.questions.set_index("column").loc[column, "option"]
    assert option.startswith(clean)  # ... and gone from the label
    assert option == raw_label.replace("\u00a0", " ").replace("\u2019", "'").replace(
        "\u201c", '"'
    ).replace("\u201d", '"')


def test_typography_normalised_in_2018_answer_labels_and_values() -> None:
    s = survey(2018)
    raw = raw_counts(2018, "Q2")
    assert raw["Greater than\u00a010,000"] > 0  # non-breaking space in the raw answer
    assert s.responses["Q2"].eq("Greater than 10,000").sum() == raw["Greater than\u00a010,000"]


@pytest.mark.parametrize("year", YEARS)
def test_no_typographic_characters_left_in_labels(year: int) -> None:
    s = survey(year)
    labels = [
        *s.questions["question"].dropna(),
        *s.questions["row"].dropna(),
        *s.questions["option"].dropna(),
        *s.answers["label"],
    ]
    assert labels
    for label in labels:
        assert not set(label) & set(TYPOGRAPHY), label
        assert label == label.strip() and "  " not in label, label
    coded = s.questions.loc[~s.questions["kind"].isin(["meta", "text"]), "column"]
    for col in coded:
        values = s.responses[col].dropna()
        assert not values.map(lambda v: bool(set(v) & set(TYPOGRAPHY))).any(), col


def test_2019_title_row_is_skipped() -> None:
    with open(raw_file(2019), encoding="utf-8", newline="") as fh:
        first = next(csv.reader(fh))
    assert first == ["OS_Program_Enterprise_2019_Data_PII_removed"]
    s = survey(2019)
    assert s.questions["question"].iloc[0] == "Respondent ID"
    assert s.questions["question"].iloc[1] == "Completed"
    assert "OS_Program_Enterprise_2019_Data_PII_removed" not in set(s.questions["question"])
    assert s.responses["respondent_id"].iloc[0] == "10846877427"


@pytest.mark.parametrize("year", [2018, 2019])
def test_question_text_over_first_column_only_gives_right_group_sizes(year: int) -> None:
    s = survey(year)
    top = raw_header(year)[0]
    width = len(top) - PADDING[(year, "responses")][1]
    sizes: list[int] = []
    texts: list[str] = []
    for pos in range(LAYOUT[year]["n_meta"], width):
        if top[pos].strip():
            sizes.append(1)
            texts.append(clean_label(top[pos]))
        else:
            sizes[-1] += 1
    found = groups(s)
    assert [len(p) for _, p in found] == sizes
    assert [s.questions["question"].iloc[p[0]] for _, p in found] == texts
    got = dict((qid, len(p)) for qid, p in found)
    if year == 2018:
        assert (got["Q1"], got["Q2"], got["Q3"], got["Q4"], got["Q6"]) == (6, 1, 7, 5, 11)
    assert sum(1 for cell in top[LAYOUT[year]["n_meta"] : width] if not cell.strip()) > 100


def test_2020_repeated_question_text_gives_right_group_sizes() -> None:
    s = survey(2020)
    top = raw_header(2020)[0]
    width = len(top) - PADDING[(2020, "responses")][1]
    cells = [clean_label(c) for c in top[LAYOUT[2020]["n_meta"] : width]]
    assert all(cells)  # every column repeats its question's text
    runs = [len(list(g)) for _, g in itertools.groupby(cells)]
    found = groups(s)
    assert [len(p) for _, p in found] == runs
    assert dict((q, len(p)) for q, p in found)["Q1"] == 7


def test_2021_prefixes_are_stripped_and_give_the_question_ids() -> None:
    s = survey(2021)
    top = raw_header(2021)[0]
    prefix = re.compile(r"^Q(\d+) (\d\d)\u2014")
    non_meta = s.questions[s.questions["kind"] != "meta"]
    for row in non_meta.itertuples():
        m = prefix.match(top[row.position])
        assert m, row.position
        assert not row.question.startswith("Q")
        assert clean_label(top[row.position][m.end() :]).startswith(row.question[:30])
        if row.position != 100:
            assert row.qid == f"Q{int(m.group(1))}", row.position


def test_2021_q21_second_column_mislabelled_q20() -> None:
    s = survey(2021)
    top = raw_header(2021)[0]
    assert top[99].startswith("Q21 01\u2014")
    assert top[100].startswith("Q20 02\u2014")
    q21 = s.question("Q21")
    assert q21["position"].tolist() == [99, 100]
    assert q21["column"].tolist() == ["Q21_1", "Q21_2"]
    assert set(q21["kind"]) == {"text"}
    assert s.question("Q20")["position"].tolist() == [98]
    assert s.responses["Q21_2"].dropna().tolist() == [
        v.strip() for v in raw_column(2021, 100) if v.strip()
    ]


@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_three_header_rows(year: int) -> None:
    s = survey(year)
    codes, top, opt = raw_header(year)
    assert s.responses["respondent_id"].iloc[0] == raw_body(year)[0][LAYOUT[year]["id_pos"]]
    qid_fix = {"q1i9": "q19"}
    for qid, positions in groups(s):
        first = positions[0]
        assert qid_fix.get(codes[first], codes[first]).split("_")[0] == qid
        rows = s.question(qid)
        assert set(rows["question"]) == {clean_label(top[first])}
        for p in positions[1:]:
            assert not top[p].strip()  # the question text sits over the first column only
    for row in s.questions[s.questions["kind"].isin(["single", "multiple", "text"])].itertuples():
        if pd.notna(row.option):
            assert row.option == clean_label(opt[row.position])


def test_2022_every_column_has_its_own_code() -> None:
    s = survey(2022)
    codes = raw_header(2022)[0]
    non_meta = s.questions[s.questions["kind"] != "meta"]
    sizes = non_meta["qid"].value_counts()
    for row in non_meta.itertuples():
        code = codes[row.position]
        assert code.startswith(row.qid)
        # a bare 'Q10' next to 'Q10_other' becomes the key 'Q10_1'
        expected = f"{code}_1" if code == row.qid and sizes[row.qid] > 1 else code
        assert row.column == expected
    assert {"Q10_1", "Q10_other", "Q1_0", "Q6", "Q30_0"} <= set(non_meta["column"])


@pytest.mark.parametrize("year", [2023, 2024])
def test_code_only_on_a_groups_first_column(year: int) -> None:
    s = survey(year)
    codes = raw_header(year)[0]
    found = groups(s)
    assert sum(1 for c in codes if c.strip()) == len(found)
    for qid, positions in found:
        assert codes[positions[0]].strip() != ""
        assert all(not codes[p].strip() for p in positions[1:]), qid
        assert s.question(qid)["position"].tolist() == positions
    if year == 2024:
        assert [len(p) for q, p in found if q in {"q1", "q12", "q7"}] == [7, 42, 5]


def test_2023_typo_q1i9_read_as_q19() -> None:
    s = survey(2023)
    codes = raw_header(2023)[0]
    assert "q1i9" in codes and "q19" not in codes
    pos = codes.index("q1i9")
    row = s.questions.set_index("position").loc[pos]
    assert (row["qid"], row["column"], row["kind"]) == ("q19", "q19", "text")
    assert "q1i9" not in set(s.questions["qid"])
    assert s.questions["qid"].tolist().index("q19") > s.questions["qid"].tolist().index("q18")


@pytest.mark.parametrize(("year", "role"), sorted(PADDING))
def test_padding_counted_and_dropped(year: int, role: str) -> None:
    rows, cols = PADDING[(year, role)]
    body = list(raw_rows(year, role)[LAYOUT[year]["header"] :])
    trailing = 0
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
        trailing += 1
    assert trailing == rows
    width = len(raw_rows(year, role)[0])
    empty_cols = 0
    while not any(r[width - 1 - empty_cols].strip() for r in raw_rows(year, role)):
        empty_cols += 1
    assert empty_cols == cols
    s = survey(year, None if role == "responses" else role)
    assert s.padding == {"empty_rows": rows, "empty_columns": cols}
    assert len(s.questions) == width - cols
    assert s.n == RESPONDENTS[year]


def _excel(serial: str) -> datetime:
    return datetime(1899, 12, 30) + timedelta(days=float(serial))


def test_2018_excel_serial_dates_parsed() -> None:
    s = survey(2018)
    first = s.responses.iloc[0]
    assert raw_body(2018)[0][:3] == ("10103000748", "43290.53487", "43290.54118")
    assert first["respondent_id"] == "10103000748"
    assert first["start_date"] == pd.Timestamp("2018-07-09 12:50:13")
    assert abs(first["end_date"] - pd.Timestamp("2018-07-09 12:59:18")) <= pd.Timedelta("1s")
    assert pd.api.types.is_datetime64_any_dtype(s.responses["start_date"])


@pytest.mark.parametrize(("year", "start", "end"), [(2018, 1, 2), (2021, 4, 5)])
def test_excel_serial_dates_match_for_every_respondent(year: int, start: int, end: int) -> None:
    s = survey(year)
    for col, pos in (("start_date", start), ("end_date", end)):
        expected = pd.Series([_excel(r[pos]) for r in raw_body(year)], dtype="datetime64[ns]")
        got = s.responses[col].astype("datetime64[ns]")
        assert ((got - expected).abs() <= pd.Timedelta("1s")).all(), col
    assert s.responses["start_date"].dt.year.eq(year).all()
    assert (s.responses["end_date"] >= s.responses["start_date"]).all()


def test_2021_known_respondent_date() -> None:
    s = survey(2021)
    row = s.responses.set_index("respondent_id").loc["127357079"]
    assert raw_body(2021)[0][2:6] == ("127357079", "TNS", "44361.86819", "44361.87534")
    assert row["start_date"] == pd.Timestamp("2021-06-14 20:50:12")
    assert row["end_date"] == pd.Timestamp("2021-06-14 21:00:29")


@pytest.mark.parametrize(
    ("column", "serial", "label", "count"),
    [("Q34", "43475", "1-10", 619), ("Q35", "43470", "1-5", 541), ("Q35", "43626", "6-10", 141)],
)
def test_2019_excel_serials_restored_to_ranges(
    column: str, serial: str, label: str, count: int
) -> None:
    s = survey(2019)
    raw = raw_counts(2019, column)
    assert raw[serial] == count
    assert label not in raw  # the export has no correct copy of that range at all
    assert s.responses[column].eq(label).sum() == count
    assert not s.responses[column].eq(serial).any()
    assert label in [lab for _, lab in answers_of(s, column)]


def test_2019_no_excel_serial_left_in_any_coded_column() -> None:
    s = survey(2019)
    coded = s.questions.loc[s.questions["kind"].isin(["single", "matrix"]), "column"]
    for col in coded:
        assert not s.responses[col].dropna().str.fullmatch(r"4\d{4}").any(), col


def test_2022_reference_model_dates_restored() -> None:
    s = survey(2022)
    model = reference_model(2022)
    assert model["9"]["3"] == "4-Feb" and model["43"]["3"] == "Nov-50"
    assert model["9"]["4"] == "9-May" and model["51"]["4"] == "5-Mar"
    q9 = dict(answers_of(s, "Q9"))
    assert (q9[3.0], q9[4.0]) == ("2-4", "5-9")
    assert dict(answers_of(s, "Q43"))[4.0] == "11-50"
    assert dict(answers_of(s, "Q51"))[4.0] == "3-5"


@pytest.mark.parametrize("year", YEARS)
def test_no_date_like_answer_labels(year: int) -> None:
    s = survey(year)
    month = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    pattern = re.compile(rf"^(\d+-{month}|{month}-\d+)$")
    labels = list(s.answers["label"]) + list(s.questions["option"].dropna())
    assert not [lab for lab in labels if pattern.match(lab)]


def test_2020_us_dates_parsed() -> None:
    s = survey(2020)
    by_id = s.responses.set_index("respondent_id")
    raw = {r[0]: r[1:3] for r in raw_body(2020)}
    cases = {
        "11676764933": ("06/08/2020 10:36:30 AM", "2020-06-08 10:36:30"),
        "11569993922": ("05/05/2020 05:47:11 PM", "2020-05-05 17:47:11"),
        "11682874337": ("06/10/2020 12:50:10 AM", "2020-06-10 00:50:10"),
        "11677650700": ("06/08/2020 12:28:57 PM", "2020-06-08 12:28:57"),
    }
    for rid, (text, stamp) in cases.items():
        assert raw[rid][0] == text
        assert by_id.loc[rid, "start_date"] == pd.Timestamp(stamp)
    expected = pd.to_datetime([r[1] for r in raw_body(2020)], format="%m/%d/%Y %I:%M:%S %p")
    assert (s.responses["start_date"].to_numpy() == expected.to_numpy()).all()


def test_2022_minutes_kept_as_text_it_is_duration_modulo_an_hour() -> None:
    s = survey(2022)
    minutes = s.responses["minutes_field"]
    assert minutes.tolist() == [r[1] for r in raw_body(2022)]
    assert minutes.str.fullmatch(r"\d\d:\d\d").all()
    secs = minutes.str[:2].astype(int) * 60 + minutes.str[3:].astype(int)
    duration = (s.responses["end_date"] - s.responses["start_date"]).dt.total_seconds()
    # Excel dropped the hours: the field is the real duration modulo one hour
    assert ((duration - secs) % 3600 == 0).all()
    assert (duration > 3600).sum() > 50


@pytest.mark.parametrize("qid", ["Q10", "Q13", "Q24", "Q48"])
def test_2022_other_coded_zero(qid: str) -> None:
    s = survey(2022)
    column = f"{qid}_1"
    assert s.question(qid)["column"].tolist() == [column, f"{qid}_other"]
    assert "0" not in reference_model(2022)[qid[1:]]
    assert dict(answers_of(s, column))[0.0] == "Other (please specify)"
    raw = raw_counts(2022, column)
    assert raw["0"] > 0
    other = [str(int(c)) for c, lab in answers_of(s, column) if lab == "Other (please specify)"]
    assert s.labels()[column].eq("Other (please specify)").sum() == sum(raw[c] for c in other)


@pytest.mark.parametrize("column", ["Q49_0", "Q50_0"])
def test_2022_dont_know_coded_zero_shows_in_label_checks(column: str) -> None:
    s = survey(2022)
    assert set(raw_column(2022, position_of(s, column))) - {""} == {"0"}
    check = s.label_checks.set_index("column").loc[column]
    assert check["option"] == "Don't know or not applicable"
    assert (check["data_code"], check["model_code"]) == ("0", "6")
    assert not check["agree"] and check["in_model"]
    assert s.questions.set_index("column").loc[column, "code"] == 0.0


def test_2022_q51_one_dont_know_option_labelled_as_the_model_labels_it() -> None:
    """The data stores the model's answer 6 ("don't know") as 0: one option, the model's label
    and place, every code-0 answer (239 raw, 227 in the publisher's sample)."""
    s = survey(2022)
    raw = raw_counts(2022, "Q51")
    model = {code: clean_label(text) for code, text in reference_model(2022)["51"].items()}
    assert "6" not in raw and "0" not in model  # the model's code went unused, the data's is new
    options = answers_of(s, "Q51")
    dont_know = [(c, lab) for c, lab in options if label_key(lab).startswith("don t know")]
    assert dont_know == [(0.0, model["6"])] and options[-1] == (0.0, model["6"])
    labels = s.labels()["Q51"]
    assert labels.eq(model["6"]).sum() == raw["0"] == 239
    # '0', '1', '2' are both labels and codes here: code 1 means the answer '0', and so on
    assert labels.eq("0").sum() == raw["1"]
    assert labels.eq("1").sum() == raw["2"]
    assert labels.eq("2").sum() == raw["3"]
    publisher = year_data(2022).flags["publisher_sample"].to_numpy()
    cells = raw_column(2022, position_of(s, "Q51"))
    assert sum(p and c.strip() == "0" for p, c in zip(publisher, cells, strict=True)) == 227
    assert year_data(2022).answers.loc[publisher, "Q51"].eq(model["6"]).sum() == 227


@pytest.mark.parametrize("year", YEARS)
def test_no_option_exists_only_because_a_model_code_went_unused(year: int) -> None:
    """Every decoded question's options come from its answers, or from the publisher's
    reference model. Where a model answer went unchosen, every code the cells hold that the
    model lacks must decode to one of the model's answers: else that code is the unchosen answer
    under another number, and the model's code made a second option of it (2022 Q51)."""
    s = survey(year)
    has_model = "reference_model" in {e.role for e in fetch.entries(year)}
    model = reference_model(year) if has_model else {}
    labels = s.labels()
    for qid, group in s.answers.groupby("qid", sort=False):
        columns = list(dict.fromkeys(group["column"]))
        chosen = {label_key(v) for c in columns for v in labels[c].dropna().unique()}
        unchosen = [lab for lab in dict.fromkeys(group["label"]) if label_key(lab) not in chosen]
        if not unchosen:
            continue
        listed = {c: t for c, t in model.get(qid.lstrip("Qq"), {}).items() if c.isdigit()}
        assert listed, f"{year} {qid}: {unchosen} nobody chose, and no reference model lists them"
        model_keys = {label_key(clean_label(t)) for t in listed.values()}
        for column in columns:
            decoded = {str(int(c)): lab for c, lab in answers_of(s, column)}
            for code in set(raw_counts(year, column)) - set(listed):
                assert label_key(decoded[code]) in model_keys, (year, column, code, unchosen)


def test_2022_q31_suffixes_are_not_codes() -> None:
    s = survey(2022)
    q = s.question("Q31").set_index("column")
    assert q.loc["Q31_1", "option"] == "I don't know"
    assert set(raw_column(2022, int(q.loc["Q31_1", "position"]))) - {""} == {"0"}
    assert set(raw_column(2022, int(q.loc["Q31_3", "position"]))) - {""} == {"2"}
    assert (q.loc["Q31_1", "code"], q.loc["Q31_3", "code"]) == (0.0, 2.0)
    check = s.label_checks.set_index("column").loc["Q31_1"]
    assert (check["data_code"], check["model_code"], check["agree"]) == ("0", "9", False)
    disagree = set(s.label_checks.loc[~s.label_checks["agree"], "column"])
    assert disagree == {"Q31_1", "Q49_0", "Q50_0"}


def test_2024_matrix_dont_know_coded_six_but_single_choice_zero() -> None:
    s = survey(2024)
    q = s.questions
    dk = q[(q["option"] == "Don't know or not sure")]
    matrix_dk = dk[dk["kind"] == "matrix"]
    assert len(matrix_dk) > 50
    values = set()
    for pos in matrix_dk["position"]:
        values |= set(raw_column(2024, pos)) - {""}
    assert values == {"6"}
    assert set(matrix_dk["code"].dropna()) == {6.0}
    # no code only where no respondent chose "Don't know" in any row of that question
    for qid in matrix_dk.loc[matrix_dk["code"].isna(), "qid"]:
        cols = matrix_dk.loc[matrix_dk["qid"] == qid, "position"]
        assert all(set(raw_column(2024, p)) == {""} for p in cols), qid
    assert set(dk.loc[dk["kind"] == "single", "code"]) == {0.0}
    assert s.label_checks["agree"].all()


def test_2021_truncated_band_restored() -> None:
    s = survey(2021)
    raw = raw_counts(2021, "Q2")
    assert raw["2-5"] > 0 and "2-50" not in raw
    assert s.responses["Q2"].eq("2-50").sum() == raw["2-5"]
    assert "2-5" not in [lab for _, lab in answers_of(s, "Q2")]


# --------------------------------------------------------------------------- 4. 2024 exports


def test_2024_text_export_has_the_numeric_exports_header() -> None:
    assert raw_header(2024, "responses_text") == raw_header(2024, "responses")


def test_2024_exports_same_respondents_same_order() -> None:
    num, txt = survey(2024), survey(2024, "responses_text")
    assert txt.n == num.n == 222
    assert txt.responses["respondent_id"].tolist() == num.responses["respondent_id"].tolist()
    raw_txt = [r[0] for r in raw_body(2024, "responses_text")]
    assert raw_txt == [r[0] for r in raw_body(2024)]


def test_2024_exports_agree_cell_by_cell() -> None:
    """Numeric holds codes, Text the option label; text and meta columns are identical."""
    num = survey(2024)
    body_n, body_t = raw_body(2024), raw_body(2024, "responses_text")
    compared = Counter()
    for row in num.questions.itertuples():
        for i, (a, b) in enumerate(zip(body_n, body_t, strict=True)):
            cell_n, cell_t = a[row.position], b[row.position]
            where = f"{row.column} respondent {i + 1}"
            if row.kind in ("meta", "text"):
                assert cell_n == cell_t, where
            else:
                assert bool(cell_n.strip()) == bool(cell_t.strip()), where
                if cell_t.strip():
                    assert clean_label(cell_t) == row.option, where
                    assert cell_n == str(int(row.code)), where
            compared[row.kind] += 1
    assert set(compared) == {"meta", "text", "single", "multiple", "matrix"}
    assert sum(compared.values()) == 222 * 1071


def test_2024_text_export_reads_to_the_same_tables() -> None:
    num, txt = survey(2024), survey(2024, "responses_text")
    cols = ["column", "position", "qid", "question", "kind", "row", "option"]
    assert txt.questions[cols].fillna("").equals(num.questions[cols].fillna(""))
    hot = num.questions["kind"].isin(["single", "multiple"])
    assert txt.questions.loc[hot, "code"].equals(num.questions.loc[hot, "code"])
    decoded = num.labels()
    for col in num.questions["column"]:
        assert (
            decoded[col]
            .fillna("<NA>")
            .astype(str)
            .equals(txt.responses[col].fillna("<NA>").astype(str))
        ), col


# --------------------------------------------------------------------------- 5. labels()


def test_labels_2022_q6_counts_match_codes() -> None:
    s = survey(2022)
    code_counts = s.responses["Q6"].value_counts()
    by_code = dict(answers_of(s, "Q6"))
    expected = {by_code[float(c)]: n for c, n in code_counts.items()}
    assert s.labels()["Q6"].value_counts().to_dict() == expected
    assert s.labels()["Q6"].isna().sum() == s.responses["Q6"].isna().sum()


def test_labels_2022_q9_code_one_is_not_the_label_one() -> None:
    s = survey(2022)
    raw = raw_counts(2022, "Q9")
    labels = s.labels()["Q9"]
    assert labels.eq("0 (no dedicated staff yet)").sum() == raw["1"]
    assert labels.eq("1").sum() == raw["2"]


def test_labels_2018_q5_yes_count_equals_raw() -> None:
    s = survey(2018)
    raw = raw_counts(2018, "Q5")
    assert raw["Yes"] == 280
    decoded = s.labels()["Q5"]
    assert decoded.eq("Yes").sum() == raw["Yes"]
    assert decoded.value_counts().to_dict() == dict(raw)


@pytest.mark.parametrize("year", YEARS)
def test_labels_decode_every_coded_cell(year: int) -> None:
    s = survey(year)
    decoded = s.labels()
    assert list(decoded.columns) == list(s.responses.columns)
    q = s.questions.set_index("column")
    for col in s.responses.columns:
        present = s.responses[col].notna()
        assert decoded[col].notna().equals(present), col
        kind = q.loc[col, "kind"]
        if col in set(s.answers["column"]):
            assert set(decoded[col].dropna()) <= set(s.answers.loc[s.answers["column"] == col,
                                                                   "label"]), col  # fmt: skip
        elif kind in ("single", "multiple", "matrix"):
            assert decoded[col].dropna().eq(q.loc[col, "option"]).all(), col
        else:
            assert decoded[col].equals(s.responses[col]), col


# --------------------------------------------------------------------------- 6. bad input


@pytest.mark.parametrize(("year", "fraction"), [(2018, 0.5), (2022, 0.73), (2024, 0.9)])
def test_truncated_file_names_file_and_row(tmp_path: Path, year: int, fraction: float) -> None:
    data = raw_file(year).read_bytes()
    cut = data[: int(len(data) * fraction)]
    assert not cut.endswith(b"\n")
    copy = write_bytes(tmp_path / "cut.csv", cut)
    records = list(csv.reader(io.StringIO(cut.decode("utf-8-sig"), newline="")))
    with pytest.raises(RawFormatError) as err:
        read_raw(year, path=copy)
    msg = str(err.value)
    assert str(copy) in msg and "\n" not in msg
    assert f"row {len(records)} has {len(records[-1])} fields" in msg


def test_file_cut_at_a_line_end_fails_on_the_respondent_count(tmp_path: Path) -> None:
    data = raw_file(2022).read_bytes()
    cut = data[: data.rfind(b"\r\n", 0, len(data) // 2) + 2]
    copy = write_bytes(tmp_path / "cut.csv", cut)
    n = len(list(csv.reader(io.StringIO(cut.decode("utf-8-sig"), newline="")))) - 3
    with pytest.raises(RawFormatError, match=rf"{n} respondent rows, expected 1048"):
        read_raw(2022, path=copy)


def test_renamed_question_header_names_the_column(tmp_path: Path) -> None:
    rows = full_rows(2018)
    assert rows[0][10] == "How many people work for your company or organization?"
    rows[0][10] = "How many staff?"
    with pytest.raises(RawFormatError, match=r"column 11 asks 'How many staff\?'.*Q2") as err:
        read_raw(2018, path=write_rows(tmp_path / "r.csv", rows))
    assert "r.csv" in str(err.value)


def test_renamed_meta_header_names_the_column(tmp_path: Path) -> None:
    rows = full_rows(2021)
    rows[1][2] = "Respondent"
    with pytest.raises(RawFormatError, match=r"column 3 is headed 'Respondent'"):
        read_raw(2021, path=write_rows(tmp_path / "r.csv", rows, bom=True))


def test_changed_question_code_names_the_column(tmp_path: Path) -> None:
    rows = full_rows(2022)
    assert rows[0][31] == "Q6"
    rows[0][31] = "X6"
    with pytest.raises(RawFormatError, match=r"column 32 has code 'X6'"):
        read_raw(2022, path=write_rows(tmp_path / "r.csv", rows, bom=True))


def test_duplicated_question_code_is_rejected(tmp_path: Path) -> None:
    rows = full_rows(2024)
    rows[0][182] = "q12"  # q19 relabelled as a second q12
    with pytest.raises(RawFormatError, match=r"question q12 appears twice"):
        read_raw(2024, path=write_rows(tmp_path / "r.csv", rows))


@pytest.mark.parametrize(
    ("year", "position", "message"),
    [
        (2018, 10, r"column 11 asks 'How often does your company do the following"),
        (2019, 10, r"column 11 asks 'How often does your company do the following"),
        (2021, 40, r"column 101 is headed 'Q22 00"),
    ],
)
def test_deleted_column_names_the_column(
    tmp_path: Path, year: int, position: int, message: str
) -> None:
    rows = [r[:position] + r[position + 1 :] if len(r) > 1 else r for r in full_rows(year)]
    with pytest.raises(RawFormatError, match=message):
        read_raw(year, path=write_rows(tmp_path / "r.csv", rows))


def test_deleted_option_column_is_noticed(tmp_path: Path) -> None:
    rows = [r[:153] + r[154:] for r in full_rows(2024)]  # q12_2
    with pytest.raises(RawFormatError, match="1070 columns .* the settings expect 1071"):
        read_raw(2024, path=write_rows(tmp_path / "r.csv", rows))


def test_unknown_code_names_column_and_row(tmp_path: Path) -> None:
    rows = full_rows(2022)
    rows[10][31] = "9"  # Q6, 8th respondent
    with pytest.raises(UnknownCodeError) as err:
        read_raw(2022, path=write_rows(tmp_path / "r.csv", rows, bom=True))
    msg = str(err.value)
    assert "column 'Q6' respondent row 8 has code '9'" in msg
    assert "r.csv" in msg and "\n" not in msg


def test_unknown_one_hot_code_names_column_and_row(tmp_path: Path) -> None:
    rows = full_rows(2024)
    assert rows[5][153] in ("", "1")
    rows[5][153] = "7"  # q12_2 holds '1' when ticked
    with pytest.raises(UnknownCodeError, match=r"column 'q12_2' respondent row 3 has code '7'"):
        read_raw(2024, path=write_rows(tmp_path / "r.csv", rows))


def test_header_only_file(tmp_path: Path) -> None:
    rows = full_rows(2022)[:2]
    with pytest.raises(RawFormatError, match=r"only 2 rows"):
        read_raw(2022, path=write_rows(tmp_path / "h.csv", rows))


def test_non_utf8_bytes(tmp_path: Path) -> None:
    text = raw_file(2022).read_bytes().decode("utf-8-sig")
    assert "\u2019" in text
    data = text.encode("cp1252")
    first = next(i for i, b in enumerate(data) if b > 0x7F)
    assert data[first : first + 1] == "\u2019".encode("cp1252")
    with pytest.raises(RawFormatError, match=rf"not UTF-8 text \(byte {first}\)") as err:
        read_raw(2022, path=write_bytes(tmp_path / "cp.csv", data))
    assert "cp.csv" in str(err.value)


def test_unexpected_trailing_empty_row(tmp_path: Path) -> None:
    rows = full_rows(2022) + [[""] * 321]
    with pytest.raises(RawFormatError, match=r"1 empty trailing rows, the settings expect 0"):
        read_raw(2022, path=write_rows(tmp_path / "r.csv", rows))


def test_empty_row_inside_the_data(tmp_path: Path) -> None:
    rows = full_rows(2021)
    rows.insert(10, [""] * len(rows[0]))
    with pytest.raises(RawFormatError, match=r"row 11 is empty inside the data"):
        read_raw(2021, path=write_rows(tmp_path / "r.csv", rows))


def test_duplicated_respondent_id(tmp_path: Path) -> None:
    rows = full_rows(2023)
    rows[8][0] = rows[7][0]
    with pytest.raises(RawFormatError, match=r"respondent row 6 has a missing or duplicated"):
        read_raw(2023, path=write_rows(tmp_path / "r.csv", rows))


def test_bad_date_names_column_and_row(tmp_path: Path) -> None:
    rows = full_rows(2020)
    rows[4][1] = "31/31/2020 10:00:00 AM"
    with pytest.raises(RawFormatError, match=r"column 'start_date' respondent row 3 has"):
        read_raw(2020, path=write_rows(tmp_path / "r.csv", rows))


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ospo_survey", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_questions_prints_the_question_table() -> None:
    proc = _cli("questions", "2022", "Q6")
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {(r["column"], r["qid"], r["kind"], r["position"]) for r in table} == {
        ("Q6", "Q6", "single", "31")
    }
    # a value-coded column lists every answer on its list, with the code the cells hold
    assert [r["option"] for r in table][-1] == "No"
    assert [float(r["code"]) for r in table] == [1.0, 2.0, 3.0, 4.0]
