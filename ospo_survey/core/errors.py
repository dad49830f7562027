"""Exception types: every failure a user can cause maps to one class and one readable line.

The CLI prints ``str(exc)`` (one line) and exits non-zero; the Python API raises these types
so callers can catch exactly what they expect.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class OspoSurveyError(Exception):
    """Base class: a problem with input data or configuration, explained in one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep the message on one line whatever the caller passes.
        super().__init__(" ".join(str(message).split()))


class UnknownYearError(OspoSurveyError, KeyError):
    """A survey year that the registry does not know."""

    def __str__(self) -> str:  # KeyError would otherwise add quotes
        return self.args[0]


def closest(name: object, choices: Iterable[object], n: int = 3) -> list[str]:
    """The choices most like ``name``: close spellings first, then those containing it."""
    names = [str(c) for c in choices]
    text = str(name)
    lower = {c.lower(): c for c in names}
    hits = [lower[c] for c in difflib.get_close_matches(text.lower(), list(lower), n, 0.6)]
    hits += [c for c in names if text.lower() in c.lower() and c not in hits]
    return hits[:n]


def did_you_mean(name: object, choices: Iterable[object]) -> str:
    """`` did you mean 'x'?`` (or ``'x' or 'y'``), or an empty string when nothing is close."""
    hits = closest(name, choices)
    return f" did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""


class MissingFileError(OspoSurveyError, FileNotFoundError):
    """A raw, processed or configuration file is not where it should be."""


class FetchError(OspoSurveyError):
    """A raw file could not be obtained from upstream or the mirror."""


class HashMismatchError(OspoSurveyError):
    """A raw file's sha256 differs from the registry."""


class RawFormatError(OspoSurveyError, ValueError):
    """A raw CSV does not have the layout the year's settings describe (header, size, cells)."""


class UnknownCodeError(RawFormatError):
    """An answer code or label that the question's option list does not contain."""


class CodebookError(OspoSurveyError, ValueError):
    """A codebook or per-year settings file is inconsistent with itself or the raw data."""


class TargetsError(OspoSurveyError, ValueError):
    """A weighting target table is invalid (shares, unknown categories)."""


class WeightingError(OspoSurveyError, RuntimeError):
    """Weighting could not meet its targets (non-convergence, empty cells)."""


class EmptyLevelError(WeightingError):
    """A target level has no start weight to scale (e.g. a bootstrap replicate dropped it)."""


class WeightingOptionsError(WeightingError, ValueError):
    """Weighting options that cannot be used (tolerance, missing policy, trim, collapse rule);
    a ValueError too, as the options were before they had a class."""


class EstimationError(OspoSurveyError, ValueError):
    """An estimate cannot be made as asked (weights, levels, replicates, interval or SE method)."""


class ReportError(OspoSurveyError):
    """A report could not be built (a notebook cell failed, an output is not self-contained)."""


class UnknownVariableError(OspoSurveyError, KeyError):
    """A harmonised variable name that the data does not have (the message names the closest)."""

    def __str__(self) -> str:  # KeyError would otherwise add quotes
        return self.args[0]


class ModelError(OspoSurveyError, ValueError):
    """A model cannot be fitted as asked (a singular design, a group fixed by the adjustment)."""


class StaleProcessedError(OspoSurveyError):
    """``data/processed`` was built from other codebooks or raw files than the current ones."""


class RegistryError(CodebookError):
    """``registry/files.csv`` is malformed (a packaging bug, not a user error)."""


class ReleaseError(OspoSurveyError):
    """The release could not be written (a value outside its declared levels, a stale table)."""


class MaturityError(OspoSurveyError, ValueError):
    """An unknown model or grouping variable, or a maturity file that does not parse."""
