"""A scanner for identifying data in what the toolkit publishes (processed tables, reports).

It walks files and fails on IPv4/IPv6 addresses, email addresses, URLs outside an allow-list,
SurveyMonkey respondent or collector ids, exact timestamps and verbatim free-text answers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
IPV4 = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\d.])")
IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL = re.compile(r"\bhttps?://[^\s\"'<>)]+|\bwww\.[^\s\"'<>)]+", re.IGNORECASE)
TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?\b|\b\d{1,2}/\d{1,2}/\d{4} \d"
)
SM_ID = re.compile(r"(?<!\d)\d{9,12}(?!\d)")
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


def _texts(path: Path) -> Iterator[str]:
    """The human-visible text of a published file, cell by cell or line by line."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        for col in frame.columns:
            yield str(col)
            values = frame[col]
            if values.dtype == object or str(values.dtype) in ("string", "category", "str"):
                yield from (str(v) for v in values.dropna().unique())
    elif path.suffix in (".html", ".htm", ".md", ".csv", ".json", ".txt", ".svg"):
        text = path.read_text(encoding="utf-8", errors="replace")
        text = DATA_URI.sub("data:", text)
        if path.suffix in (".html", ".htm", ".svg"):
            text = html.unescape(text)
        yield from text.splitlines()


def scan_file(path: Path, free_text: set[str] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for text in _texts(path):
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
        if path.suffix == ".parquet":
            m = SM_ID.fullmatch(text.strip())
            if m:
                findings.append(Finding(path, "respondent/collector id", m.group(0)))
        if free_text and text.strip() in free_text:
            findings.append(Finding(path, "free-text answer", text.strip()))
    return findings


def raw_free_text(years: Iterable[int] | None = None, min_length: int = 25) -> set[str]:
    """Verbatim free-text answers of the raw files (long enough to be distinctive)."""
    from ospo_survey.ingest.dataset import year_data
    from ospo_survey.ingest.settings import available_years

    found: set[str] = set()
    labels: set[str] = set()
    for year in years or available_years():
        survey = year_data(year).survey
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
