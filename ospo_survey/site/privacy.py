"""A scanner for identifying data in what the toolkit publishes (processed tables, reports).

It walks files and fails on IPv4/IPv6 addresses, email addresses, URLs outside an allow-list,
SurveyMonkey respondent or collector ids (in any text cell of a table, notes and labels included,
or as a column the codebooks call identifying), exact timestamps and verbatim free-text answers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ospo_survey.core.ids import IDENTIFYING_KINDS, LONG_ID
from ospo_survey.ingest.settings import available_years, year_settings

_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
IPV4 = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\d.])")
IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL = re.compile(r"\bhttps?://[^\s\"'<>)]+|\bwww\.[^\s\"'<>)]+", re.IGNORECASE)
TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?\b|\b\d{1,2}/\d{1,2}/\d{4} \d"
)
DATA_URI = re.compile(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=\s]+")

ALLOWED_URLS = (
    "https://github.com/todogroup/osposurvey",
    "https://creativecommons.org/licenses/by-sa/4.0",
)


@dataclass(frozen=True)
class Finding:
    path: Path
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.excerpt[:60]!r}"


TABLE_SUFFIXES = (".parquet", ".csv")
TEXT_SUFFIXES = (".html", ".htm", ".md", ".json", ".txt", ".svg")
# Column names that hold ids even when no codebook names them (e.g. a hand-made table).
ID_COLUMN_NAMES = frozenset({"respondent_id", "collector_id", "ip_address", "email"})


@lru_cache(maxsize=1)
def identifying_columns() -> frozenset[str]:
    """Names of the raw meta columns that identify a respondent or their collector, from every
    year's codebook (``read.meta`` kinds in :data:`IDENTIFYING_KINDS`)."""
    names = set(ID_COLUMN_NAMES)
    for year in available_years():
        for meta in year_settings(year)["read"].get("meta", []):
            if meta.get("kind") in IDENTIFYING_KINDS:
                names.add(str(meta["name"]).lower())
    return frozenset(names)


def _read_table(path: Path) -> pd.DataFrame | None:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return None  # not a table after all: scanned line by line


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or str(values.dtype) in ("string", "category", "str")


def _table_findings(path: Path, frame: pd.DataFrame) -> Iterator[Finding | str]:
    """Every column name and every distinct cell of every text column (notes and labels
    included), as text to check; plus findings that need the table's structure: a column
    named like an id column, an id embedded in a cell, an integer column holding ids."""
    known = identifying_columns()
    for col in frame.columns:
        name = str(col)
        yield name
        if name.lower() in known:
            yield Finding(path, "identifying column", name)
        values = frame[col]
        if _is_text(values):
            for text in (str(v) for v in values.dropna().unique()):
                yield text
                m = LONG_ID.search(text)
                if m:
                    yield Finding(path, "respondent/collector id", m.group(0))
        elif pd.api.types.is_integer_dtype(values):
            big = values.dropna().abs() >= 10**8
            if big.any():
                yield Finding(path, "respondent/collector id", str(values.dropna()[big].iloc[0]))


def _texts(path: Path) -> Iterator[Finding | str]:
    """The human-visible text of a published file: each table cell, or each line."""
    frame = _read_table(path) if path.suffix in TABLE_SUFFIXES else None
    if frame is not None:
        yield from _table_findings(path, frame)
    elif path.suffix in (*TEXT_SUFFIXES, *TABLE_SUFFIXES):
        text = path.read_text(encoding="utf-8", errors="replace")
        text = DATA_URI.sub("data:", text)
        if path.suffix in (".html", ".htm", ".svg"):
            text = html.unescape(text)
        yield from text.splitlines()


def scan_file(path: Path, free_text: set[str] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for text in _texts(path):
        if isinstance(text, Finding):
            findings.append(text)
            continue
        for kind, rx in (("IPv4 address", IPV4), ("IPv6 address", IPV6), ("email", EMAIL)):
            m = rx.search(text)
            if m:
                findings.append(Finding(path, kind, m.group(0)))
        for m in URL.finditer(text):
            if not m.group(0).rstrip("/.").startswith(ALLOWED_URLS):
                findings.append(Finding(path, "URL", m.group(0)))
                break
        m = TIMESTAMP.search(text)
        if m:
            findings.append(Finding(path, "exact timestamp", m.group(0)))
        if free_text and text.strip() in free_text:
            findings.append(Finding(path, "free-text answer", text.strip()))
    return findings


def raw_free_text(years: Iterable[int] | None = None, min_length: int = 25) -> set[str]:
    """Verbatim free-text answers of the raw files (long enough to be distinctive).

    Read from the raw exports themselves (fetched if missing), never from the processed
    tables, which hold no free text: a scan must know what it is looking for.
    """
    from ospo_survey.ingest import fetch
    from ospo_survey.ingest.read import read_raw

    found: set[str] = set()
    labels: set[str] = set()
    ys = list(years or available_years())
    fetch.ensure(ys)
    for year in ys:
        survey = read_raw(year)
        q = survey.questions
        for col in ("question", "row", "option"):
            labels.update(q[col].dropna().astype(str).str.strip())
        labels.update(survey.answers["label"].astype(str).str.strip())
        cols = survey.questions.loc[survey.questions["kind"] == "text", "column"]
        for col in cols:
            for value in survey.responses[col].dropna().unique():
                value = str(value).strip()
                if len(value) >= min_length:
                    found.add(value)
    # a respondent who typed an option's own label has written nothing identifying
    return found - labels


def scan(paths: Iterable[Path], *, free_text: bool = True) -> list[Finding]:
    """Scan files and folders (recursively); returns every finding, sorted."""
    texts = raw_free_text() if free_text else set()
    findings: list[Finding] = []
    for root in paths:
        root = Path(root)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if path.name.startswith(".") or path.suffix == ".png":
                continue
            findings.extend(scan_file(path, texts))
    return sorted(findings, key=lambda f: (str(f.path), f.kind, f.excerpt))
