"""Harmonised dataset, screening funnels, processed outputs and the frequency contract.

Expected values are the publisher's printed figures (README of each year) or counts taken
independently from the raw CSV with the csv module.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pandas as pd
import pytest

import ospo_survey
from ospo_survey.core.errors import CodebookError
from ospo_survey.ingest import answers as A
from ospo_survey.ingest import fetch
from ospo_survey.ingest.dataset import year_data
from ospo_survey.ingest.harmonize import definitions, harmonize_year, output_columns
from ospo_survey.ingest.labels import label_key as _key
from ospo_survey.ingest.read import read_raw
from ospo_survey.ingest.settings import available_years, year_settings
from ospo_survey.processing.build import build

YEARS = available_years()


def _raw_rows(year: int) -> list[list[str]]:
    path = fetch.raw_path(year)
    title = year_settings(year)["read"].get("title_rows", 0)
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))[title:]


# --------------------------------------------------------------------------- publisher figures


@pytest.mark.data
def test_2024_ospo_counts_match_the_publisher():
    h = ospo_survey.load_harmonized([2024], sample="publisher")
    assert len(h) == 222
    assert h["has_ospo"].value_counts().to_dict() == {"has": 100, "planning": 26, "none": 96}


@pytest.mark.data
def test_2024_large_vs_small_adoption_matches_readme():
    """README: '77% of large organizations have an OSPO, while only 19% of small'."""
    f = ospo_survey.frequencies(2024, "q12", by="q4")
    has = f[f["option"].str.startswith("Yes")].groupby("group")[["n"]].sum()
    base = f.groupby("group")["base"].first()
    large = has.loc[["10,000 to 19,999", "20,000 or more"], "n"].sum() / base.loc[
        ["10,000 to 19,999", "20,000 or more"]
    ].sum()
    small = has.loc[["1 to 10", "11 to 49"], "n"].sum() / base.loc[["1 to 10", "11 to 49"]].sum()
    assert round(100 * large) == 77
    assert round(100 * small) == 19


@pytest.mark.data
def test_2024_funnel_keeps_every_published_row():
    f = ospo_survey.funnel([2024])
    pub = f[f["screen"] == "publisher"]
    assert pub["rows_out"].iloc[-1] == 222
    assert (pub["rows_out"] == pub["rows_in"] - pub["removed"]).all()


@pytest.mark.data
def test_funnel_arithmetic_holds_for_every_year():
    f = ospo_survey.funnel()
    assert (f["rows_out"] == f["rows_in"] - f["removed"]).all()
    for (year, screen), g in f.groupby(["year", "screen"]):
        g = g.sort_values("order")
        assert (g["rows_in"].iloc[1:].to_numpy() == g["rows_out"].iloc[:-1].to_numpy()).all()
        final = year_data(year).harmonized[f"{screen}_sample"].sum()
        assert g["rows_out"].iloc[-1] == final, (year, screen)


# --------------------------------------------------------------------------- harmonised = raw


def _map_counts(year: int, var: str, spec: dict, survey) -> dict[str, int]:
    """Recount a recoded variable straight from the decoded raw answers and the codebook map."""
    if "column" in spec:
        raw = survey.responses[spec["column"]].astype(object)
    else:
        raw = A.single(survey, spec["from"]).astype(object)
    keyed = {_key(str(k)): v for k, v in spec["map"].items()}
    counts: dict[str, int] = {}
    for value, n in raw.value_counts().items():
        level = keyed[_key(str(value))]
        if level is not None:
            counts[level] = counts.get(level, 0) + int(n)
    return counts


@pytest.mark.data
@pytest.mark.parametrize("year", YEARS)
def test_harmonised_distributions_equal_the_raw_ones(year):
    """No respondent lost or double-counted: every recode re-derived from the raw answers."""
    survey = read_raw(year)  # the raw export (year_data may read the processed tables)
    h = harmonize_year(survey)
    specs = year_settings(year).get("harmonize", {})
    checked = 0
    for var, spec in specs.items():
        vdef = definitions()[var]
        if set(spec) == {"note"}:
            for col in output_columns(var):
                assert h[col].isna().all()
            continue
        if vdef["type"] == "categorical" and "map" in spec:
            got = {k: int(v) for k, v in h[var].value_counts().items() if v}
            assert got == _map_counts(year, var, spec, survey), var
            checked += 1
        elif vdef["type"] == "categorical" and "cases" in spec:
            first = spec["cases"][0]
            if not first["when"]:  # a constant (e.g. channel "unknown" with no collector data)
                assert (h[var] == first["value"]).all(), var
                checked += 1
                continue
            # every respondent who answered the first question of the cases gets a level
            first_q = next(iter(first["when"]))
            answered = A.single(survey, first_q).notna()
            assert h.loc[answered, var].notna().sum() >= answered.sum() - 0, var
            assert h.loc[~answered, var].isna().all(), var
            checked += 1
        elif vdef["type"] == "multi":
            frame = A.multiple(survey, spec["from"])
            for opt, raw in spec["options"].items():
                raws = raw if isinstance(raw, list) else [raw]
                cols = [c for c in frame.columns if _key(c) in {_key(r) for r in raws}]
                expected = int(frame[cols].fillna(False).any(axis=1).sum())
                assert int(h[f"{var}_{opt}"].fillna(False).sum()) == expected, (var, opt)
            answered = frame.notna().all(axis=1)
            assert h.loc[~answered, output_columns(var)].isna().all().all()
            checked += 1
        elif vdef["type"] == "matrix":
            frame = A.matrix(survey, spec["from"])
            keyed = {_key(str(k)): v for k, v in spec["map"].items()}
            for row, raw_row in spec["rows"].items():
                hit = next(c for c in frame.columns if _key(c) == _key(raw_row))
                expected: dict[str, int] = {}
                for value, n in frame[hit].value_counts().items():
                    level = keyed[_key(str(value))]
                    if level is not None and n:
                        expected[level] = expected.get(level, 0) + int(n)
                got = {k: int(v) for k, v in h[f"{var}_{row}"].value_counts().items() if v}
                assert got == expected, (var, row)
            checked += 1
    # every variable the year harmonises was recounted (or is a note that it was not asked)
    assert specs and checked == sum(set(spec) != {"note"} for spec in specs.values())


@pytest.mark.data
def test_derived_variables_follow_their_source():
    h = ospo_survey.load_harmonized([2024], sample="all")
    has = h["ospo_status"].isin(["has (formal)", "has (informal)", "has (formality unknown)"])
    assert (h.loc[has, "has_ospo"] == "has").all()
    assert h.loc[h["org_size"] == "over 10,000", "size3"].eq("large").all()
    assert h["has_ospo"].dtype.categories.tolist() == ["has", "planning", "none"]
    assert h["org_size"].dtype.ordered


@pytest.mark.data
def test_dont_know_is_a_level_not_dropped():
    h = ospo_survey.load_harmonized([2024], sample="all")
    assert "don't know" in h["ospo_status"].dtype.categories
    assert (h["org_size"] == "don't know").sum() == 2  # two 2024 respondents did not know


# --------------------------------------------------------------------------- frequencies


@pytest.mark.data
def test_freq_cli_matches_a_hand_count(tmp_path):
    rows = _raw_rows(2024)
    codes, body = rows[0], rows[3:]
    start = codes.index("q12")
    counts = {k: sum(1 for r in body if r[start + k].strip()) for k in range(5)}
    out = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "freq", "2024", "Q12"],
        capture_output=True, text=True, check=True,
    ).stdout
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["year", "question", "row", "option", "n", "base", "pct"]
    assert table["n"].tolist() == [counts[k] for k in range(5)]
    assert (table["base"] == 222).all()
    assert table["pct"].iloc[4] == pytest.approx(100 * counts[4] / 222, rel=1e-12)


@pytest.mark.data
def test_freq_multiple_choice_base_is_who_ticked_something():
    rows = _raw_rows(2018)
    top = rows[0]
    start = next(i for i, t in enumerate(top) if t.startswith("Where is your company"))
    body = rows[2:]
    ticked_any = sum(1 for r in body if any(c.strip() for c in r[start : start + 6]))
    consume = sum(1 for r in body if r[start].strip())
    f = ospo_survey.frequencies(2018, "q1")
    first = f.iloc[0]
    assert first["option"] == "Consuming open source code in products or services"
    assert first["n"] == consume
    assert (f["base"] == ticked_any).all()


@pytest.mark.data
def test_freq_matrix_rows_and_dont_know_included():
    f = ospo_survey.frequencies(2021, "Q3")
    row = f[f["row"] == "Contribute code upstream"]
    assert row["option"].tolist() == ["Never", "Rarely", "Sometimes", "Frequently", "Don't know"]
    assert row["n"].sum() == row["base"].iloc[0]


@pytest.mark.data
def test_freq_by_group_blocks_add_up():
    whole = ospo_survey.frequencies(2024, "q12")
    by = ospo_survey.frequencies(2024, "q12", by="has_ospo")
    assert "group" in by.columns
    assert by.groupby("option", sort=False)["n"].sum().tolist() == whole["n"].tolist()


@pytest.mark.data
def test_freq_unknown_question_is_one_line_error():
    with pytest.raises(CodebookError, match="no question 'Q999'"):
        ospo_survey.frequencies(2024, "Q999")
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "freq", "2024", "Q999"],
        capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- processed outputs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    paths = build(out_dir=out)
    return out, paths


@pytest.mark.data
def test_build_writes_every_table(built):
    out, paths = built
    names = {p.relative_to(out).as_posix() for p in paths}
    for y in YEARS:
        assert f"{y}/answers.parquet" in names and f"{y}/harmonized.parquet" in names
    for name in ("harmonized.parquet", "codebook.parquet", "funnel.parquet", "questions.parquet"):
        assert name in names
    stacked = pd.read_parquet(out / "harmonized.parquet")
    assert sorted(stacked["year"].unique()) == YEARS
    assert stacked["row_id"].is_unique
    assert isinstance(stacked["ospo_status"].dtype, pd.CategoricalDtype)


@pytest.mark.data
def test_build_is_byte_identical(built, tmp_path):
    out, paths = built
    again = build(out_dir=tmp_path)
    for a, b in zip(paths, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.data
def test_processed_outputs_hold_nothing_identifying(built):
    out, _ = built
    a21 = pd.read_parquet(out / "2021" / "answers.parquet")
    raw_2021 = read_raw(2021)  # the raw export, with its IP addresses and free text
    raw = raw_2021.responses
    assert raw["ip_address"].notna().sum() > 50
    for banned in ("respondent_id", "collector_id", "ip_address", "start_date", "end_date"):
        assert banned not in a21.columns
    text = " ".join(map(str, a21.to_numpy().ravel().tolist()))
    for ip in raw["ip_address"].dropna().head(50):
        assert ip not in text
    free_text = raw_2021.questions.query("kind == 'text'")["column"]
    assert len(free_text) > 0
    for col in free_text:
        assert col not in a21.columns and f"{col}_wrote" in a21.columns


@pytest.mark.data
def test_load_returns_the_publisher_sample_decoded():
    df = ospo_survey.load(2022)
    assert len(df) == int(year_data(2022).harmonized["publisher_sample"].sum())
    assert df["row_id"].is_monotonic_increasing
    assert set(df["Q6"].dropna().unique()) <= set(A.options(year_data(2022).survey, "Q6"))


def test_codebook_table_lists_every_year_and_variable():
    cb = ospo_survey.codebook()
    assert set(cb["year"]) == set(YEARS)
    assert set(cb["variable"]) == set(definitions())
    assert cb.set_index(["year", "variable"]).at[(2024, "ospo_status"), "source"] == "q12"
