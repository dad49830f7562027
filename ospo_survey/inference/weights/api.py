"""The public entry points: weights with diagnostics, raking, post-stratification, and the
diagnostics of weights made elsewhere.

Why thin: each is a :class:`~ospo_survey.inference.weights.raking.Raker` prepared and fitted
once, so the same options mean the same thing whichever entry point a caller uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import TargetsError
from ospo_survey.inference.weights.coding import MissingPolicy
from ospo_survey.inference.weights.collapse import CollapseRule
from ospo_survey.inference.weights.diagnostics import (
    Diagnostics,
    WeightingResult,
    fit_diagnostics,
)
from ospo_survey.inference.weights.raking import Raker, _as_start


def weight(
    data: pd.DataFrame,
    targets: Mapping[str, Mapping[Any, float]] | pd.Series,
    *,
    start: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    best_effort: bool = False,
    trim: Mapping[str, float] | None = None,
    min_cell: int = 0,
    collapse: CollapseRule = None,
    total: float | None = None,
) -> WeightingResult:
    """Weights and diagnostics: rake to ``{var: {level: share}}`` margins, or post-stratify to
    a joint table when ``targets`` is a Series indexed by the variables' levels."""
    raker = Raker(
        data,
        targets,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        max_iter=max_iter,
        trim=trim,
        best_effort=best_effort,
        total=total,
    )
    return raker.fit(_as_start(start, data.index))


def rake(
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]],
    *,
    start: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    best_effort: bool = False,
    trim: Mapping[str, float] | None = None,
    min_cell: int = 0,
    collapse: CollapseRule = None,
    total: float | None = None,
) -> pd.Series:
    """Raking (IPF) weights aligned to ``data.index``, mean 1 over weighted rows.

    Converged when every margin's achieved shares are within ``tol`` (absolute) of the targets.
    ``missing``: 'error' | 'category' (level ``'(missing)'``, needs a target) | 'exclude'
    (weight 0). ``dont_know_levels`` are treated like missing. ``trim``: ``max_ratio``,
    ``min_ratio`` (multiples of the mean), ``upper_quantile``, ``lower_quantile``. Levels with
    fewer than ``min_cell`` respondents (or none) are merged per ``collapse`` ('adjacent' or
    ``{var: {small: bigger} | 'adjacent'}``), with a warning.
    """
    if not isinstance(margins, Mapping):
        raise TargetsError(
            "rake needs margins as {variable: {level: share}}; use poststratify for a joint table"
        )
    raker = Raker(
        data,
        margins,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        max_iter=max_iter,
        trim=trim,
        best_effort=best_effort,
        total=total,
    )
    return raker.fit(_as_start(start, data.index), diagnostics=False).weights


def poststratify(
    data: pd.DataFrame,
    joint_targets: pd.Series,
    *,
    start: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    best_effort: bool = False,
    trim: Mapping[str, float] | None = None,
    min_cell: int = 0,
    collapse: Mapping[Any, Any] | None = None,
    total: float | None = None,
) -> pd.Series:
    """Post-stratification weights to a joint table (Series with a MultiIndex named after the
    data columns -> share). Exact in one step; ``collapse`` maps sparse cells (tuples) into
    others."""
    if not isinstance(joint_targets, pd.Series):
        raise TargetsError("poststratify needs the joint targets as a pandas Series")
    raker = Raker(
        data,
        joint_targets,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        max_iter=max_iter,
        trim=trim,
        best_effort=best_effort,
        total=total,
    )
    return raker.fit(_as_start(start, data.index), diagnostics=False).weights


def diagnose(
    weights: pd.Series | np.ndarray,
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]] | pd.Series,
    *,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    min_cell: int = 0,
    collapse: CollapseRule = None,
    tol: float = 1e-6,
) -> Diagnostics:
    """Diagnostics of any weights against margins (same level handling as :func:`rake`)."""
    raker = Raker(
        data,
        margins,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        warn=False,
    )
    w = _as_start(weights, data.index)
    assert w is not None
    row_w = w if raker.active is None else w[raker.active]
    diag = fit_diagnostics(raker, row_w, iterations=None, converged=None, trimming=None)
    diag.converged = diag.max_error <= tol
    return diag
