"""What a report notebook calls first and last: quiet output and the page summary."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ospo_survey.core.files import write_atomic


def setup_notebook() -> None:
    """Call first in a report notebook: quiet, deterministic output."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    pd.set_option("display.max_columns", 50)


def write_summary(summary: Mapping[str, Any], path: str | os.PathLike[str] | None) -> None:
    """Save a page's summary as stable JSON (sorted keys); a no-op without a path."""
    if not path:
        return
    text = json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    write_atomic(Path(path), text)
