"""Bad input: every case gets one clear line from the CLI, a non-zero exit, and a specific
exception type from the Python API. The corrupted inputs are generated here from the real
files (never copies committed to the repository).

=============================== ======================= ===================================
case                            exception (API)          CLI line names
=============================== ======================= ===================================
truncated CSV (cut mid-row)     RawFormatError          file, row, "truncated"
wrong encoding (cp1252)         RawFormatError          file, byte, "not UTF-8"
empty file                      RawFormatError          file, "empty"
missing header row              RawFormatError          file, column / header
reordered header rows           RawFormatError          file, column
renamed column                  RawFormatError          file, column, expected header
missing column                  RawFormatError          file, column
extra column                    RawFormatError          file, column count expected
unknown answer code             UnknownCodeError        file, column, row, code
non-numeric cell (numeric col)  UnknownCodeError        file, column, row, value
duplicated respondent id        RawFormatError          file, row, respondent_id
year that does not exist        UnknownYearError        the year, the known years
sha256 mismatch                 HashMismatchError       file, expected/actual hash, what to do
codebook: unknown variable      CodebookError           codebook file, variable
codebook: label not an answer   CodebookError           codebook file, variable, label
targets: shares not summing 1   TargetsError            targets file, variable, sum
targets: unknown category       TargetsError            targets file, variable, level
=============================== ======================= ===================================
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _site import ensure_processed

from ospo_survey.core.errors import (
    CodebookError,
    HashMismatchError,
    OspoSurveyError,
    RawFormatError,
    TargetsError,
    UnknownCodeError,
    UnknownYearError,
)
from ospo_survey.ingest import fetch
from ospo_survey.ingest.read import read_raw
from ospo_survey.ingest.settings import CODEBOOK_DIR


def rows_of(year: int) -> list[list[str]]:
    text = fetch.raw_path(year).read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def write(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ospo_survey", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )


def assert_one_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _truncated(tmp: Path) -> Path:
    data = fetch.raw_path(2022).read_bytes()
    path = tmp / "RawData.csv"
    path.write_bytes(data[: len(data) // 2])
    return path


def _cp1252(tmp: Path) -> Path:
    rows = rows_of(2018)
    rows[2][-1] = "Don’t know"
    return write(tmp / "results.csv", rows, encoding="cp1252")


def _empty(tmp: Path) -> Path:
    path = tmp / "results.csv"
    path.write_bytes(b"")
    return path


def _missing_header(tmp: Path) -> Path:
    return write(tmp / "results.csv", rows_of(2018)[1:])


def _reordered_headers(tmp: Path) -> Path:
    rows = rows_of(2024)
    rows[0], rows[1] = rows[1], rows[0]
    return write(tmp / "numeric.csv", rows)


def _renamed_column(tmp: Path) -> Path:
    rows = rows_of(2020)
    rows[0][10] = rows[1][10] = "How many staff do you have?"
    return write(tmp / "results.csv", rows)


def _missing_column(tmp: Path) -> Path:
    return write(tmp / "numeric.csv", [r[:153] + r[154:] for r in rows_of(2024)])


def _extra_column(tmp: Path) -> Path:
    rows = rows_of(2024)
    rows = [r[:-1] + ["x" if i == 0 else "", r[-1]] for i, r in enumerate(rows)]
    return write(tmp / "numeric.csv", rows)


def _unknown_code(tmp: Path) -> Path:
    rows = rows_of(2022)
    rows[10][31] = "9"  # Q6 offers 1-4
    return write(tmp / "RawData.csv", rows)


def _non_numeric(tmp: Path) -> Path:
    rows = rows_of(2022)
    rows[12][16] = "lots"  # Q2 (organisation size) holds codes
    return write(tmp / "RawData.csv", rows)


def _duplicate_id(tmp: Path) -> Path:
    rows = rows_of(2023)
    rows[5][0] = rows[4][0]
    return write(tmp / "RawData.csv", rows)


READ_CASES = {
    "truncated": (2022, _truncated, RawFormatError, ["RawData.csv", "truncated"]),
    "wrong encoding": (2018, _cp1252, RawFormatError, ["results.csv", "not UTF-8"]),
    "empty file": (2018, _empty, RawFormatError, ["results.csv", "empty"]),
    "missing header row": (2018, _missing_header, RawFormatError, ["results.csv", "column"]),
    "reordered headers": (2024, _reordered_headers, RawFormatError, ["numeric.csv", "column"]),
    "renamed column": (2020, _renamed_column, RawFormatError, ["column 11", "settings expect"]),
    "missing column": (2024, _missing_column, RawFormatError, ["1070 columns", "expect 1071"]),
    "extra column": (2024, _extra_column, RawFormatError, ["numeric.csv", "column"]),
    "unknown code": (2022, _unknown_code, UnknownCodeError, ["'Q6'", "row 8", "'9'"]),
    "non-numeric cell": (2022, _non_numeric, UnknownCodeError, ["'Q2'", "row 10", "'lots'"]),
    "duplicated id": (2023, _duplicate_id, RawFormatError, ["row 3", "respondent_id"]),
}


# every case but the empty file is made from a real raw file
@pytest.mark.parametrize("case", [
    pytest.param(case, marks=() if case == "empty file" else pytest.mark.data)
    for case in sorted(READ_CASES)
])
def test_bad_raw_file_api_and_cli(case, tmp_path):
    year, make, exc, needles = READ_CASES[case]
    path = make(tmp_path)
    before = path.read_bytes()
    with pytest.raises(exc) as err:
        read_raw(year, path=path)
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    proc = cli("questions", str(year), "--file", str(path))
    assert_one_line(proc, *needles)
    assert proc.stdout == ""  # nothing half-written
    assert path.read_bytes() == before  # input never touched


def test_year_that_does_not_exist():
    with pytest.raises(UnknownYearError, match="unknown survey year 2031: known years are"):
        read_raw(2031)
    assert_one_line(cli("freq", "2031", "Q1"), "2031", "2018-2024")


@pytest.mark.data
def test_sha256_mismatch(tmp_path):
    env = {"OSPO_SURVEY_DATA": str(tmp_path / "data")}
    os.environ_backup = dict(os.environ)  # type: ignore[attr-defined]
    proc = cli("fetch", "2024", env=env)
    assert proc.returncode == 0, proc.stderr
    local = tmp_path / "data" / "raw" / "2024" / "questions.md"
    local.chmod(0o644)
    local.write_text(local.read_text(encoding="utf-8") + "tampered\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OSPO_SURVEY_DATA", env["OSPO_SURVEY_DATA"])
        with pytest.raises(HashMismatchError, match="questions.md"):
            fetch.raw_path(2024, "questions")
    raw = tmp_path / "data" / "raw" / "2024" / "2024 OSPO N222 Raw Data Numeric.csv"
    raw.chmod(0o644)
    raw.write_bytes(raw.read_bytes().replace(b"114687260013", b"114687260014", 1))
    proc = cli("questions", "2024", env=env)
    assert_one_line(proc, "Numeric.csv", "sha256")


@pytest.fixture()
def draft_codebooks(tmp_path):
    folder = tmp_path / "codebooks"
    shutil.copytree(CODEBOOK_DIR, folder)
    return folder


@pytest.mark.data
def test_codebook_unknown_variable(draft_codebooks):
    path = draft_codebooks / "2024.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n  org_size:\n", "\n  org_sise:\n", 1), encoding="utf-8")
    proc = cli("freq", "2024", "q12", env={"OSPO_SURVEY_CODEBOOKS": str(draft_codebooks)})
    assert_one_line(proc, "2024.yaml", "org_sise", "not a harmonised variable")


@pytest.mark.data
def test_codebook_label_that_matches_no_answer(draft_codebooks):
    path = draft_codebooks / "2024.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"1 to 10": "1-50"', '"1 to 100": "1-50"', 1), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OSPO_SURVEY_CODEBOOKS", str(draft_codebooks))
        from ospo_survey.ingest.harmonize import harmonize_year
        from ospo_survey.ingest.settings import _load

        _load.cache_clear()
        with pytest.raises(CodebookError, match="'1 to 100' is not an answer of q4"):
            harmonize_year(read_raw(2024))
    _load.cache_clear()
    proc = cli("freq", "2024", "q12", env={"OSPO_SURVEY_CODEBOOKS": str(draft_codebooks)})
    assert_one_line(proc, "2024.yaml", "org_size", "'1 to 100'")


@pytest.mark.data
def test_model_answer_stored_under_another_code_must_be_declared(draft_codebooks):
    """Without read.moved_codes, 2022 Q51's code-0 answers would sit beside an empty duplicate
    "don't know" option from the reference model's unused code 6: the reader refuses."""
    path = draft_codebooks / "2022.yaml"
    text = path.read_text(encoding="utf-8")
    moved = text[text.index("  moved_codes:"):text.index("  kinds:")]
    path.write_text(text.replace(moved, "    Q51: {0: \"Don't know or not sure\"}\n"), "utf-8")
    proc = cli("questions", "2022", "Q51", env={"OSPO_SURVEY_CODEBOOKS": str(draft_codebooks)})
    assert_one_line(proc, "Q51", "code 0", "model's 6", "moved_codes")


def _targets(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text("scheme: draft\nmargins:\n" + body, encoding="utf-8")
    return path


@pytest.mark.data
def test_targets_not_summing_to_one(tmp_path):
    ensure_processed()  # the error is the only line (not the first run's build notice)
    path = _targets(tmp_path, "  tech_industry: {tech: 0.5, non-tech: 0.6}\n")
    from ospo_survey.inference.weights import load_targets

    with pytest.raises(TargetsError, match="tech_industry"):
        load_targets(path)
    proc = cli("freq", "2022", "Q6", "--weights", str(path))
    assert_one_line(proc, "targets.yaml", "tech_industry", "1.1")


@pytest.mark.data
def test_targets_unknown_category(tmp_path):
    ensure_processed()  # the error is the only line (not the first run's build notice)
    path = _targets(tmp_path, "  tech_industry: {tech: 0.5, biotech: 0.5}\n")
    proc = cli("freq", "2022", "Q6", "--weights", str(path))
    # the data's level that the file leaves without a target ('biotech' matches no answer)
    assert_one_line(proc, "targets.yaml", "tech_industry level 'non-tech'", "has no target")


def test_every_error_type_is_an_ospo_survey_error():
    from ospo_survey.core import errors

    for exc in (RawFormatError, UnknownCodeError, UnknownYearError, HashMismatchError,
                CodebookError, TargetsError, errors.EmptyLevelError,
                errors.WeightingOptionsError, errors.EstimationError):
        assert issubclass(exc, OspoSurveyError)


def test_the_inference_layer_raises_no_bare_value_or_key_error():
    """Inference code raises the classes of core/errors.py (one line, caught as OspoSurveyError
    by the CLI), which subclass ValueError or KeyError where callers caught those."""
    import ast

    root = Path(__file__).resolve().parent.parent / "ospo_survey" / "inference"
    bare = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            exc = node.exc if isinstance(node, ast.Raise) else None
            name = exc.func if isinstance(exc, ast.Call) else exc
            if isinstance(name, ast.Name) and name.id in ("ValueError", "KeyError"):
                bare.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not bare, bare


@pytest.mark.data
def test_a_misspelled_page_sample_is_one_line_naming_it() -> None:
    from ospo_survey.analysis.year import YearAnalysis
    from ospo_survey.core.errors import CodebookError

    with pytest.raises(CodebookError, match=r"unknown sample 'publsher':.*'publisher'"):
        YearAnalysis(2022, sample="publsher")
