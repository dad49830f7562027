"""Rao-Scott tests of independence for a weighted two-way table.

Why not Pearson's: weighting inflates the variance of the cell shares, so the plain X^2 test
rejects too often; the Rao-Scott corrections scale it by the design effects (R ``svychisq``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EstimationError
from ospo_survey.inference import distributions as D
from ospo_survey.inference.estimate.inputs import WeightsArg, _calibration, _column, _weights


def rao_scott(
    df: pd.DataFrame,
    row: str,
    col: str,
    weights: WeightsArg = None,
    *,
    margins: Mapping[str, Mapping[Any, float]] | np.ndarray | None = None,
    calibration_weights: WeightsArg = None,
    rake_kwargs: Mapping[str, Any] | None = None,
    degf: int | None = None,
) -> pd.Series:
    """Pearson and Rao-Scott tests of independence for a weighted two-way table.

    ``degf``: the design's degrees of freedom (default: rows - 1). Within a subpopulation R
    keeps the whole design for the variance but takes them from the subset's rows
    (``svychisq`` on ``subset(design, ...)``): pass the subset's rows - 1 to match it.

    Follows R ``survey::svychisq``: Pearson X^2 on the weighted table scaled to the design's
    n; Delta from the linearised covariance of the cell shares; ``F = X^2 / tr(Delta)`` on
    ``(d, d (n-1))`` df with ``d = tr(Delta)^2 / tr(Delta^2)`` (second-order, "F");
    ``chi2_rs = X^2 df / tr(Delta)`` (first-order, "Chisq"). Rows missing either variable are
    outside the domain but stay in the design, as in ``svy`` with ``drop_nulls=True``.
    """
    w = _weights(df, weights)
    n = len(df)
    rs, cs = _column(df, row, "row variable"), _column(df, col, "column variable")
    ok = (rs.notna() & cs.notna()).to_numpy().copy()
    rk, rl = _codes(rs)
    ck, cl = _codes(cs)
    ok &= (rk >= 0) & (ck >= 0)
    r_used = np.unique(rk[ok & (w > 0)])
    c_used = np.unique(ck[ok & (w > 0)])
    nr, nc = r_used.size, c_used.size
    if nr < 2 or nc < 2:
        raise EstimationError(
            f"the table of {row!r} by {col!r} has {nr} observed row and {nc} observed column"
            " level(s): the test needs at least two of each"
        )
    rmap = np.full(len(rl), -1)
    rmap[r_used] = np.arange(nr)
    cmap = np.full(len(cl), -1)
    cmap[c_used] = np.arange(nc)
    cell = np.where(ok, rmap[np.maximum(rk, 0)] + nr * cmap[np.maximum(ck, 0)], -1)
    ok &= cell >= 0
    k = nr * nc
    wd = np.where(ok, w, 0.0)
    tot = wd.sum()
    p = np.bincount(cell[ok], weights=wd[ok], minlength=k) / tot
    y = np.zeros((n, k))
    y[np.flatnonzero(ok), cell[ok]] = 1.0
    u = ok[:, None] * (y - p) / tot
    cal = _calibration(df, margins, calibration_weights, rake_kwargs)
    if cal is not None:
        u = cal.residual(u)
    zz = w[:, None] * u
    zz -= zz.mean(axis=0)
    v = n / (n - 1) * (zz.T @ zz)
    tab = (p * n).reshape(nc, nr).T
    expected = np.outer(tab.sum(axis=1), tab.sum(axis=0)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = float(np.nansum((tab - expected) ** 2 / expected))
    rows = np.tile(np.arange(nr), nc)
    cols = np.repeat(np.arange(nc), nr)
    x1 = np.column_stack(
        [np.ones(k)]
        + [(rows == i).astype(float) for i in range(1, nr)]
        + [(cols == j).astype(float) for j in range(1, nc)]
    )
    x12 = np.column_stack(
        [((rows == i) & (cols == j)).astype(float) for j in range(1, nc) for i in range(1, nr)]
    )
    q, _ = np.linalg.qr(x1)
    cmat = x12 - q @ (q.T @ x12)
    inv_p = np.where(p > 0, 1 / np.where(p > 0, p, 1), 0.0)
    denom = (cmat.T * (inv_p / n)) @ cmat
    scaled = cmat * inv_p[:, None]
    numer = scaled.T @ v @ scaled
    delta = np.linalg.solve(denom, numer)
    tr = float(np.trace(delta))
    tr2 = float(np.trace(delta @ delta))
    dfree = (nr - 1) * (nc - 1)
    d0 = tr * tr / tr2
    nu = n - 1 if degf is None else int(degf)
    f = x2 / tr
    chi_rs = x2 * dfree / tr
    return pd.Series(
        {
            "chi2": x2,
            "df": dfree,
            "p_chi2": float(D.chi2_sf(x2, dfree)),
            "chi2_rs": chi_rs,
            "p_rs": float(D.chi2_sf(chi_rs, dfree)),
            "F": f,
            "ndf": d0,
            "ddf": d0 * nu,
            "p_F": float(D.f_sf(f, d0, d0 * nu)),
            "mean_deff": tr / dfree,
            "n": int(np.count_nonzero(ok & (w > 0))),
        }
    )


def _codes(s: pd.Series) -> tuple[np.ndarray, list[Any]]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64), s.cat.categories.tolist()
    try:
        k, u = pd.factorize(s, sort=True)
    except TypeError:
        k, u = pd.factorize(s, sort=False)
    return k.astype(np.int64), pd.Index(u).tolist()
