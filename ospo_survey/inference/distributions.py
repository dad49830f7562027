"""The few distribution functions the estimators need, from ``scipy.special``.

``scipy.stats`` costs about a second to import (its hundreds of distribution classes) in every
page kernel; these are the same functions it calls underneath, so results are identical
(checked in ``tests/test_estimate.py``). ``scipy.special`` itself is imported on first use, and
the normal quantiles of the usual interval levels are kept as ``ndtri`` gives them, so a
session that only asks for shares and their intervals never imports scipy.
"""

from __future__ import annotations

from typing import Any

# ``scipy.special.ndtri(q)`` for the quantiles of 90%, 95% and 99% intervals, bit for bit
# (``tests/test_estimate.py`` compares them with scipy)
NDTRI = {0.95: 1.6448536269514722, 0.975: 1.959963984540054, 0.995: 2.5758293035489004}


def _special() -> Any:
    from scipy import special

    return special


def norm_ppf(q: Any) -> Any:
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    if isinstance(q, float) and q in NDTRI:
        return NDTRI[q]
    return _special().ndtri(q)


def norm_sf(x: Any) -> Any:
    """Standard normal upper tail (``scipy.stats.norm.sf``)."""
    return _special().ndtr(-x)


def beta_ppf(q: Any, a: Any, b: Any) -> Any:
    """Beta quantile (``scipy.stats.beta.ppf``)."""
    return _special().betaincinv(a, b, q)


def chi2_sf(x: Any, df: Any) -> Any:
    """Chi-squared upper tail (``scipy.stats.chi2.sf``)."""
    return _special().chdtrc(df, x)


def f_sf(x: Any, dfn: Any, dfd: Any) -> Any:
    """F upper tail (``scipy.stats.f.sf``)."""
    return _special().fdtrc(dfn, dfd, x)
