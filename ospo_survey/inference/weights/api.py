"""The public entry points: weights with diagnostics, raking, post-stratification, and the
diagnostics of weights made elsewhere.

Why thin: each is a :class:`~ospo_survey.inference.weights.raking.Raker` prepared and fitted
once, with one :class:`~ospo_survey.inference.weights.options.RakeOptions`, so the same
options mean the same thing whichever entry point a caller uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import TargetsError
from ospo_survey.inference.weights.diagnostics import (
    Diagnostics,
    WeightingResult,
    fit_diagnostics,
)
from ospo_survey.inference.weights.options import RakeOptions
from ospo_survey.inference.weights.raking import Raker, _as_start


def weight(
    data: pd.DataFrame,
    targets: Mapping[str, Mapping[Any, float]] | pd.Series,
    *,
    start: Any = None,
    options: RakeOptions | None = None,
    **settings: Any,
) -> WeightingResult:
    """Weights and diagnostics: rake to ``{var: {level: share}}`` margins, or post-stratify to
    a joint table when ``targets`` is a Series indexed by the variables' levels.

    ``options`` (a :class:`RakeOptions`) says how; keyword arguments naming its fields
    (``tol=``, ``max_iter=``, ``missing=``, ``dont_know_levels=``, ``min_cell=``,
    ``collapse=``, ``trim=``, ``best_effort=``, ``total=``) replace those fields.
    """
    raker = Raker(data, targets, options, **settings)
    return raker.fit(_as_start(start, data.index))


def rake(
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]],
    *,
    start: Any = None,
    options: RakeOptions | None = None,
    **settings: Any,
) -> pd.Series:
    """Raking (IPF) weights aligned to ``data.index``, mean 1 over weighted rows.

    Converged when every margin's achieved shares are within ``tol`` (absolute) of the targets.
    ``missing``: 'error' | 'category' (level ``'(missing)'``, needs a target) | 'exclude'
    (weight 0). ``dont_know_levels`` are treated like missing. ``trim``: ``max_ratio``,
    ``min_ratio`` (multiples of the mean), ``upper_quantile``, ``lower_quantile``. Levels with
    fewer than ``min_cell`` respondents (or none) are merged per ``collapse`` ('adjacent' or
    ``{var: {small: bigger} | 'adjacent'}``), with a warning. These are the fields of
    :class:`RakeOptions`: pass ``options=``, keyword arguments, or both (the keywords win).
    """
    if not isinstance(margins, Mapping):
        raise TargetsError(
            "rake needs margins as {variable: {level: share}}; use poststratify for a joint table"
        )
    raker = Raker(data, margins, options, **settings)
    return raker.fit(_as_start(start, data.index), diagnostics=False).weights


def poststratify(
    data: pd.DataFrame,
    joint_targets: pd.Series,
    *,
    start: Any = None,
    options: RakeOptions | None = None,
    **settings: Any,
) -> pd.Series:
    """Post-stratification weights to a joint table (Series with a MultiIndex named after the
    data columns -> share). Exact in one step; ``collapse`` maps sparse cells (tuples) into
    others. Options as for :func:`rake`."""
    if not isinstance(joint_targets, pd.Series):
        raise TargetsError("poststratify needs the joint targets as a pandas Series")
    raker = Raker(data, joint_targets, options, **settings)
    return raker.fit(_as_start(start, data.index), diagnostics=False).weights


def diagnose(
    weights: pd.Series | np.ndarray,
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]] | pd.Series,
    *,
    options: RakeOptions | None = None,
    **settings: Any,
) -> Diagnostics:
    """Diagnostics of any weights against margins (same level handling as :func:`rake`:
    ``missing``, ``dont_know_levels``, ``min_cell``, ``collapse``; ``tol`` for converged)."""
    raker = Raker(data, margins, options, warn=False, **settings)
    w = _as_start(weights, data.index)
    assert w is not None
    row_w = w if raker.active is None else w[raker.active]
    diag = fit_diagnostics(raker, row_w, iterations=None, converged=None, trimming=None)
    diag.converged = diag.max_error <= raker.tol
    return diag
