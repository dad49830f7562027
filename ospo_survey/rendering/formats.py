"""Number formats shared by charts, tables and the site index (standard library only)."""

from __future__ import annotations

import math
from typing import Any


def pct(x: Any, digits: int = 0) -> str:
    """A share in 0-1 as a percentage string ('45%'); missing as an en dash."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):
        return "–"
    return f"{100 * v:.{digits}f}%"


def fmt_int(x: Any) -> str:
    """A count with thousands separators ('1,048'); missing as an en dash."""
    try:
        return f"{int(round(float(x))):,}"
    except (TypeError, ValueError, OverflowError):
        return "–"
