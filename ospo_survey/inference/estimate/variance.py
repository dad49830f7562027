"""R's with-replacement linearised variance, with strata, in one place.

Why one function: every verb (shares, differences, models, adjusted shares) ends with the
same step, the variance of a total of influence values, and it must be R ``survey``'s step
(``svyrecvar`` -> ``onestage`` -> ``onestrat``) so that our standard errors are R's numbers.
The survey years are independent samples, so a pooled estimate treats each year as a stratum
(``svydesign(ids=~1, strata=~year, weights=~w)``). Rows of a stratum that are not passed
(outside a subset, or missing an answer) count as zeros, as R pads a subset to its stratum's
size: ``sizes`` gives each stratum's rows in the design.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ospo_survey.core.errors import EstimationError


def stratified_variance(
    u: np.ndarray,
    strata: np.ndarray | None = None,
    sizes: Mapping[Any, int] | int | None = None,
    *,
    full: bool = False,
) -> np.ndarray:
    """Variance of the total of ``u`` (rows x k influence values), R's linearisation.

    ``sum_h N_h/(N_h-1) sum_{i in h} (u_i - ubar_h)(u_i - ubar_h)'`` with
    ``ubar_h = sum_{i in h} u_i / N_h`` and ``N_h`` the stratum's rows in the design
    (``sizes``; default the rows passed). Returns the k variances, or the k x k covariance
    with ``full=True``.

    >>> u = np.array([[1.0], [-1.0], [0.5], [-0.5]])
    >>> float(stratified_variance(u)[0])
    3.333333333333333
    >>> float(stratified_variance(u, np.array([0, 0, 1, 1]))[0])
    5.0
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == 1:
        u = u[:, None]
    k = u.shape[1]
    out = np.zeros((k, k)) if full else np.zeros(k)
    if strata is None:
        parts: list[tuple[Any, np.ndarray]] = [(None, u)]
    else:
        strata = np.asarray(strata)
        parts = [(h, u[strata == h]) for h in dict.fromkeys(strata.tolist())]
    for h, uh in parts:
        if isinstance(sizes, Mapping):
            n_h = int(sizes.get(h, len(uh)))
        elif sizes is not None and strata is None:
            n_h = int(sizes)
        else:
            n_h = len(uh)
        if n_h < len(uh):
            raise EstimationError(f"stratum {h!r} has {len(uh)} rows but a design size of {n_h}")
        if n_h < 2:
            continue
        mean = uh.sum(axis=0) / n_h
        dev = uh - mean
        pad = n_h - len(uh)   # rows of the stratum not passed: zeros, deviation -mean
        if full:
            ss = dev.T @ dev + pad * np.outer(mean, mean)
        else:
            ss = np.einsum("ij,ij->j", dev, dev) + pad * mean * mean
        out += n_h / (n_h - 1) * ss
    return out
