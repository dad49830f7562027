"""The raw reader's errors that need no survey data: a wrong year, a missing file or folder, an
empty file, and the CLI's one error line (``--debug`` for the traceback). Unit tests: they run
without the mirror (the readers on the real files are in ``test_read.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ospo_survey import read_raw
from ospo_survey.core.errors import (
    MissingFileError,
    OspoSurveyError,
    RawFormatError,
    UnknownYearError,
)
from ospo_survey.core.paths import DATA_ENV


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_file_given_as_path(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"make data") as err:
        read_raw(2022, path=tmp_path / "nope.csv")
    assert "nope.csv" in str(err.value)


def test_missing_raw_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    with pytest.raises(MissingFileError, match=r"results\.csv is missing: run `make data`"):
        read_raw(2018)


def test_wrong_year() -> None:
    with pytest.raises(UnknownYearError, match=r"unknown survey year 2017.*2018-2024"):
        read_raw(2017)
    with pytest.raises(UnknownYearError, match=r"'abc' is not a survey year"):
        read_raw("abc")  # type: ignore[arg-type]


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n", b"   \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(RawFormatError, match=r"empty\.csv: the file is empty"):
        read_raw(2022, path=write_bytes(tmp_path / "empty.csv", content))


def test_errors_are_one_line_and_of_the_base_type(tmp_path: Path) -> None:
    for call in (lambda: read_raw(2017), lambda: read_raw(2022, path=tmp_path / "x.csv")):
        with pytest.raises(OspoSurveyError) as err:
            call()
        assert "\n" not in str(err.value) and str(err.value)


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ospo_survey", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_unknown_year_one_line_no_traceback() -> None:
    proc = _cli("questions", "2017")
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines == ["ospo-survey: error: unknown survey year 2017: known years are 2018-2024"]
    assert "Traceback" not in proc.stderr


def test_cli_debug_shows_traceback() -> None:
    proc = _cli("questions", "2017", "--debug")
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "UnknownYearError" in proc.stderr


def test_cli_debug_before_the_subcommand_shows_traceback() -> None:
    proc = _cli("--debug", "questions", "2017")
    assert "Traceback (most recent call last)" in proc.stderr
