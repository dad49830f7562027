"""HTML building blocks for page prose: the one escaper and a few tags."""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

from ospo_survey.core.ids import withhold_ids
from ospo_survey.ingest.settings import available_years


def esc(text: Any) -> str:
    """Escape text for HTML content and attribute values (the package's only escaper)."""
    return html.escape(str(text), quote=True)


def heading(level: int, text: str, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<h{level}{ident}>{esc(text)}</h{level}>"

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


def years_span() -> str:
    """'2018–2024': the survey years that have a codebook."""
    years = available_years()
    return f"{years[0]}–{years[-1]}" if years else ""
