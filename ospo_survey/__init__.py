"""ospo-survey: read, screen, weight and report the TODO Group's OSPO survey, 2018-2024."""

from __future__ import annotations

from .read import RawSurvey, read_raw

__version__ = "0.1.0"

__all__ = ["RawSurvey", "__version__", "read_raw"]
