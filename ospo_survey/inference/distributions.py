"""The few distribution functions the estimators need, from ``scipy.special``.

``scipy.stats`` costs about a second to import (its hundreds of distribution classes) in every
page kernel; these are the same functions it calls underneath, so results are identical
(checked in ``tests/test_estimate.py``).
"""

from __future__ import annotations

from typing import Any

from scipy import special


def norm_ppf(q: Any) -> Any:
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    return special.ndtri(q)


def norm_sf(x: Any) -> Any:
    """Standard normal upper tail (``scipy.stats.norm.sf``)."""
    return special.ndtr(-x)


def beta_ppf(q: Any, a: Any, b: Any) -> Any:
    """Beta quantile (``scipy.stats.beta.ppf``)."""
    return special.betaincinv(a, b, q)


def chi2_sf(x: Any, df: Any) -> Any:
    """Chi-squared upper tail (``scipy.stats.chi2.sf``)."""
    return special.chdtrc(df, x)


def f_sf(x: Any, dfn: Any, dfd: Any) -> Any:
    """F upper tail (``scipy.stats.f.sf``)."""
    return special.fdtrc(dfn, dfd, x)
