"""HTML building blocks for page prose: the one escaper and a few tags."""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np

from ospo_survey.core.ids import withhold_ids
from ospo_survey.ingest.settings import available_years


def esc(text: Any) -> str:
    """Escape text for HTML content and attribute values (the package's only escaper)."""
    return html.escape(str(text), quote=True)


def heading(level: int, text: str, anchor: str | None = None) -> str:
    """A heading; with an ``anchor``, an id and a link to itself (shown on hover and focus)."""
    if not anchor:
        return f"<h{level}>{esc(text)}</h{level}>"
    a = esc(anchor)
    link = f'<a class="anchor-link" href="#{a}" aria-label="Link to this section">¶</a>'
    return f'<h{level} id="{a}">{esc(text)}{link}</h{level}>'

def para(text: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<p{c}>{text}</p>"


def no_ids(text: Any) -> str:
    """Codebook prose with SurveyMonkey collector/respondent ids withheld (never published)."""
    return withhold_ids(text)

def json_number(x: Any, digits: int = 4) -> Any:
    """JSON-safe, platform-stable numbers (NaN/inf become null)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    if not math.isfinite(f):
        return None
    return round(f, digits)

def p_value(v: Any) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.DOTALL)
_TAG = re.compile(r"<a\b[^>]*\bclass=\"anchor-link\"[^>]*>.*?</a>|<[^>]+>", re.DOTALL)
_AFTER_SUBTITLE = re.compile(r'<p class="subtitle">.*?</p>', re.DOTALL)


def with_contents(body: str) -> str:
    """The page with a table of contents (a link to every ``<h2 id>``) after its subtitle.

    Built from the finished HTML, so it lists exactly the sections a page has (a year that did
    not ask a question has no section and no entry). A page without a subtitle is unchanged.
    """
    spot = _AFTER_SUBTITLE.search(body)
    found = _H2.findall(body)
    if spot is None or not found:
        return body
    items = "".join(
        f'<li><a href="#{ident}">{" ".join(_TAG.sub("", text).split())}</a></li>'
        for ident, text in found
    )
    nav = f'\n<nav class="toc" aria-label="Contents"><h2 class="toc-title">Contents</h2>' \
          f"<ol>{items}</ol></nav>"
    return body[: spot.end()] + nav + body[spot.end():]


def years_span() -> str:
    """'2018–2024': the survey years that have a codebook."""
    years = available_years()
    return f"{years[0]}–{years[-1]}" if years else ""
