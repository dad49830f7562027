"""Per-year settings and codebooks, kept as YAML data inside the package.

Everything that differs between survey years (which file, header layout, padding, question ids,
known damage in the export, answer codes, harmonised recodes, screening rules) lives in
``ospo_survey/codebooks/<year>.yaml``. Code reads it; it never branches on the year.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from ospo_survey.core.errors import CodebookError, UnknownYearError
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.core.yamlio import load_yaml as load_yaml

CODEBOOK_DIR = PACKAGE_DIR / "codebooks"
CODEBOOKS_ENV = "OSPO_SURVEY_CODEBOOKS"  # a folder of draft codebooks to use instead


def codebook_dir() -> Path:
    """The package's codebooks, or ``$OSPO_SURVEY_CODEBOOKS`` (e.g. to try a draft)."""
    env = os.environ.get(CODEBOOKS_ENV)
    return Path(env) if env else CODEBOOK_DIR


def available_years() -> list[int]:
    """Years that have a codebook file (the registry must list them too)."""
    return sorted(int(p.stem) for p in codebook_dir().glob("[0-9][0-9][0-9][0-9].yaml"))


def codebook_path(year: int) -> Path:
    return codebook_dir() / f"{int(year)}.yaml"


@cache
def _load(path: str) -> dict[str, Any]:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise CodebookError(f"{path}: expected a mapping at the top level")
    return data


def year_settings(year: int | str) -> dict[str, Any]:
    """The whole codebook of one year; raises UnknownYearError for a year without one."""
    try:
        y = int(year)
    except (TypeError, ValueError):
        raise UnknownYearError(
            f"'{year}' is not a survey year; known years: {_years_text()}"
        ) from None
    path = codebook_path(y)
    if not path.is_file():
        raise UnknownYearError(f"unknown survey year {y}: known years are {_years_text()}")
    data = _load(str(path))
    if int(data.get("year", -1)) != y:
        raise CodebookError(f"{path}: 'year' is {data.get('year')!r}, expected {y}")
    return data


def read_settings(year: int) -> dict[str, Any]:
    """The ``read:`` section (how to parse the raw file)."""
    data = year_settings(year)
    try:
        return data["read"]
    except KeyError:
        raise CodebookError(f"{codebook_path(year)}: missing the 'read' section") from None


def _years_text() -> str:
    ys = available_years()
    return f"{ys[0]}-{ys[-1]}" if ys else "none"
