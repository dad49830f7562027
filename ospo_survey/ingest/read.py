"""Read one year's raw survey export into respondents, a question table and an answer table.

There is one reader per *header layout*, not per year:

* ``two_row`` (2018-2021): a question row and an option row; answers are stored as text.
* ``three_row`` (2022-2024): a code row (``Q6``, ``q12``), a question row and an option row;
  answers are stored as numeric codes, either one column per option ("one-hot", the code is
  the cell value) or one column per question or matrix row holding the code.

Everything that differs by year (title rows, padding, meta columns, question ids, Excel damage,
code exceptions) comes from the ``read:`` section of the year's codebook.

The result keeps every answer column. The question table has one row per column: ``column``
(stable key), ``position`` (0-based in the raw file), ``qid`` (publisher's id), ``question``,
``kind`` (meta / single / multiple / matrix / numeric / text), ``row`` (matrix row label),
``option`` (the column's option label) and ``code`` (the numeric code the column carries).
The answer table lists, for columns that hold a code or a label per respondent (value-coded
single choice and matrix rows), each answer ``code`` and ``label``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import CodebookError, OspoSurveyError, RawFormatError, UnknownCodeError
from ospo_survey.core.paths import SOURCE_ENV, raw_reads_forbidden
from ospo_survey.ingest import fetch
from ospo_survey.ingest.labels import clean_label, label_key
from ospo_survey.ingest.settings import read_settings

QUESTION_COLUMNS = ["column", "position", "qid", "question", "kind", "row", "option", "code"]
ANSWER_COLUMNS = ["column", "qid", "code", "label"]

_VALUE_HEADER = re.compile(r"^(Response\d*|Multiple choice response)$", re.IGNORECASE)
_TEXT_HEADER = re.compile(
    r"^(Recoded_or_edited-)?(Other\b.*\(please (specify|explain)\)\d*|Other entity \(please"
    r" specify\)|.*Open-Ended.*|Example \d+|Nomination \d+|Recode)$",
    re.IGNORECASE,
)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


@dataclass
class RawSurvey:
    """One year's raw export, parsed but not screened or harmonised."""

    year: int
    source: Path
    responses: pd.DataFrame
    questions: pd.DataFrame
    answers: pd.DataFrame
    label_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    padding: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.responses)

    def question(self, qid: str) -> pd.DataFrame:
        """The question-table rows of one publisher question (id case-insensitive)."""
        positions = self._question_rows().get(str(qid).lower())
        if positions is None:
            raise CodebookError(f"{self.year}: no question {qid!r} in {self.source.name}")
        return self.questions.iloc[positions]

    def _question_rows(self) -> dict[str, list[int]]:
        """Row positions of each question id (lower case), computed once: pages ask for
        questions hundreds of times."""
        cached = self.__dict__.get("_qrows")
        if cached is None or cached[0] is not self.questions:
            keys = self.questions["qid"].str.lower().tolist()
            index: dict[str, list[int]] = {}
            for pos, key in enumerate(keys):
                index.setdefault(key, []).append(pos)
            cached = (self.questions, index)
            self.__dict__["_qrows"] = cached
        return cached[1]

    def question_options(self, qid: str) -> pd.DataFrame:
        """The question's rows with ``option`` and ``code`` filled for every answer: a column
        that holds a code per respondent (value-coded single choice, matrix rows) becomes one
        row per answer on its list; one-hot columns already name their option and code."""
        rows = self.question(qid)
        listed = self.answers[self.answers["column"].isin(rows["column"])]
        if listed.empty:
            return rows
        parts = []
        for spec in rows.to_dict("records"):
            answers = listed[listed["column"] == spec["column"]]
            if answers.empty:
                parts.append(pd.DataFrame([spec]))
                continue
            many = pd.DataFrame([spec] * len(answers))
            many["option"] = answers["label"].to_numpy()
            many["code"] = answers["code"].to_numpy(dtype=float)
            parts.append(many)
        return pd.concat(parts, ignore_index=True)[QUESTION_COLUMNS]

    def labels(self) -> pd.DataFrame:
        """Respondents with every answer decoded to its label (one-hot cells -> option label)."""
        out: dict[str, pd.Series] = {}
        answers = self.answers.groupby("column", sort=False)
        lookup = {
            col: {_code_text(k): v for k, v in zip(g["code"], g["label"], strict=True)}
            for col, g in answers
        }
        # 2022+ exports hold codes, older ones labels; a label may look like a code ('1', 2022 Q9)
        coded = all(set(self.responses[c].dropna()) <= set(m) for c, m in lookup.items())
        for spec in self.questions.itertuples(index=False):
            col = self.responses[spec.column]
            if spec.column in lookup:
                mapping = lookup[spec.column]
                out[spec.column] = col.map(mapping if coded else {v: v for v in mapping.values()})
            elif spec.kind in ("multiple", "single", "matrix") and spec.option:
                out[spec.column] = col.where(col.isna(), spec.option)
            else:
                out[spec.column] = col
        return pd.DataFrame(out, index=self.responses.index)


@dataclass
class ProcessedSurvey(RawSurvey):
    """A year rebuilt from ``data/processed``: the same questions and answer codes, decoded labels
    for every respondent, and free text reduced to whether something was written."""

    stored_labels: pd.DataFrame = field(default_factory=pd.DataFrame)

    WROTE = "(wrote an answer)"  # stands in for free text, which is never stored

    @classmethod
    def from_tables(
        cls, year: int, source: Path, answers: pd.DataFrame, questions: pd.DataFrame,
        codes: pd.DataFrame,
    ) -> ProcessedSurvey:
        # every column as Python objects (None missing), in one object block: a Series per
        # column cost more than the conversion (2024 has a thousand columns)
        cols: dict[str, np.ndarray] = {}
        for spec in questions.itertuples(index=False):
            col = spec.column
            if spec.kind == "text" and f"{col}_wrote" in answers.columns:
                wrote = answers[f"{col}_wrote"].to_numpy(dtype=bool)
                cols[col] = np.where(wrote, cls.WROTE, None)
            elif col in answers.columns:
                cols[col] = answers[col].to_numpy(dtype=object, na_value=None)
        if not answers.index.equals(pd.RangeIndex(len(answers))):
            raise ValueError("the answers table's rows must be numbered 0..n-1")
        block = np.empty((len(answers), len(cols)), dtype=object)
        for j, values in enumerate(cols.values()):
            block[:, j] = values
        labels = pd.DataFrame(block, columns=list(cols), index=pd.RangeIndex(len(answers)),
                              dtype=object)
        # the reader's dtypes (pandas' str, NaN for missing), not Parquet's nullable string
        questions = questions.astype({"row": "str", "option": "str"})
        return cls(year, source, labels, questions, codes, stored_labels=labels)

    def labels(self) -> pd.DataFrame:
        return self.stored_labels


def _code_text(code: Any) -> str:
    """Codes are compared as the text the CSV holds ('3', not 3.0)."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


# --------------------------------------------------------------------------- CSV


def _read_rows(path: Path, title_rows: int) -> list[list[str]]:
    """All CSV rows as strings (BOM tolerated), every row checked to have the same width."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fetch_missing(path) from None
    if not raw.strip():
        raise RawFormatError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RawFormatError(
            f"{path}: not UTF-8 text (byte {exc.start}); the raw exports are UTF-8 —"
            " re-fetch the file with `ospo-survey fetch --force`"
        ) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RawFormatError(f"{path}: malformed CSV ({exc})") from None
    rows = rows[title_rows:]
    if len(rows) < 3:
        raise RawFormatError(f"{path}: only {len(rows)} rows after the title; expected headers")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            line = i + title_rows + 1
            raise RawFormatError(
                f"{path}: row {line} has {len(row)} fields, the header has {width}"
                " (truncated or damaged file? re-fetch with `ospo-survey fetch --force`)"
            )
    return rows


def fetch_missing(path: Path) -> OspoSurveyError:
    from ospo_survey.core.errors import MissingFileError

    return MissingFileError(f"{path} is missing: run `make data` (or `ospo-survey fetch`)")


def _strip_padding(
    path: Path, header_rows: list[list[str]], body: list[list[str]], settings: dict[str, Any]
) -> tuple[list[list[str]], list[list[str]], dict[str, int]]:
    """Drop empty trailing rows and columns, checking the counts the settings promise."""
    n_rows = 0
    while body and not any(cell.strip() for cell in body[-1]):
        body = body[:-1]
        n_rows += 1
    width = len(header_rows[0])
    n_cols = 0
    while width > 0 and not any(r[width - 1].strip() for r in header_rows + body):
        width -= 1
        n_cols += 1
    header_rows = [r[:width] for r in header_rows]
    body = [r[:width] for r in body]
    expected_rows = int(settings.get("trailing_empty_rows", 0))
    expected_cols = int(settings.get("trailing_empty_columns", 0))
    if n_rows != expected_rows:
        raise RawFormatError(
            f"{path}: {n_rows} empty trailing rows, the settings expect {expected_rows}"
        )
    if n_cols != expected_cols:
        raise RawFormatError(
            f"{path}: {n_cols} empty trailing columns, the settings expect {expected_cols}"
        )
    for i, row in enumerate(body):
        if not any(cell.strip() for cell in row):
            line = i + len(header_rows) + int(settings.get("title_rows", 0)) + 1
            raise RawFormatError(f"{path}: row {line} is empty inside the data")
    return header_rows, body, {"empty_rows": n_rows, "empty_columns": n_cols}


# --------------------------------------------------------------------------- meta columns


def _meta_specs(path: Path, headers: list[str], settings: dict[str, Any]) -> list[dict[str, Any]]:
    metas = settings.get("meta", [])
    specs = []
    for pos, meta in enumerate(metas):
        found = clean_label(headers[pos]) if pos < len(headers) else ""
        if label_key(found) != label_key(meta["header"]):
            raise RawFormatError(
                f"{path}: column {pos + 1} is headed {found!r}, expected {meta['header']!r}"
                " (the header does not match this year's settings)"
            )
        specs.append(
            {
                "column": meta["name"],
                "position": pos,
                "qid": "",
                "question": meta["header"],
                "kind": "meta",
                "row": None,
                "option": None,
                "code": np.nan,
            }
        )
    return specs


def _parse_datetimes(values: pd.Series, fmt: str, path: Path, column: str) -> pd.Series:
    present = values.notna()
    if fmt == "excel_serial":
        nums = pd.to_numeric(values, errors="coerce")
        bad = present & nums.isna()
        out = _EXCEL_EPOCH + pd.to_timedelta(nums.round(6), unit="D")
        out = out.dt.round("s")
    else:
        out = pd.to_datetime(values, format=fmt, errors="coerce")
        bad = present & out.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise RawFormatError(
            f"{path}: column {column!r} respondent row {row + 1} has {values[bad].iloc[0]!r},"
            f" not a date in format {fmt!r}"
        )
    return out


# --------------------------------------------------------------------------- two-row layout


def _two_row_specs(
    path: Path, top: list[str], opt: list[str], body: np.ndarray, settings: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n_meta = len(settings.get("meta", []))
    grouping = settings["grouping"]
    fixes = {int(f["position"]): f for f in settings.get("header_fixes", [])}
    prefix_re = re.compile(settings.get("prefix_pattern", r"^Q(\d+) (\d+)\W(.*)$"))
    declared = [(q[0], clean_label(q[1])) for q in settings.get("questions", [])]

    # 1. split the columns into question groups
    groups: list[tuple[str, str, list[int]]] = []  # (qid, question text, positions)
    prev_text = None
    for pos in range(n_meta, len(top)):
        head = clean_label(top[pos])
        if pos in fixes:
            fix = fixes[pos]
            if label_key(fix["expect"]) != label_key(head[: len(fix["expect"])]):
                raise RawFormatError(
                    f"{path}: column {pos + 1} is headed {head[:40]!r}, the settings expect a"
                    f" header starting {fix['expect']!r}"
                )
            head = fix["replace"] + head[len(fix["expect"]) :]
        if grouping == "prefix":
            m = prefix_re.match(head)
            if not m:
                raise RawFormatError(
                    f"{path}: column {pos + 1} header {head[:40]!r} lacks the 'Qn 0k' prefix"
                )
            qid, text = f"Q{int(m.group(1))}", clean_label(m.group(3))
            if groups and groups[-1][0] == qid:
                groups[-1][2].append(pos)
            else:
                groups.append((qid, text, [pos]))
            continue
        starts = bool(head) and (grouping == "first_text" or head != prev_text)
        if head:
            prev_text = head
        if starts:
            groups.append(("", head, [pos]))
        elif groups:
            groups[-1][2].append(pos)
        else:
            raise RawFormatError(f"{path}: column {pos + 1} has no question header")

    # 2. check them against the declared question list (order and text; the first mismatch
    #    names its column, so a deleted or renamed question is reported where it happens)
    named = []
    for (qid, text, positions), (want_id, want_text) in zip(groups, declared, strict=False):
        if label_key(text)[: len(label_key(want_text))] != label_key(want_text):
            raise RawFormatError(
                f"{path}: column {positions[0] + 1} asks {text[:50]!r}, the settings expect"
                f" {want_id} {want_text[:50]!r} there"
            )
        if qid and qid != want_id:
            raise RawFormatError(
                f"{path}: column {positions[0] + 1} is numbered {qid}, settings say {want_id}"
            )
        named.append((want_id, text, positions))
    if len(groups) != len(declared):
        raise RawFormatError(
            f"{path}: found {len(groups)} questions in the header, the settings declare"
            f" {len(declared)} (the header does not match this year's settings)"
        )

    # 3. undo declared Excel damage, then classify every column
    for qid, positions in ((q, p) for q, _, p in named):
        _fix_values(body, positions, settings.get("value_fixes", {}).get(qid))
    specs: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    orders = {**_questionnaire_orders(settings), **settings.get("answer_order", {})}
    max_distinct = int(settings.get("max_answer_labels", 25))
    for qid, text, positions in named:
        kinds = []
        for pos in positions:
            label = clean_label(opt[pos])
            label_core = re.sub(r"^Recoded_or_edited-", "", label)
            values = pd.unique(body[:, pos][pd.notna(body[:, pos])])
            distinct = {clean_label(v) for v in values}
            if _VALUE_HEADER.match(label) or label_key(label) == label_key(text):
                kind = "value"
            elif _TEXT_HEADER.match(label) or not label:
                kind = "text"
            elif distinct and {label_key(v) for v in distinct} <= {
                label_key(label_core),
                label_key(re.sub(r"\d+$", "", label_core)),  # 2019 numbers its option labels
            }:
                kind = "multiple"
                label_core = re.sub(r"\d+$", "", label_core) if label_key(
                    re.sub(r"\d+$", "", label_core)
                ) in {label_key(v) for v in distinct} else label_core
            elif len(distinct) <= max_distinct:
                kind = "matrix"
            else:
                kind = "text"
            if kind == "matrix" and len(positions) == 1:
                kind = "value"  # a lone column holding labels is a single-choice answer
            if kind == "value":
                kind = "single" if len(distinct) <= max_distinct else "text"
            kinds.append((pos, kind, label_core, distinct))
        option_no = 0
        value_cols = [k for k in kinds if k[1] in ("single", "matrix")]
        for pos, kind, label, distinct in kinds:
            suffix = "" if len(positions) == 1 else f"_{positions.index(pos) + 1}"
            column = f"{qid}{suffix}"
            spec = {
                "column": column,
                "position": pos,
                "qid": qid,
                "question": text,
                "kind": kind,
                "row": label if kind == "matrix" else None,
                "option": label if kind in ("multiple", "text") else None,
                "code": np.nan,
            }
            if kind == "multiple":
                option_no += 1
                spec["code"] = float(option_no)
            specs.append(spec)
            if kind in ("single", "matrix"):
                pooled = set().union(*(k[3] for k in value_cols)) if kind == "matrix" else distinct
                for code, lab in enumerate(_ordered(pooled, orders.get(qid)), start=1):
                    answers.append(
                        {"column": column, "qid": qid, "code": float(code), "label": lab}
                    )
    return specs, answers


def _questionnaire_orders(settings: dict[str, Any]) -> dict[str, list[str]]:
    """Answer order per question from the year's questions.md bullets, when it has them."""
    role = settings.get("questionnaire")
    if not role:
        return {}
    year = settings["_year"]
    text = fetch.raw_path(year, role).read_text(encoding="utf-8-sig")
    orders: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^\s*#*\s*(\d+)\.\s+", line)
        if m:
            current = f"Q{int(m.group(1))}"
            orders[current] = []
            continue
        b = re.match(r"^\s*[*-]\s+(.*)$", line)
        if current and b:
            orders[current].append(clean_label(b.group(1)))
    return orders


def _fix_values(body: np.ndarray, positions: list[int], mapping: dict | None) -> None:
    """Replace damaged cells in place (e.g. Excel date serials standing for ranges)."""
    if not mapping:
        return
    fixes = {str(k): clean_label(v) for k, v in mapping.items()}
    for pos in positions:
        col = body[:, pos]
        body[:, pos] = np.array([fixes.get(v, v) if v is not None else None for v in col], object)


def _ordered(labels: Iterable[str], order: list[str] | None) -> list[str]:
    """Answer labels in the codebook's declared order, then any others alphabetically."""
    labels = set(labels)
    by_key = {label_key(x): x for x in labels}
    first: list[str] = []
    for x in order or []:
        hit = by_key.get(label_key(x))
        if hit is not None and hit not in first:
            first.append(hit)
    return first + sorted(labels - set(first))


# --------------------------------------------------------------------------- three-row layout


def _reference_model(year: int, settings: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Answer lists by question id from the publisher's survey reference model, if any."""
    ref = settings.get("reference_model")
    if not ref:
        return {}
    path = fetch.raw_path(year, ref["role"])
    rows = _read_rows(path, 0)
    header_at = next(
        (i for i, r in enumerate(rows) if "Q#" in r and "R#" in r), None
    )
    if header_at is None:
        raise RawFormatError(f"{path}: no header row with 'Q#' and 'R#'")
    head = rows[header_at]
    iq, ir = head.index("Q#"), head.index("R#")
    it = head.index("Questions and Responses")
    fixes = {str(k): str(v) for k, v in ref.get("label_fixes", {}).items()}
    fmt = ref.get("qid_format", "Q{n}")
    model: dict[str, dict[str, str]] = {}
    current = None
    for row in rows[header_at + 1 :]:
        q, r, text = row[iq].strip(), row[ir].strip(), clean_label(row[it])
        if q.isdigit():
            current = fmt.format(n=int(q))
            model[current] = {"__text__": text}
        elif current and r and text:
            model[current][r] = fixes.get(text, text)
    return model


def _three_row_specs(
    path: Path,
    codes: list[str],
    top: list[str],
    opt: list[str],
    body: np.ndarray,
    settings: dict[str, Any],
    model: dict[str, dict[str, str]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    n_meta = len(settings.get("meta", []))
    qid_fixes = {str(k): str(v) for k, v in settings.get("qid_fixes", {}).items()}
    extra_codes = settings.get("extra_codes", {})
    moved_codes = settings.get("moved_codes", {})
    code_re = re.compile(r"^([Qq]\d+)(?:_(.+))?$")
    single_re = re.compile(settings.get("single_pattern", r"\(select one\)"), re.IGNORECASE)
    matrix_re = re.compile(settings.get("matrix_pattern", r"per row"), re.IGNORECASE)
    kind_overrides = settings.get("kinds", {})
    overrides = settings.get("answer_lists", {})

    groups: list[dict[str, Any]] = []
    for pos in range(n_meta, len(codes)):
        raw_code = clean_label(codes[pos])
        raw_code = qid_fixes.get(raw_code, raw_code)
        if raw_code:
            m = code_re.match(raw_code)
            if not m:
                raise RawFormatError(
                    f"{path}: column {pos + 1} has code {raw_code!r}, not a question code like"
                    " 'Q6' or 'q12' (the header does not match this year's settings)"
                )
            qid = m.group(1)
            if not groups or groups[-1]["qid"] != qid:
                groups.append({"qid": qid, "text": clean_label(top[pos]), "cols": []})
            groups[-1]["cols"].append((pos, raw_code))
        elif groups:
            groups[-1]["cols"].append((pos, ""))
        else:
            raise RawFormatError(f"{path}: column {pos + 1} has no question code")
    seen: set[str] = set()
    for g in groups:
        if g["qid"] in seen:
            raise RawFormatError(f"{path}: question {g['qid']} appears twice in the code row")
        seen.add(g["qid"])

    specs: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for g in groups:
        qid, text = g["qid"], g["text"]
        ref = model.get(qid, {})
        ref_by_key = {label_key(v): k for k, v in ref.items() if k != "__text__"}
        forced = kind_overrides.get(qid)
        if forced:
            group_kind = forced
        elif matrix_re.search(text):
            group_kind = "matrix"
        elif single_re.search(text):
            group_kind = "single"
        else:
            group_kind = "multiple"
        for k, (pos, raw_code) in enumerate(g["cols"], start=1):
            label = clean_label(opt[pos])
            column = raw_code if raw_code and raw_code != qid else f"{qid}_{k}"
            if len(g["cols"]) == 1:
                column = qid
            values = body[:, pos]
            distinct = sorted({clean_label(v) for v in values[pd.notna(values)]})
            spec = {
                "column": column,
                "position": pos,
                "qid": qid,
                "question": text,
                "kind": group_kind,
                "row": None,
                "option": label,
                "code": np.nan,
            }
            coded = bool(distinct) and all(v.isdigit() for v in distinct)
            if (
                label == "Open-Ended Response"
                or _TEXT_HEADER.match(label)
                or (group_kind == "matrix" and " - " not in label and not coded)
            ):
                spec["kind"] = "text"
            elif label == "Response" or (group_kind == "matrix" and " - " not in label):
                # value-coded: the cell holds the answer code
                spec["kind"] = "matrix" if group_kind == "matrix" else "single"
                spec["row"] = label if spec["kind"] == "matrix" else None
                spec["option"] = None
                answer_list = _value_answers(
                    path, qid, text, ref, extra_codes.get(qid, {}), overrides.get(qid),
                    moved_codes.get(qid, {}),
                )
                for code, lab in answer_list.items():
                    answers.append(
                        {"column": column, "qid": qid, "code": float(code), "label": lab}
                    )
                unknown = [v for v in distinct if v not in {str(c) for c in answer_list}]
                if unknown:
                    _raise_unknown(path, column, body[:, pos], unknown[0], answer_list)
                _check_no_stray_model_answer(path, column, answer_list, ref, distinct)
            else:
                if spec["kind"] == "matrix":
                    row_label, _, answer = label.rpartition(" - ")
                    spec["row"], spec["option"] = row_label, answer
                if len(distinct) > 1:
                    _raise_unknown(path, column, values, distinct[1], {distinct[0]: label})
                data_code = distinct[0] if distinct else None
                if data_code is not None and label_key(data_code) == label_key(spec["option"]):
                    data_code = None  # a Text export: the cell holds the option label, no code
                ref_code = ref_by_key.get(label_key(spec["option"]))
                if spec["kind"] == "matrix":
                    ref_code = None  # the model lists a matrix's rows, not its scale
                code = data_code if data_code is not None else ref_code
                if code is not None:
                    try:
                        spec["code"] = float(code)
                    except ValueError:
                        raise UnknownCodeError(
                            f"{path}: column {column!r} holds {code!r}, expected a numeric code"
                        ) from None
                if ref and spec["kind"] != "matrix":
                    checks.append(
                        {
                            "column": column,
                            "qid": qid,
                            "option": spec["option"],
                            "data_code": data_code,
                            "model_code": ref_code,
                            "agree": data_code is None
                            or ref_code is None
                            or str(data_code) == str(ref_code),
                            "in_model": ref_code is not None,
                        }
                    )
            specs.append(spec)
        _fill_matrix_codes([s for s in specs if s["qid"] == qid])
    return specs, answers, checks


def _fill_matrix_codes(specs: list[dict[str, Any]]) -> None:
    """A one-hot matrix option nobody chose has no code in the data: use its other rows' code."""
    known: dict[str, set[float]] = {}
    for s in specs:
        if s["kind"] == "matrix" and s["option"] and not np.isnan(s["code"]):
            known.setdefault(label_key(s["option"]), set()).add(s["code"])
    for s in specs:
        codes = known.get(label_key(s["option"] or ""), set())
        if s["kind"] == "matrix" and np.isnan(s["code"]) and len(codes) == 1:
            s["code"] = next(iter(codes))


def _value_answers(
    path: Path,
    qid: str,
    text: str,
    ref: dict[str, str],
    extra: dict[Any, str],
    override: dict[Any, str] | None = None,
    moved: dict[Any, Any] | None = None,
) -> dict[int, str]:
    """The code->label list of a value-coded column: a [bracketed] scale or the model's list.

    ``moved`` (codebook ``moved_codes``) maps a code the data uses to the model's code of the
    same answer: the answer keeps the model's label and place, under the data's code.
    """
    if override:
        ordered = sorted(override.items(), key=lambda x: int(x[0]))
        return {int(k): clean_label(v) for k, v in ordered}
    bracket = re.search(r"\[([^\]]+)\]", text) or re.search(
        r"\[([^\]]+)\]", ref.get("__text__", "")
    )
    answers: dict[int, str] = {}
    if bracket:
        parts = [clean_label(p) for p in re.split(r",\s*(?![^()]*\))", bracket.group(1))]
        answers = {i: p for i, p in enumerate(parts, start=1)}
    elif ref:
        answers = {int(k): v for k, v in ref.items() if k.isdigit()}
    for k, v in extra.items():
        answers[int(k)] = clean_label(v)
    if not answers:
        raise CodebookError(
            f"{path}: question {qid} stores codes but neither the reference model nor the"
            " settings give its answer list"
        )
    ordered = dict(sorted(answers.items()))
    for data_code, model_code in (moved or {}).items():
        if int(model_code) not in ordered or int(data_code) in ordered:
            raise CodebookError(
                f"{path}: moved_codes {qid} {data_code}: {model_code} needs model code "
                f"{model_code} (codes: {sorted(ordered)}) and a data code the model lacks"
            )
        ordered = {(int(data_code) if k == int(model_code) else k): v for k, v in ordered.items()}
    return ordered


def _check_no_stray_model_answer(
    path: Path, column: str, answer_list: dict[int, str], ref: dict[str, str], used: list[str]
) -> None:
    """No option may exist only because the data stores a model answer under another code:
    a code the model lacks must carry one of the model's labels (``extra_codes`` naming it, or
    ``moved_codes``) while a model answer goes unchosen, else that code is probably it."""
    if not ref:
        return
    model = {int(k): v for k, v in ref.items() if k.isdigit()}
    model_keys = {label_key(v) for v in model.values()}
    used_codes = {int(v) for v in used}
    unexplained = sorted(
        c for c in used_codes - set(model) if label_key(answer_list[c]) not in model_keys
    )
    unchosen = [c for c in model if c in answer_list and c not in used_codes]
    if unexplained and unchosen:
        code, label = unchosen[-1], answer_list[unchosen[-1]]
        raise CodebookError(
            f"{path.name}: {column} uses code {unexplained[0]}, absent from the reference model, "
            f"and nobody chose the model's {code} {label!r}; if one answer, add read.moved_codes "
            f"{column.split('_')[0]}: {{{unexplained[0]}: {code}}}"
        )


def _raise_unknown(
    path: Path, column: str, values: np.ndarray, value: str, known: dict[Any, str]
) -> None:
    row = next(i for i, v in enumerate(values) if pd.notna(v) and clean_label(v) == value)
    raise UnknownCodeError(
        f"{path}: column {column!r} respondent row {row + 1} has code {value!r}, not one of"
        f" {sorted(str(k) for k in known)}"
    )


# --------------------------------------------------------------------------- entry point


def read_raw(year: int, *, role: str | None = None, path: Path | str | None = None) -> RawSurvey:
    """Parse one year's raw export (fetched under ``data/raw``) into a :class:`RawSurvey`.

    >>> survey = read_raw(2024)
    >>> survey.n
    222
    >>> survey.question("q12")[["option", "code"]].values.tolist()[3:]
    [['No, but we are planning one', 3.0], ['No', 4.0]]
    """
    if raw_reads_forbidden():
        raise RawFormatError(
            f"{year}: this run reads data/processed only ({SOURCE_ENV}=processed) but asked for "
            "the raw export; unset the variable, or add what it needs to `make processed`"
        )
    settings = {**read_settings(year), "_year": int(year)}
    role = role or settings.get("source", "responses")
    if path is None:
        path = fetch.raw_path(year, role)
    path = Path(path)
    if role != settings.get("source", "responses"):
        # another export of the same year: its own size and padding override the defaults
        settings.update(settings.get("exports", {}).get(role, {}))
    title_rows = int(settings.get("title_rows", 0))
    rows = _read_rows(path, title_rows)
    n_header = 3 if settings["layout"] == "three_row" else 2
    header_rows, body_rows, padding = _strip_padding(
        path, rows[:n_header], rows[n_header:], settings
    )
    body = np.empty((len(body_rows), len(header_rows[0])), dtype=object)
    body[:] = [[cell if cell.strip() else None for cell in row] for row in body_rows]
    option_row = header_rows[-1]
    meta_specs = _meta_specs(path, header_rows[1], settings)
    checks: list[dict[str, Any]] = []
    if settings["layout"] == "two_row":
        q_specs, answers = _two_row_specs(path, header_rows[0], option_row, body, settings)
    elif settings["layout"] == "three_row":
        model = _reference_model(year, settings)
        q_specs, answers, checks = _three_row_specs(
            path, header_rows[0], header_rows[1], option_row, body, settings, model
        )
    else:
        raise CodebookError(f"{year}: unknown layout {settings['layout']!r}")
    specs = meta_specs + q_specs
    # checked after the header parse, whose errors name the column; this catches the rest
    expected_cols = settings.get("columns")
    if expected_cols is not None and len(header_rows[0]) != int(expected_cols):
        raise RawFormatError(
            f"{path}: {len(header_rows[0])} columns (padding excluded), the settings expect"
            f" {expected_cols} (a column was added or deleted? re-fetch with"
            " `ospo-survey fetch --force`)"
        )
    questions = pd.DataFrame(specs, columns=QUESTION_COLUMNS)
    dupes = questions["column"][questions["column"].duplicated()]
    if not dupes.empty:
        raise CodebookError(f"{path}: two columns get the key {dupes.iloc[0]!r}")

    # after the header checks, so a damaged header is reported as such
    expected_n = settings.get("respondents")
    if expected_n is not None and len(body_rows) != int(expected_n):
        raise RawFormatError(
            f"{path}: {len(body_rows)} respondent rows, expected {expected_n}"
            " (truncated or damaged file? re-fetch with `ospo-survey fetch --force`)"
        )

    data = {}
    for spec in specs:
        col = pd.Series(body[:, spec["position"]], dtype=object)
        if spec["kind"] != "text" and spec["kind"] != "meta":
            col = col.map(clean_label, na_action="ignore")
        else:
            col = col.map(str.strip, na_action="ignore")
        data[spec["column"]] = col
    responses = pd.DataFrame(data)
    for meta in settings.get("meta", []):
        if meta.get("kind") == "datetime":
            responses[meta["name"]] = _parse_datetimes(
                responses[meta["name"]], settings["datetime_format"], path, meta["name"]
            )
    id_col = settings.get("id_column", "respondent_id")
    ids = responses[id_col]
    if ids.isna().any() or ids.duplicated().any():
        bad = ids[ids.isna() | ids.duplicated()].index[0]
        raise RawFormatError(
            f"{path}: respondent row {bad + 1} has a missing or duplicated {id_col}"
            f" ({ids.iloc[bad]!r})"
        )
    answers_df = pd.DataFrame(answers, columns=ANSWER_COLUMNS)
    _check_answers(path, responses, questions, answers_df)
    return RawSurvey(
        year=int(year),
        source=path,
        responses=responses,
        questions=questions,
        answers=answers_df,
        label_checks=pd.DataFrame(checks),
        padding=padding,
    )


def _check_answers(
    path: Path, responses: pd.DataFrame, questions: pd.DataFrame, answers: pd.DataFrame
) -> None:
    """Every value in a value-coded column must be one of its answers (fixes applied)."""
    for column, group in answers.groupby("column", sort=False):
        known = set(group["label"]) | {_code_text(c) for c in group["code"]}
        values = responses[column]
        bad = values.notna() & ~values.isin(known)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UnknownCodeError(
                f"{path}: column {column!r} respondent row {row + 1} has {values[bad].iloc[0]!r},"
                f" not one of its {len(group)} answers"
            )
