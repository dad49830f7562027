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

import yaml

from .errors import CodebookError, UnknownYearError
from .paths import PACKAGE_DIR

CODEBOOK_DIR = PACKAGE_DIR / "codebooks"
CODEBOOKS_ENV = "OSPO_SURVEY_CODEBOOKS"  # a folder of draft codebooks to use instead


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


class _Loader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """YAML 1.2-style booleans: only true/false, so answer labels like Yes/No/On stay text."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    __import__("re").compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML data file of this package (Yes/No stay strings)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CodebookError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc


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
