"""Bootstrap replicate weights: Rao-Wu rescaling, each replicate raked again.

Why re-rake every replicate: the raking is part of the estimator, so a replicate variance
that skipped it would leave out what the raking adds to (or removes from) the variance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EmptyLevelError, EstimationError, WeightingError
from ospo_survey.inference.estimate.inputs import WeightsArg, _weights
from ospo_survey.inference.weights import Raker


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
