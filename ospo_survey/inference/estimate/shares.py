"""Shares of single- and multiple-choice answers per group, with their design-based variance.

Why one tidy frame: every page table and chart reads the same fixed columns
(``OUTPUT_COLUMNS``), so an estimate, its interval, its base and its suppression flag always
travel together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EstimationError
from ospo_survey.inference.estimate.inputs import (
    WeightsArg,
    _Calibration,
    _calibration,
    _column,
    _groups,
    _replicates,
    _weights,
)
from ospo_survey.inference.estimate.intervals import CIMethod, ci_proportion
from ospo_survey.inference.estimate.variance import stratified_variance

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

SEMethod = Literal["linearized", "replicate"]


def _estimate(
    y: np.ndarray,
    base: np.ndarray,
    w: np.ndarray,
    g: np.ndarray,
    *,
    se: SEMethod,
    reps: np.ndarray | None,
    cal: _Calibration | None,
    strata: np.ndarray | None = None,
    sizes: Mapping[Any, int] | int | None = None,
) -> list[dict[str, np.ndarray]]:
    """Ratio estimates of the columns of ``y`` within each group's base, with variances.

    Linearised (R ``svymean`` on ``svydesign(ids=~1, strata=~year, weights=~w)``): the
    variance of the total of ``z_i = w_i d_i (y_i - p) / sum w d`` over every row of the
    design (:func:`~ospo_survey.inference.estimate.variance.stratified_variance`; domain
    estimation keeps the full design, as R's ``subset`` and ``svyby`` do).
    """
    if se != "replicate" and cal is None:
        return _estimate_linearized(y, base, w, g, strata, sizes)
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
            var = stratified_variance(w[:, None] * u, strata, sizes)
        out.append({"p": p, "var": var, "n": nd, "count": counts, "kish": kish})
    return out


def _estimate_linearized(
    y: np.ndarray,
    base: np.ndarray,
    w: np.ndarray,
    g: np.ndarray,
    strata: np.ndarray | None,
    sizes: Mapping[Any, int] | int | None,
) -> list[dict[str, Any]]:
    """:func:`_estimate`'s default (R's linearisation) for every group at once: each row's
    influence ``z`` computed directly, then per stratum and group the sums of ``z`` and
    ``z^2``, so that ``var = sum_h N_h/(N_h-1) (sum z^2 - (sum z)^2 / N_h)`` (the same as
    :func:`~ospo_survey.inference.estimate.variance.stratified_variance`, rows of a stratum
    not passed counting as zeros)."""
    n_groups = int(g.max()) + 1 if g.size else 0
    k = y.shape[1]
    if not n_groups:
        return []
    sel = base & (g >= 0)
    gi = g[sel]
    ws, ys = w[sel], y[sel]
    tot = np.bincount(gi, weights=ws, minlength=n_groups)
    sq = np.bincount(gi, weights=ws * ws, minlength=n_groups)
    pos = ws > 0
    n_rows = np.bincount(gi[pos], minlength=n_groups)
    counts = np.zeros((n_groups, k), dtype=np.int64)
    np.add.at(counts, gi[pos], (ys[pos] > 0).astype(np.int64))
    wy = np.zeros((n_groups, k))
    np.add.at(wy, gi, ws[:, None] * ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = wy / tot[:, None]
        z = ws[:, None] * (ys - p[gi]) / tot[gi][:, None]
    if strata is None:
        codes = np.zeros(len(w), dtype=np.int64)
        names: list[Any] = [None]
    else:
        names = list(dict.fromkeys(np.asarray(strata).tolist()))
        lookup = {h: i for i, h in enumerate(names)}
        codes = np.array([lookup[h] for h in np.asarray(strata).tolist()], dtype=np.int64)
    hi = codes[sel]
    n_strata = len(names)
    s1 = np.zeros((n_strata, n_groups, k))
    s2 = np.zeros((n_strata, n_groups, k))
    np.add.at(s1, (hi, gi), z)
    np.add.at(s2, (hi, gi), z * z)
    var = np.zeros((n_groups, k))
    passed = np.bincount(codes, minlength=n_strata)
    for h, name in enumerate(names):
        if isinstance(sizes, Mapping):
            n_h = int(sizes.get(name, passed[h]))
        elif sizes is not None and strata is None:
            n_h = int(sizes)
        else:
            n_h = int(passed[h])
        if n_h < passed[h]:
            raise EstimationError(
                f"stratum {name!r} has {passed[h]} rows but a design size of {n_h}")
        if n_h < 2:
            continue
        var += n_h / (n_h - 1) * (s2[h] - s1[h] * s1[h] / n_h)
    out = []
    for j in range(n_groups):
        if tot[j] <= 0:
            out.append({"p": np.full(k, np.nan), "var": np.full(k, np.nan),
                        "n": int(n_rows[j]), "count": counts[j], "kish": math.nan})
        else:
            out.append({"p": p[j], "var": var[j], "n": int(n_rows[j]), "count": counts[j],
                        "kish": tot[j] * tot[j] / sq[j]})
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
    # every group and level at once (group-major, level-minor: the frame's row order)
    p = np.concatenate([np.broadcast_to(np.asarray(r["p"], dtype=np.float64), (k,))
                        for r in results])
    var = np.maximum(np.concatenate([np.broadcast_to(np.asarray(r["var"], dtype=np.float64),
                                                     (k,)) for r in results]), 0.0)
    kish = np.repeat(np.array([r["kish"] for r in results], dtype=np.float64), k)
    n_rows = np.repeat(np.array([int(r["n"]) for r in results], dtype=np.int64), k)
    pq = p * (1 - p)
    interior = (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kish_floor:
            # weights treated as fixed: no more information than the base's Kish n_eff
            var = np.where(interior & (kish > 0), np.maximum(var, c * pq / kish), var)
        se = np.sqrt(var)
        n_eff = np.where(interior, np.where(var > 0, c * pq / var, np.inf), kish)
        deff = np.where(interior, var / (c * pq / n_rows), np.nan)
        # the interval's effective n is R's (svyciprop: p(1-p)/var); at 0 or 1, where the
        # variance is 0, the base's Kish effective n bounds the interval instead
        n_ci = (np.where(interior, np.where(var > 0, pq / var, np.inf), kish)
                if ci == "beta" else n_eff)
    lo, hi = ci_proportion(p, n_ci, method=ci, level=level, se=se)
    data: dict[str, Any] = {
        col: [key[j] for key in keys for _ in range(k)] for j, col in enumerate(by_cols)}
    data["variable"] = [variable] * (m * k)
    data["level"] = list(levels) * m
    data["estimate"], data["se"], data["ci_low"], data["ci_high"] = p, se, lo, hi
    data["n"] = n_rows
    data["count"] = np.concatenate(
        [np.asarray(r["count"], dtype=np.int64).reshape(k) for r in results])
    data["n_eff"] = n_eff
    data["deff"] = deff
    data["suppressed"] = ~(n_eff >= min_n_eff)
    return pd.DataFrame(data, columns=[*cols, "suppressed"])


def proportions(
    df: pd.DataFrame,
    variable: str,
    *,
    weights: WeightsArg = None,
    by: str | Sequence[str] | None = None,
    ci: CIMethod = "beta",
    level: float = 0.95,
    se: SEMethod = "linearized",
    replicates: Any = None,
    margins: Mapping[str, Mapping[Any, float]] | np.ndarray | None = None,
    calibration_weights: WeightsArg = None,
    rake_kwargs: Mapping[str, Any] | None = None,
    levels: Sequence[Any] | None = None,
    min_n_eff: float = 30,
    kish_floor: bool = False,
    strata: str | None = None,
    design_sizes: Mapping[Any, int] | int | None = None,
) -> pd.DataFrame:
    """Shares of a single-choice variable (NaN excluded from the base), per ``by`` group.

    Levels follow the categorical order (all categories, even empty ones) or ``levels=``.
    ``margins`` (the raking targets, or a ready indicator matrix) switches on calibration
    residuals in the linearised variance (``rake_kwargs``: the missing/collapse options used
    when raking); ``calibration_weights`` makes them GREG residuals weighted by the pre-raking
    weights (R ``calibrate``) instead of R ``rake``'s unweighted ones. Use it only when the
    targets are known population totals.

    The default variance is R's: the linearisation of ``svydesign(ids=~1, weights=~w)``, with
    ``strata`` (a column, e.g. ``"year"``) as independent strata, and ``design_sizes`` the
    rows each stratum has in the whole design when ``df`` holds only some of them (rows not
    passed count as zeros, as R's ``subset`` keeps them). The default interval is
    Korn-Graubard's (``ci="beta"``, R ``svyciprop(method="beta")``); ``"wilson"``,
    ``"logit"`` and ``"wald"`` are options. ``kish_floor=True`` (opt-in, not R's number)
    keeps each estimate's effective n at or below its base's Kish effective n.

    >>> d = pd.DataFrame({"x": ["a", "b", "a", "a"], "w": [1.0, 2.0, 1.0, 1.0]})
    >>> proportions(d, "x", weights="w")[["level", "estimate", "n"]]
      level  estimate  n
    0     a       0.6  4
    1     b       0.4  4
    """
    s = _column(df, variable, "variable")
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
        raise EstimationError(
            f"{variable!r} has values outside levels= (e.g. {s[outside].iloc[0]!r}): add them to"
            " levels= or leave levels= out"
        )
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
        strata=strata,
        design_sizes=design_sizes,
    )


def multi_proportions(
    df: pd.DataFrame,
    columns: Mapping[Any, str] | Sequence[str],
    *,
    name: str = "multi",
    base: str | pd.Series | np.ndarray | None = None,
    weights: WeightsArg = None,
    by: str | Sequence[str] | None = None,
    ci: CIMethod = "beta",
    level: float = 0.95,
    se: SEMethod = "linearized",
    replicates: Any = None,
    margins: Mapping[str, Mapping[Any, float]] | np.ndarray | None = None,
    calibration_weights: WeightsArg = None,
    rake_kwargs: Mapping[str, Any] | None = None,
    min_n_eff: float = 30,
    kish_floor: bool = False,
    strata: str | None = None,
    design_sizes: Mapping[Any, int] | int | None = None,
) -> pd.DataFrame:
    """Shares ticking each option of a multiple-choice question (``variable`` = ``name``).

    Base: respondents who ticked at least one option, unless ``base`` (mask or column) is
    given — e.g. everyone who saw the question, when "none" is a legitimate answer.
    """
    mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    ys = []
    for label, col in mapping.items():
        v = _column(df, col, "multiple-choice column")
        arr = v.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isnan(arr) & (arr != 0) & (arr != 1)
        if bad.any():
            raise EstimationError(
                f"multiple-choice column {col!r} ({label!r}) is not boolean/0-1 (e.g."
                f" {arr[bad][0]:g}): pass columns of ticked (1/True) or not (0/False)"
            )
        ys.append(np.nan_to_num(arr, nan=0.0))
    y = np.column_stack(ys) if ys else np.zeros((len(df), 0))
    if base is None:
        mask = y.any(axis=1)
    elif isinstance(base, str):
        mask = _column(df, base, "base column").to_numpy(dtype=bool, na_value=False)
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
        strata=strata,
        design_sizes=design_sizes,
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
    kish_floor: bool = False,
    strata: str | None = None,
    design_sizes: Mapping[Any, int] | int | None = None,
) -> pd.DataFrame:
    if se not in ("linearized", "replicate"):
        raise EstimationError(f"se must be 'linearized' or 'replicate', not {se!r}")
    w = _weights(df, weights)
    reps = _replicates(df, replicates) if se == "replicate" else None
    cal = (
        _calibration(df, margins, calibration_weights, rake_kwargs) if se == "linearized" else None
    )
    by_cols, g, keys = _groups(df, by)
    st = None if strata is None else _column(df, strata, "strata column").to_numpy()
    res = _estimate(y, base.astype(bool), w, g, se=se, reps=reps, cal=cal, strata=st,
                    sizes=design_sizes)
    if isinstance(design_sizes, Mapping):
        n_design = int(sum(design_sizes.values()))
    else:
        n_design = len(df) if design_sizes is None else int(design_sizes)
    frame = _frame(
        res,
        by_cols,
        keys,
        variable,
        levels,
        n_design=n_design,
        ci=ci,
        level=level,
        min_n_eff=min_n_eff,
        kish_floor=kish_floor,
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
