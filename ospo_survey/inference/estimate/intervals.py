"""Confidence intervals for a proportion from its effective sample size.

Why from n_eff: a design-based share comes with a variance, not a count; expressing it as the
effective sample size ``n_eff`` lets the score (Wilson) and exact (Clopper-Pearson,
Korn-Graubard) intervals, which behave well near 0 and 1, be used for weighted estimates.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ospo_survey.core.errors import EstimationError
from ospo_survey.inference import distributions as D

CIMethod = Literal["wilson", "beta", "logit", "wald"]


def ci_proportion(
    p: np.ndarray | float,
    n_eff: np.ndarray | float,
    *,
    method: CIMethod = "beta",
    level: float = 0.95,
    se: np.ndarray | float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval for a proportion from its effective sample size (Kish/Korn-Graubard idea).

    ``beta`` (the default): Korn-Graubard, Clopper-Pearson with ``x = p n_eff``, which is R's
    ``svyciprop(method="beta")`` when ``n_eff = p(1-p)/var``; ``wilson``: score interval;
    ``logit``: symmetric on the logit scale (needs ``se``); ``wald``. At
    ``p`` = 0 or 1 ``logit`` falls back to ``beta``; ``wald`` collapses to the point.
    """
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))
    m = np.broadcast_to(np.asarray(n_eff, dtype=np.float64), p.shape)
    sev = None if se is None else np.broadcast_to(np.asarray(se, dtype=np.float64), p.shape)
    alpha = 1 - level
    z = D.norm_ppf(1 - alpha / 2)
    lo = np.full(p.shape, np.nan)
    hi = np.full(p.shape, np.nan)
    ok = np.isfinite(p) & (m > 0)
    exact = ok & np.isinf(m)
    lo[exact] = hi[exact] = p[exact]
    ok &= ~exact
    edge = ok & ((p <= 0) | (p >= 1))
    if method == "wald":
        s = sev if sev is not None else np.sqrt(p * (1 - p) / np.where(m > 0, m, np.nan))
        lo[ok] = np.clip(p[ok] - z * s[ok], 0, 1)
        hi[ok] = np.clip(p[ok] + z * s[ok], 0, 1)
        return lo, hi
    if method == "wilson":
        mm, pp = m[ok], p[ok]
        den = 1 + z * z / mm
        centre = (pp + z * z / (2 * mm)) / den
        half = z / den * np.sqrt(pp * (1 - pp) / mm + z * z / (4 * mm * mm))
        lo[ok] = np.clip(centre - half, 0, 1)
        hi[ok] = np.clip(centre + half, 0, 1)
        lo[ok & (p <= 0)] = 0.0
        hi[ok & (p >= 1)] = 1.0
        return lo, hi
    if method == "logit":
        if sev is None:
            raise EstimationError("the logit interval needs se=: pass the standard errors")
        inner = ok & ~edge
        pp, ss = p[inner], sev[inner]
        half = z * ss / (pp * (1 - pp))
        lp = np.log(pp / (1 - pp))
        lo[inner] = 1 / (1 + np.exp(-(lp - half)))
        hi[inner] = 1 / (1 + np.exp(-(lp + half)))
        blo, bhi = ci_proportion(p[edge], m[edge], method="beta", level=level)
        lo[edge], hi[edge] = blo, bhi
        return lo, hi
    if method == "beta":
        mm, pp = m[ok], p[ok]
        x = pp * mm
        with np.errstate(invalid="ignore"):
            lo_ok = np.where(x > 0, D.beta_ppf(alpha / 2, x, mm - x + 1), 0.0)
            hi_ok = np.where(mm - x > 0, D.beta_ppf(1 - alpha / 2, x + 1, mm - x), 1.0)
        lo[ok], hi[ok] = lo_ok, hi_ok
        return lo, hi
    raise EstimationError(f"ci must be 'wilson', 'beta', 'logit' or 'wald', not {method!r}")
