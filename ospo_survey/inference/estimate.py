"""Design-based estimates with tidy, fixed-column outputs (srvyr style).

Why these formulas: the OSPO survey is a single-stage, unstratified sample of respondents whose
weights come from raking, so the with-replacement linearisation (optionally with calibration
residuals on the raking margins) and the Rao-Wu bootstrap with re-raked replicates are the
standard variance estimators. They match R's ``survey`` for ``svydesign(ids=~1, weights=~w)``
(and ``calibrate``d designs), which the oracle tests check against the ``svy`` package.

Default variance, and why: the weights are treated as fixed (plain with-replacement
linearisation, R ``svydesign(ids=~1, weights=~w)``) and the effective n of an estimate is never
credited above the Kish effective n of its base, ``(sum w)^2 / sum w^2 <= n``. The reference
targets are derived from the pooled sample itself, so they are not known population totals:
calibration residuals would treat them as such and shrink the variance below simple random
sampling (a share could be credited with more effective respondents than it has).
Calibration stays available for targets that *are* known totals: pass ``margins=`` (then no
Kish floor applies unless ``kish_floor=True``).

Every estimation function returns ``[group columns...], variable, level, estimate, se, ci_low,
ci_high, n, n_eff, deff, suppressed`` (plus ``count``): ``n`` is the unweighted base,
``n_eff = n / deff`` the estimate's effective sample size, and ``suppressed`` flags
``n_eff < min_n_eff`` (NCHS-style presentation standard).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ospo_survey.core.errors import ModelError, WeightingError
from ospo_survey.inference import distributions as D
from ospo_survey.inference.weights import EmptyLevelError, Raker

__all__ = [
    "OUTPUT_COLUMNS",
    "calibration_matrix",
    "ci_proportion",
    "difference",
    "LogisticFit",
    "logistic",
    "logistic_fit",
    "multi_proportions",
    "proportions",
    "rao_scott",
    "replicate_weights",
    "suppress",
]

OUTPUT_COLUMNS = [
    "variable",
    "level",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n",
    "count",
    "n_eff",
    "deff",
    "suppressed",
]

CIMethod = Literal["wilson", "beta", "logit", "wald"]
SEMethod = Literal["linearized", "replicate"]
WeightsArg = str | pd.Series | np.ndarray | Sequence[float] | None


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _weights(df: pd.DataFrame, weights: WeightsArg) -> np.ndarray:
    """Weights as a float array aligned to ``df`` rows; None means equal weights."""
    if weights is None:
        return np.ones(len(df))
    if isinstance(weights, str):
        if weights not in df.columns:
            raise KeyError(f"weight column {weights!r} is not in the data")
        w = df[weights].to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(weights, pd.Series):
        s = weights if weights.index.equals(df.index) else weights.reindex(df.index)
        w = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != len(df):
        raise ValueError(f"{w.shape[0]} weights for {len(df)} rows")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0 (set excluded rows to 0)")
    return w


def _replicates(df: pd.DataFrame, replicates: Any) -> np.ndarray:
    if replicates is None:
        raise ValueError("se='replicate' needs replicates= (an (n, R) array of replicate weights)")
    r = replicates.to_numpy(dtype=np.float64) if isinstance(replicates, pd.DataFrame) else None
    r = np.asarray(replicates, dtype=np.float64) if r is None else r
    if r.ndim != 2 or r.shape[0] != len(df) or r.shape[1] < 2:
        raise ValueError(f"replicates must have shape ({len(df)}, R >= 2), got {r.shape}")
    return r


def _groups(df: pd.DataFrame, by: str | Sequence[str] | None) -> tuple[list[str], np.ndarray, list]:
    """Group code per row (-1 = a by-variable is missing) and the group keys in order."""
    if by is None:
        return [], np.zeros(len(df), dtype=np.int64), [()]
    cols = [by] if isinstance(by, str) else list(by)
    codes, labels = [], []
    for c in cols:
        s = df[c]
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
        if k in ("missing", "dont_know_levels", "min_cell", "collapse")
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
        raise ValueError("the calibration matrix must have one row per data row")
    return _Calibration(x, _weights(df, calibration_weights))


# --------------------------------------------------------------------------------------------
# Confidence intervals
# --------------------------------------------------------------------------------------------


def ci_proportion(
    p: np.ndarray | float,
    n_eff: np.ndarray | float,
    *,
    method: CIMethod = "wilson",
    level: float = 0.95,
    se: np.ndarray | float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval for a proportion from its effective sample size (Kish/Korn-Graubard idea).

    ``wilson``: score interval with ``n_eff``; ``beta``: Clopper-Pearson with ``x = p n_eff``
    (Korn-Graubard); ``logit``: symmetric on the logit scale (needs ``se``); ``wald``. At
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
            raise ValueError("the logit interval needs se")
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
    raise ValueError(f"ci must be 'wilson', 'beta', 'logit' or 'wald', not {method!r}")


# --------------------------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------------------------


def _estimate(
    y: np.ndarray,
    base: np.ndarray,
    w: np.ndarray,
    g: np.ndarray,
    *,
    se: SEMethod,
    reps: np.ndarray | None,
    cal: _Calibration | None,
) -> list[dict[str, np.ndarray]]:
    """Ratio estimates of the columns of ``y`` within each group's base, with variances.

    Linearised: ``v = n/(n-1) sum_i (z_i - mean z)^2`` with ``z_i = w_i d_i (y_i - p) / sum w d``
    over every row of the design (domain estimation keeps the full design, as ``svyby`` does).
    """
    n = len(w)
    c = n / (n - 1) if n > 1 else math.nan
    out = []
    for gi in range(int(g.max()) + 1 if g.size else 0):
        d = (g == gi) & base
        wd = w * d
        tot = wd.sum()
        nd = int(np.count_nonzero(d & (w > 0)))
        counts = (y[d & (w > 0)] > 0).sum(axis=0).astype(np.int64)
        if tot <= 0:
            k = y.shape[1]
            out.append(
                {
                    "p": np.full(k, np.nan),
                    "var": np.full(k, np.nan),
                    "n": nd,
                    "count": counts,
                    "kish": math.nan,
                }
            )
            continue
        p = wd @ y / tot
        kish = tot * tot / float(np.dot(wd, wd))
        if se == "replicate":
            assert reps is not None
            rd = reps * d[:, None]
            den = rd.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                pr = (y.T @ rd) / den
            var = np.nanvar(pr, axis=1, ddof=1)
        else:
            u = d[:, None] * (y - p) / tot
            if cal is not None:
                u = cal.residual(u)
            z = w[:, None] * u
            z -= z.mean(axis=0)
            var = c * np.einsum("ij,ij->j", z, z)
        out.append({"p": p, "var": var, "n": nd, "count": counts, "kish": kish})
    return out


def _frame(
    results: list[dict[str, Any]],
    by_cols: list[str],
    keys: list[tuple],
    variable: str,
    levels: list[Any],
    *,
    n_design: int,
    ci: CIMethod,
    level: float,
    min_n_eff: float,
    kish_floor: bool = False,
) -> pd.DataFrame:
    """One row per group and level (``OUTPUT_COLUMNS``), built column by column: this runs for
    every estimate on a page, and a frame of records costs several times more."""
    c = n_design / (n_design - 1) if n_design > 1 else math.nan
    cols = [*by_cols, *OUTPUT_COLUMNS[:-1]]
    k, m = len(levels), len(results)
    if not k or not m:
        frame = pd.DataFrame.from_records([], columns=cols)
        frame["n"] = frame["n"].astype(np.int64)
        frame["count"] = frame["count"].astype(np.int64)
        frame["suppressed"] = ~(frame["n_eff"] >= min_n_eff)
        return frame
    parts: dict[str, list[np.ndarray]] = {
        name: [] for name in ("estimate", "se", "ci_low", "ci_high", "n_eff", "deff")}
    for r in results:
        p, var = r["p"], np.maximum(r["var"], 0.0)
        pq = p * (1 - p)
        interior = (p > 0) & (p < 1)
        if kish_floor and r["kish"] > 0:
            # weights treated as fixed: no more information than the base's Kish n_eff
            with np.errstate(invalid="ignore"):
                var = np.where(interior, np.maximum(var, c * pq / r["kish"]), var)
        se = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = np.where(interior, np.where(var > 0, c * pq / var, np.inf), r["kish"])
            deff = np.where(interior, var / (c * pq / r["n"]), np.nan)
        lo, hi = ci_proportion(p, n_eff, method=ci, level=level, se=se)
        for name, values in (("estimate", p), ("se", se), ("ci_low", lo), ("ci_high", hi),
                             ("n_eff", n_eff), ("deff", deff)):
            parts[name].append(np.broadcast_to(np.asarray(values, dtype=np.float64), (k,)))
    data: dict[str, Any] = {
        col: [key[j] for key in keys for _ in range(k)] for j, col in enumerate(by_cols)}
    data["variable"] = [variable] * (m * k)
    data["level"] = list(levels) * m
    for name in ("estimate", "se", "ci_low", "ci_high"):
        data[name] = np.concatenate(parts[name])
    data["n"] = np.repeat(np.array([int(r["n"]) for r in results], dtype=np.int64), k)
    data["count"] = np.concatenate(
        [np.asarray(r["count"], dtype=np.int64).reshape(k) for r in results])
    data["n_eff"] = np.concatenate(parts["n_eff"])
    data["deff"] = np.concatenate(parts["deff"])
    frame = pd.DataFrame(data, columns=cols)
    frame["suppressed"] = ~(frame["n_eff"] >= min_n_eff)
    return frame


def proportions(
    df: pd.DataFrame,
    variable: str,
    *,
    weights: WeightsArg = None,
    by: str | Sequence[str] | None = None,
    ci: CIMethod = "wilson",
    level: float = 0.95,
    se: SEMethod = "linearized",
    replicates: Any = None,
    margins: Mapping[str, Mapping[Any, float]] | np.ndarray | None = None,
    calibration_weights: WeightsArg = None,
    rake_kwargs: Mapping[str, Any] | None = None,
    levels: Sequence[Any] | None = None,
    min_n_eff: float = 30,
    kish_floor: bool | None = None,
) -> pd.DataFrame:
    """Shares of a single-choice variable (NaN excluded from the base), per ``by`` group.

    Levels follow the categorical order (all categories, even empty ones) or ``levels=``.
    ``margins`` (the raking targets, or a ready indicator matrix) switches on calibration
    residuals in the linearised variance (``rake_kwargs``: the missing/collapse options used
    when raking); ``calibration_weights`` makes them GREG residuals weighted by the pre-raking
    weights (R ``calibrate``) instead of R ``rake``'s unweighted ones. Use it only when the
    targets are known population totals. ``kish_floor`` (default: on without ``margins``, for
    linearised SEs) keeps each estimate's effective n at or below its base's Kish n_eff, so
    weights treated as fixed never make a share look more precise than its respondents allow;
    ``kish_floor=False`` gives the plain linearisation (R ``survey``'s number).
    """
    s = df[variable]
    if levels is None:
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = s.cat.categories.tolist()
        else:
            try:
                levels = sorted(s.dropna().unique().tolist())
            except TypeError:
                levels = s.dropna().unique().tolist()
    levels = list(levels)
    if isinstance(s.dtype, pd.CategoricalDtype) and levels:
        # compare the integer codes (one pass) instead of the labels level by level
        codes = s.cat.codes.to_numpy()
        notna = codes >= 0
        pos = s.cat.categories.get_indexer(pd.Index(levels, dtype=object))
        y = (codes[:, None] == pos[None, :]) & (pos >= 0)[None, :]
    else:
        notna = s.notna().to_numpy()
        y = (
            np.column_stack([(s == lev).to_numpy(dtype=bool, na_value=False) for lev in levels])
            if (levels)
            else np.zeros((len(df), 0))
        )
    outside = notna & ~y.any(axis=1) if levels else notna
    if outside.any():
        raise ValueError(f"{variable!r} has values outside levels= (e.g. {s[outside].iloc[0]!r})")
    return _run(
        df,
        y.astype(np.float64),
        notna,
        variable,
        levels,
        weights=weights,
        by=by,
        ci=ci,
        level=level,
        se=se,
        replicates=replicates,
        margins=margins,
        calibration_weights=calibration_weights,
        rake_kwargs=rake_kwargs,
        min_n_eff=min_n_eff,
        kish_floor=kish_floor,
    )


def multi_proportions(
    df: pd.DataFrame,
    columns: Mapping[Any, str] | Sequence[str],
    *,
    name: str = "multi",
    base: str | pd.Series | np.ndarray | None = None,
    weights: WeightsArg = None,
    by: str | Sequence[str] | None = None,
    ci: CIMethod = "wilson",
    level: float = 0.95,
    se: SEMethod = "linearized",
    replicates: Any = None,
    margins: Mapping[str, Mapping[Any, float]] | np.ndarray | None = None,
    calibration_weights: WeightsArg = None,
    rake_kwargs: Mapping[str, Any] | None = None,
    min_n_eff: float = 30,
    kish_floor: bool | None = None,
) -> pd.DataFrame:
    """Shares ticking each option of a multiple-choice question (``variable`` = ``name``).

    Base: respondents who ticked at least one option, unless ``base`` (mask or column) is
    given — e.g. everyone who saw the question, when "none" is a legitimate answer.
    """
    mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    ys = []
    for label, col in mapping.items():
        v = df[col]
        arr = v.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isnan(arr) & (arr != 0) & (arr != 1)
        if bad.any():
            raise ValueError(f"multiple-choice column {col!r} ({label!r}) is not boolean/0-1")
        ys.append(np.nan_to_num(arr, nan=0.0))
    y = np.column_stack(ys) if ys else np.zeros((len(df), 0))
    if base is None:
        mask = y.any(axis=1)
    elif isinstance(base, str):
        mask = df[base].to_numpy(dtype=bool, na_value=False)
    elif isinstance(base, pd.Series):
        mask = base.reindex(df.index).to_numpy(dtype=bool, na_value=False)
    else:
        mask = np.asarray(base, dtype=bool).reshape(-1)
    return _run(
        df,
        y,
        mask,
        name,
        list(mapping),
        weights=weights,
        by=by,
        ci=ci,
        level=level,
        se=se,
        replicates=replicates,
        margins=margins,
        calibration_weights=calibration_weights,
        rake_kwargs=rake_kwargs,
        min_n_eff=min_n_eff,
        kish_floor=kish_floor,
    )


def _run(
    df: pd.DataFrame,
    y: np.ndarray,
    base: np.ndarray,
    variable: str,
    levels: list[Any],
    *,
    weights: WeightsArg,
    by: str | Sequence[str] | None,
    ci: CIMethod,
    level: float,
    se: SEMethod,
    replicates: Any,
    margins: Any,
    calibration_weights: WeightsArg,
    rake_kwargs: Mapping[str, Any] | None,
    min_n_eff: float,
    kish_floor: bool | None = None,
) -> pd.DataFrame:
    if se not in ("linearized", "replicate"):
        raise ValueError(f"se must be 'linearized' or 'replicate', not {se!r}")
    w = _weights(df, weights)
    reps = _replicates(df, replicates) if se == "replicate" else None
    cal = (
        _calibration(df, margins, calibration_weights, rake_kwargs) if se == "linearized" else None
    )
    by_cols, g, keys = _groups(df, by)
    res = _estimate(y, base.astype(bool), w, g, se=se, reps=reps, cal=cal)
    frame = _frame(
        res,
        by_cols,
        keys,
        variable,
        levels,
        n_design=len(df),
        ci=ci,
        level=level,
        min_n_eff=min_n_eff,
        kish_floor=(margins is None and se == "linearized") if kish_floor is None else kish_floor,
    )
    for c in by_cols:  # keep the group order of categorical by-variables
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            frame[c] = frame[c].astype(df[c].dtype)
    return frame


def suppress(
    frame: pd.DataFrame,
    min_n_eff: float = 30,
    *,
    columns: Sequence[str] = ("estimate", "se", "ci_low", "ci_high"),
) -> pd.DataFrame:
    """Blank estimates whose effective sample size is below ``min_n_eff`` (NaN counts as below)."""
    out = frame.copy()
    out["suppressed"] = ~(out["n_eff"] >= min_n_eff)
    cols = [c for c in columns if c in out.columns]
    out.loc[out["suppressed"], cols] = np.nan
    return out


# --------------------------------------------------------------------------------------------
# Differences between independent samples
# --------------------------------------------------------------------------------------------


def difference(
    df_a: pd.DataFrame,
    df_b: pd.DataFrame,
    variable: str,
    level: Any,
    weights_a: WeightsArg = None,
    weights_b: WeightsArg = None,
    *,
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    **kwargs: Any,
) -> pd.DataFrame:
    """Change of one level's share from sample a to sample b (e.g. one year to the next).

    ``estimate = estimate_b - estimate_a``; the samples are independent, so
    ``se = sqrt(se_a^2 + se_b^2)``; Wald CI and two-sided normal p-value. Extra keyword
    arguments go to :func:`proportions` for both samples (``replicates`` is per sample, so pass
    ``se='linearized'`` or use ``replicates_a``/``replicates_b``).
    """
    rep_a = kwargs.pop("replicates_a", None)
    rep_b = kwargs.pop("replicates_b", None)
    fa = proportions(df_a, variable, weights=weights_a, by=by, replicates=rep_a, **kwargs)
    fb = proportions(df_b, variable, weights=weights_b, by=by, replicates=rep_b, **kwargs)
    fa = fa[fa["level"] == level]
    fb = fb[fb["level"] == level]
    if fa.empty or fb.empty:
        raise ValueError(f"level {level!r} is not a level of {variable!r} in both samples")
    by_cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    keep = [*by_cols, "variable", "level", "estimate", "se", "n", "n_eff"]
    m = fa[keep].merge(fb[keep], on=[*by_cols, "variable", "level"], suffixes=("_a", "_b"))
    z = D.norm_ppf(1 - (1 - conf_level) / 2)
    m["estimate"] = m["estimate_b"] - m["estimate_a"]
    m["se"] = np.sqrt(m["se_a"] ** 2 + m["se_b"] ** 2)
    m["ci_low"] = m["estimate"] - z * m["se"]
    m["ci_high"] = m["estimate"] + z * m["se"]
    with np.errstate(divide="ignore", invalid="ignore"):
        m["z"] = m["estimate"] / m["se"]
    m["p_value"] = 2 * D.norm_sf(np.abs(m["z"]))
    order = [
        *by_cols,
        "variable",
        "level",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "z",
        "p_value",
        "estimate_a",
        "se_a",
        "n_a",
        "n_eff_a",
        "estimate_b",
        "se_b",
        "n_b",
        "n_eff_b",
    ]
    return m[order].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Rao-Scott test of independence
# --------------------------------------------------------------------------------------------


def rao_scott(
    df: pd.DataFrame,
    row: str,
    col: str,
    weights: WeightsArg = None,
    *,
    margins: Mapping[str, Mapping[Any, float]] | np.ndarray | None = None,
    calibration_weights: WeightsArg = None,
    rake_kwargs: Mapping[str, Any] | None = None,
) -> pd.Series:
    """Pearson and Rao-Scott tests of independence for a weighted two-way table.

    Follows R ``survey::svychisq``: Pearson X^2 on the weighted table scaled to the design's
    n; Delta from the linearised covariance of the cell shares; ``F = X^2 / tr(Delta)`` on
    ``(d, d (n-1))`` df with ``d = tr(Delta)^2 / tr(Delta^2)`` (second-order, "F");
    ``chi2_rs = X^2 df / tr(Delta)`` (first-order, "Chisq"). Rows missing either variable are
    outside the domain but stay in the design, as in ``svy`` with ``drop_nulls=True``.
    """
    w = _weights(df, weights)
    n = len(df)
    rs, cs = df[row], df[col]
    ok = (rs.notna() & cs.notna()).to_numpy().copy()
    rk, rl = _codes(rs)
    ck, cl = _codes(cs)
    ok &= (rk >= 0) & (ck >= 0)
    r_used = np.unique(rk[ok & (w > 0)])
    c_used = np.unique(ck[ok & (w > 0)])
    nr, nc = r_used.size, c_used.size
    if nr < 2 or nc < 2:
        raise ValueError("the table needs at least two observed rows and two observed columns")
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
    nu = n - 1
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


# --------------------------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------------------------


@dataclass
class LogisticFit:
    """A fitted survey-weighted logistic model: what predictions and delta-method SEs need."""

    beta: np.ndarray  # coefficients, one per design column
    cov: np.ndarray  # sandwich covariance of beta
    x: np.ndarray  # design matrix (rows of the model, zero-weight rows included)
    y: np.ndarray
    w: np.ndarray
    converged: bool

    @property
    def eta(self) -> np.ndarray:
        return self.x @ self.beta


def _newton_logistic(y: np.ndarray, x: np.ndarray, w: np.ndarray, *, tol: float = 1e-10,
                     max_iter: int = 60) -> tuple[np.ndarray, bool]:
    """Maximise the weighted Bernoulli log-likelihood by Newton-Raphson with step halving.

    The same estimator as statsmodels' GLM Binomial with ``var_weights`` (IRLS), in plain
    numpy: a page fits dozens of small models, and the GLM machinery cost more than the fits.
    Returns the coefficients and whether the steps converged (they do not under separation,
    where the maximum lies at infinity).
    """
    w = w / w.mean()
    beta = np.zeros(x.shape[1])

    def loglik(b: np.ndarray) -> float:
        eta = x @ b
        return float(w @ (y * eta - np.logaddexp(0.0, eta)))

    current = loglik(beta)
    for _ in range(max_iter):
        mu = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (w * (y - mu))
        hess = (x * (w * mu * (1 - mu))[:, None]).T @ x
        step = np.linalg.solve(hess, grad)
        for _ in range(30):  # halve the step until the likelihood does not fall
            trial = beta + step
            value = loglik(trial)
            if value >= current - 1e-12 * max(1.0, abs(current)):
                break
            step /= 2
        beta, current = trial, value
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return beta, True
    return beta, False


def logistic_fit(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> LogisticFit:
    """Pseudo-likelihood fit of a 0/1 outcome on a ready design matrix, with sandwich covariance.

    Point estimates: the survey-weighted maximum likelihood (:func:`_newton_logistic`, the
    estimate of statsmodels' GLM Binomial with the weights as variance weights; rows of weight
    0 left out of the fit). Covariance: ``A^-1 B A^-1`` with
    ``B = n/(n-1) sum (s_i - mean s)(s_i - mean s)'`` over the scores
    ``s_i = w_i x_i (y_i - mu_i)``, i.e. R ``svyglm`` for a with-replacement design. A
    singular information matrix raises :class:`ModelError` (one line), never ``LinAlgError``.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    keep = w > 0
    try:
        with np.errstate(over="ignore"):
            beta, converged = _newton_logistic(y[keep], x[keep], w[keep])
            mu = 1 / (1 + np.exp(-(x @ beta)))
        a = (x * (w * mu * (1 - mu))[:, None]).T @ x
        scores = x * (w * (y - mu))[:, None]
        zz = scores @ np.linalg.inv(a)
    except np.linalg.LinAlgError as exc:
        raise ModelError(
            f"the logistic model cannot be fitted ({exc}): a model term has no variation "
            "among the respondents; drop or merge sparse levels"
        ) from None
    n = len(y)
    zz -= zz.mean(axis=0)
    cov = n / (n - 1) * (zz.T @ zz)
    return LogisticFit(beta, cov, x, y, w, bool(converged))


def logistic(
    df: pd.DataFrame,
    formula: str,
    weights: WeightsArg = None,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Survey-weighted logistic regression (pseudo-likelihood) with sandwich SEs.

    The fit is :func:`logistic_fit` on the formula's design. Rows with a missing model
    variable are dropped. Tests and intervals use the normal distribution.
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    w_all = _weights(df, weights)
    data = df.copy()
    lhs = formula.split("~", 1)[0].strip()
    if lhs in data.columns and pd.api.types.is_bool_dtype(data[lhs].dtype):
        data[lhs] = data[lhs].astype("float64")
    if lhs in data.columns and not pd.api.types.is_numeric_dtype(data[lhs].dtype):
        levels = pd.Series(data[lhs].dropna().unique()).astype(str).tolist()[:6]
        raise ModelError(
            f"the outcome {lhs!r} is categorical (levels: {', '.join(levels)}): model one level"
            f" as a 0/1 column, or use ospo_survey.survey().logistic(\"{lhs} == 'level' ~ ...\")"
        )
    probe = smf.glm(formula, data=data, family=sm.families.Binomial())
    rows = probe.data.row_labels
    pos = data.index.get_indexer(rows) if rows is not None else np.arange(len(data))
    if np.any(pos < 0):
        raise ValueError("could not align model rows with the data (duplicate index?)")
    y = np.asarray(probe.endog, dtype=np.float64)
    x = np.asarray(probe.exog, dtype=np.float64)
    _check_design(list(probe.exog_names), x, w_all[pos], formula)
    if y.ndim != 1 or not np.all((y == 0) | (y == 1)):
        raise ValueError(f"the outcome {lhs!r} must be 0/1 or boolean")
    fit = logistic_fit(y, x, w_all[pos])
    beta = fit.beta
    se = np.sqrt(np.diag(fit.cov))
    zval = beta / se
    crit = D.norm_ppf(1 - (1 - level) / 2)
    names = list(probe.exog_names)
    return pd.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "se": se,
            "z": zval,
            "p": 2 * D.norm_sf(np.abs(zval)),
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )


def _check_design(names: list[str], x: np.ndarray, w: np.ndarray, formula: str) -> None:
    """One line instead of a singular-matrix error: an empty level, or collinear terms."""
    keep = w > 0
    empty = [t for t, used in zip(names, np.any(x[keep] != 0, axis=0), strict=True) if not used]
    if empty:
        raise ModelError(
            f"term(s) {', '.join(empty)} have no respondents among the {int(keep.sum())} modelled"
            " rows (an empty level): drop the level (remove_unused_categories) or the variable"
        )
    if np.linalg.matrix_rank(x[keep]) < x.shape[1]:
        raise ModelError(
            f"the terms of {formula!r} are collinear among the modelled rows (a level or"
            " variable is implied by the others): leave one out"
        )



# --------------------------------------------------------------------------------------------
# Bootstrap replicate weights
# --------------------------------------------------------------------------------------------


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
        raise ValueError("n_rep must be at least 2")
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
