"""The weighting options, one object shared by weight(), rake(), poststratify(), diagnose()
and Raker.

Why one object: the entry points took the same keyword arguments, each list kept in step by
hand; one frozen dataclass is checked once when it is made, travels whole (bootstrap
replicates re-rake with the options of the main weights), and keyword arguments still build
one, so ``rake(df, margins, tol=1e-8)`` means what it always did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ospo_survey.core.errors import WeightingOptionsError, did_you_mean
from ospo_survey.inference.weights.coding import MissingPolicy
from ospo_survey.inference.weights.collapse import CollapseRule
from ospo_survey.inference.weights.trimming import _parse_trim


@dataclass(frozen=True)
class RakeOptions:
    """How to weight: convergence, missing answers, sparse levels, trimming, the total.

    ``tol``: converged when every margin's achieved shares are within ``tol`` (absolute) of the
    targets, in at most ``max_iter`` sweeps (``best_effort=True`` keeps the best sweep, with a
    warning, instead of raising). ``missing``: 'error' | 'category' (level ``'(missing)'``,
    needs a target) | 'exclude' (weight 0); ``dont_know_levels`` are treated like missing.
    Levels with fewer than ``min_cell`` respondents (or none) are merged per ``collapse``
    ('adjacent' or ``{var: {small: bigger} | 'adjacent'}``; for a joint table
    ``{small cell: bigger cell}``), with a warning. ``trim``: ``max_ratio``, ``min_ratio``
    (multiples of the mean), ``upper_quantile``, ``lower_quantile``. ``total``: what the
    weights sum to (default: mean 1 over the weighted rows).
    """

    tol: float = 1e-6
    max_iter: int = 100
    missing: MissingPolicy = "error"
    dont_know_levels: Iterable[Any] = ()
    min_cell: int = 0
    collapse: CollapseRule = None
    trim: Mapping[str, float] | None = None
    best_effort: bool = False
    total: float | None = None

    def __post_init__(self) -> None:
        if self.missing not in ("error", "category", "exclude"):
            raise WeightingOptionsError(
                f"missing must be 'error', 'category' or 'exclude', not {self.missing!r}"
            )
        if self.min_cell < 0 or self.tol <= 0 or self.max_iter < 1:
            raise WeightingOptionsError(
                f"need min_cell >= 0, tol > 0 and max_iter >= 1, not min_cell={self.min_cell!r},"
                f" tol={self.tol!r}, max_iter={self.max_iter!r}"
            )
        if self.total is not None and not (math.isfinite(self.total) and self.total > 0):
            raise WeightingOptionsError(
                f"total must be a positive number, not {self.total!r} (None: weights of mean 1)"
            )
        # kept as checked: the trim keys as floats, the don't-know levels as a tuple
        object.__setattr__(self, "trim", _parse_trim(self.trim))
        object.__setattr__(self, "dont_know_levels", tuple(self.dont_know_levels))

    @classmethod
    def build(cls, options: RakeOptions | None = None, **settings: Any) -> RakeOptions:
        """``options`` (or the defaults) with the keyword arguments replacing the fields they
        name: what the entry points do with their keyword arguments."""
        names = [f.name for f in fields(cls)]
        unknown = [k for k in settings if k not in names]
        if unknown:
            raise TypeError(
                f"unknown weighting option {unknown[0]!r}:{did_you_mean(unknown[0], names)} "
                f"the options are {', '.join(names)}"
            )
        if options is None:
            return cls(**settings)
        if not isinstance(options, RakeOptions):
            raise TypeError(f"options must be a RakeOptions, not {type(options).__name__}")
        return replace(options, **settings) if settings else options
