"""What every estimator takes in: weights, replicate weights, groups, calibration indicators.

Why one place: each estimator accepts weights as a column name, a Series or an array, and
groups by one or several columns; checking and aligning them here makes a bad input fail the
same way (one line) whichever estimate asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EstimationError, UnknownVariableError, did_you_mean
from ospo_survey.inference.weights import Raker

WeightsArg = str | pd.Series | np.ndarray | Sequence[float] | None


def _column(df: pd.DataFrame, name: Any, what: str = "column") -> pd.Series:
    """``df[name]``, or one line naming the closest columns (a KeyError, as pandas' was)."""
    if name not in df.columns:
        raise UnknownVariableError(
            f"{what} {name!r} is not in the data:{did_you_mean(name, df.columns)} pass one of"
            f" its {len(df.columns)} columns"
        )
    return df[name]


def _weights(df: pd.DataFrame, weights: WeightsArg) -> np.ndarray:
    """Weights as a float array aligned to ``df`` rows; None means equal weights."""
    if weights is None:
        return np.ones(len(df))
    if isinstance(weights, str):
        w = _column(df, weights, "weight column").to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(weights, pd.Series):
        s = weights if weights.index.equals(df.index) else weights.reindex(df.index)
        w = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != len(df):
        raise EstimationError(
            f"{w.shape[0]} weights for {len(df)} rows: pass one weight per row, in row order"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = int(np.count_nonzero(~(np.isfinite(w) & (w >= 0))))
        where = f" in column {weights!r}" if isinstance(weights, str) else ""
        raise EstimationError(
            f"{bad} weight(s){where} are missing, infinite or negative: weights must be finite"
            " and >= 0 (set excluded rows to 0)"
        )
    return w


def _replicates(df: pd.DataFrame, replicates: Any) -> np.ndarray:
    if replicates is None:
        raise EstimationError(
            "se='replicate' needs replicates= (an (n, R) array of replicate weights)"
        )
    r = replicates.to_numpy(dtype=np.float64) if isinstance(replicates, pd.DataFrame) else None
    r = np.asarray(replicates, dtype=np.float64) if r is None else r
    if r.ndim != 2 or r.shape[0] != len(df) or r.shape[1] < 2:
        raise EstimationError(
            f"replicates must have shape ({len(df)}, R >= 2), got {r.shape}: one row per data"
            " row, one column per replicate"
        )
    return r


def _groups(df: pd.DataFrame, by: str | Sequence[str] | None) -> tuple[list[str], np.ndarray, list]:
    """Group code per row (-1 = a by-variable is missing) and the group keys in order."""
    if by is None:
        return [], np.zeros(len(df), dtype=np.int64), [()]
    cols = [by] if isinstance(by, str) else list(by)
    codes, labels = [], []
    for c in cols:
        s = _column(df, c, "by-variable")
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes.append(s.cat.codes.to_numpy().astype(np.int64))
            labels.append(s.cat.categories.tolist())
        else:
            try:
                k, u = pd.factorize(s, sort=True)
            except TypeError:
                k, u = pd.factorize(s, sort=False)
            codes.append(k.astype(np.int64))
            labels.append(pd.Index(u).tolist())
    ok = np.all(np.column_stack(codes) >= 0, axis=1)
    sizes = [len(x) for x in labels]
    key = np.zeros(len(df), dtype=np.int64)
    for k, size in zip(codes, sizes, strict=True):
        key = key * size + np.where(k >= 0, k, 0)
    occ, inv = np.unique(key[ok], return_inverse=True)
    g = np.full(len(df), -1, dtype=np.int64)
    g[ok] = inv
    keys = []
    for code in occ:
        parts = []
        for size in reversed(sizes):
            parts.append(int(code % size))
            code //= size
        parts.reverse()
        keys.append(tuple(lab[i] for lab, i in zip(labels, parts, strict=True)))
    return cols, g, keys


def calibration_matrix(
    df: pd.DataFrame, margins: Mapping[str, Mapping[Any, float]], **rake_kwargs: Any
) -> np.ndarray:
    """Indicators of the raking margins' levels (after the same missing/collapse handling as
    :func:`ospo_survey.inference.weights.rake`), for calibration residuals."""
    kw = {
        k: v
        for k, v in rake_kwargs.items()
        if k in ("options", "missing", "dont_know_levels", "min_cell", "collapse")
    }
    return Raker(df, margins, warn=False, **kw).design_matrix()


class _Calibration:
    """Residualise linearised variables on the raking indicators, so raked estimates get the
    smaller variance that raking buys. Unweighted least squares by default — what R's
    ``rake()`` variance (back-fitting within margins) and ``svy`` do; with regression weights
    (the pre-raking weights) it is the GREG residual of R's ``calibrate()``."""

    def __init__(self, x: np.ndarray, base: np.ndarray) -> None:
        sw = np.sqrt(base)
        u, s, _ = np.linalg.svd(x * sw[:, None], full_matrices=False)
        keep = s > s.max() * 1e-10 if s.size else s > 0
        self.q = u[:, keep]
        self.sw = sw

    def residual(self, z: np.ndarray) -> np.ndarray:
        """Residual of ``z`` (n, k) on the indicators; rows with base weight 0 get 0."""
        zz = z * self.sw[:, None]
        r = zz - self.q @ (self.q.T @ zz)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.sw[:, None] > 0, r / self.sw[:, None], 0.0)


def _calibration(
    df: pd.DataFrame,
    margins: Any,
    calibration_weights: WeightsArg,
    rake_kwargs: Mapping[str, Any] | None,
) -> _Calibration | None:
    if margins is None:
        return None
    x = (
        margins
        if isinstance(margins, np.ndarray)
        else calibration_matrix(df, margins, **(rake_kwargs or {}))
    )
    if x.shape[0] != len(df):
        raise EstimationError(
            f"the calibration matrix has {x.shape[0]} rows for {len(df)} data rows: pass one"
            " row per data row"
        )
    return _Calibration(x, _weights(df, calibration_weights))
