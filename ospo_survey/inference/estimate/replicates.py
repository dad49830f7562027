"""Bootstrap replicate weights: Rao-Wu rescaling, each replicate raked again.

Why re-rake every replicate: the raking is part of the estimator, so a replicate variance
that skipped it would leave out what the raking adds to (or removes from) the variance.

Variance from ``R`` replicate estimates ``t_r``: ``sum_r (t_r - mean t)^2 / (R - 1)``, which is
R's ``svrepdesign(type="bootstrap", combined.weights=TRUE, scale=1/(R-1), rscales=1,
mse=FALSE)`` (:data:`R_CALL` reads the release's replicate columns that way).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EmptyLevelError, EstimationError, WeightingError
from ospo_survey.inference.estimate.inputs import WeightsArg, _weights
from ospo_survey.inference.weights import Raker

REPLICATES = 200  # bootstrap replicates of a design (se="replicate") and of the release
REPLICATE_SEED = 20181019  # fixed: the same replicates in every run
REPLICATE_PREFIX = "rep_"  # rep_001 ... rep_200
R_CALL = (
    'svrepdesign(data = d, type = "bootstrap", weights = ~weight, repweights = "rep_[0-9]+",'
    " combined.weights = TRUE, scale = 1 / (R - 1), rscales = 1, mse = FALSE)"
)


def replicate_names(n_rep: int = REPLICATES) -> list[str]:
    """Column names of the replicate weights: ``rep_001`` ... (zero-padded, sortable).

    >>> replicate_names(3)
    ['rep_001', 'rep_002', 'rep_003']
    """
    width = max(3, len(str(n_rep)))
    return [f"{REPLICATE_PREFIX}{r:0{width}d}" for r in range(1, n_rep + 1)]


def rao_wu_draws(strata: np.ndarray, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless Rao-Wu rescaling bootstrap draws with ``strata`` (one code per row) as strata.

    Each draw resamples ``n_h - 1`` rows with replacement within every stratum ``h`` and
    returns the rescaling factor of every row, ``m_i * n_h / (n_h - 1)`` (``m_i`` the times row
    ``i`` was drawn), so that every stratum's factors sum to its ``n_h``. Multiply the main
    weights (or start weights) by a draw to get a replicate's weights before any re-raking.

    >>> f = next(rao_wu_draws(np.array([0, 0, 0, 1, 1]), np.random.default_rng(1)))
    >>> float(f[:3].sum()), float(f[3:].sum())
    (3.0, 2.0)
    """
    strata = np.asarray(strata)
    groups = [np.flatnonzero(strata == h) for h in np.unique(strata)]
    for rows in groups:
        if rows.size < 2:
            raise WeightingError(
                "a bootstrap stratum needs at least two respondents; merge it with another"
            )
    while True:
        out = np.zeros(strata.shape[0])
        for rows in groups:
            n_h = rows.size
            m = np.bincount(rng.integers(0, n_h, size=n_h - 1), minlength=n_h)
            out[rows] = m * (n_h / (n_h - 1))
        yield out


def replicate_weights(
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]] | pd.Series,
    n_rep: int = 200,
    seed: int | np.random.Generator | None = None,
    *,
    start: WeightsArg = None,
    max_redraws: int = 100,
    **rake_kwargs: Any,
) -> np.ndarray:
    """Rao-Wu rescaling bootstrap (one stratum, ``n - 1`` draws), each replicate re-raked.

    Returns an ``(n, n_rep)`` array (rows in ``data`` order; excluded rows are 0), each column
    with the same total as the main weights. Re-raking every replicate is what lets the
    replicate variance reflect the raking. A draw that leaves a target level without any
    respondent cannot be raked and is redrawn (at most ``max_redraws`` times in all).
    Deterministic for an integer ``seed``.
    """
    if n_rep < 2:
        raise EstimationError(f"n_rep must be at least 2, not {n_rep}: pass n_rep=2 or more")
    raker = Raker(data, margins, **rake_kwargs)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    base = _weights(data, start)
    act = np.arange(len(data)) if raker.active is None else np.flatnonzero(raker.active)
    m = act.size
    if m < 2:
        raise WeightingError("at least two respondents are needed for bootstrap replicates")
    out = np.empty((len(data), n_rep))
    redraws = 0
    for r in range(n_rep):
        while True:
            mult = np.bincount(rng.integers(0, m, size=m - 1), minlength=m) * (m / (m - 1))
            s = np.zeros(len(data))
            s[act] = base[act] * mult
            try:
                out[:, r] = raker.fit(s, diagnostics=False).weights.to_numpy()
                break
            except EmptyLevelError:
                redraws += 1
                if redraws > max_redraws:
                    raise WeightingError(
                        f"bootstrap replicates kept dropping every respondent of a target level "
                        f"({redraws} redraws); collapse sparse levels first (min_cell=...)"
                    ) from None
    if redraws:
        import warnings

        warnings.warn(
            f"{redraws} bootstrap draw(s) left a target level empty and were redrawn; consider "
            "min_cell/collapse for sparse levels",
            UserWarning,
            stacklevel=2,
        )
    return out
