"""Comparisons between groups: shares of an outcome per group, raw and adjusted.

Raw shares are the design-based estimates of :func:`ospo_survey.inference.estimate.proportions`
(R's linearised SEs, Korn-Graubard intervals). Adjusted shares are marginal standardisation:
for each outcome level a survey-weighted logistic model of "chose this level" on the group and the
adjustment variables (treatment coding) is fitted, every respondent's group is set to ``g``,
and the weighted mean prediction is the adjusted share of ``g`` — the share the group would
show with the whole sample's mix of the adjustment variables. SEs are R's ``svypredmeans``:
the variance of the covariate mix the shares average over plus the delta method on the
model's sandwich covariance (years as strata when pooled); intervals Korn-Graubard on the
adjusted share's effective n.
Differences are against the reference group (the first non-empty group level in the
variable's order), with normal intervals and two-sided p-values. The survey is opt-in: a
difference is an association, not an effect, and intervals cover sampling noise only.

Bases: the outcome's "don't know" and missing answers are outside the base, and so are the
group's. A missing or "don't know" value of an adjustment variable is a level of its own
(``(missing)``), not a dropped row. Levels with no respondent are dropped before fitting.
``result.attrs`` holds ``dropped`` (reason -> rows; ``empty levels`` counts levels),
``empty_levels``, ``skipped`` (year -> why) and ``notes`` (adjustments not made, and why).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.core.errors import ModelError, UnknownVariableError
from ospo_survey.inference import distributions as D
from ospo_survey.inference import estimate as E
from ospo_survey.inference.schemes import UNKNOWN_LEVELS
from ospo_survey.inference.weights import MISSING_LEVEL
from ospo_survey.ingest.harmonize import definitions, output_columns

__all__ = ["COLUMNS", "ADJUSTED_COLUMNS", "compare_frame", "ospo_associations"]

COLUMNS = ["year", "outcome", "outcome_level", "group", "n", "base", "estimate", "se",
           "ci_low", "ci_high", "n_eff", "deff"]
ADJUSTED_COLUMNS = ["adj_estimate", "adj_se", "adj_ci_low", "adj_ci_high"]
DIFF_COLUMNS = ["diff", "diff_ci_low", "diff_ci_high", "p"]
TICKED, NOT_TICKED = "ticked", "not ticked"
POOLED = "pooled"
MAX_ETA = 20.0  # |linear predictor| beyond this means a fitted share of 0 or 1: separation
DROP_REASONS = ("outcome not asked", "group not asked", "outcome missing", "outcome don't know",
                "group missing", "group don't know", "weight missing", "zero weight")


# ------------------------------------------------------------------------------- variables


def _candidates(frame: pd.DataFrame) -> list[str]:
    """Columns that can be an outcome, group or adjustment: categorical or boolean."""
    return [c for c in frame.columns if _usable(frame, c)]


def _listing(frame: pd.DataFrame) -> list[str]:
    """The harmonised variables of ``frame`` for an error message: matrix rows and multi
    options as one ``name_<row>`` / ``name_<option>`` entry each."""
    out = []
    for name, spec in definitions().items():
        kind = spec.get("type")
        if kind in ("matrix", "multi"):
            part = "row" if kind == "matrix" else "option"
            if any(c.startswith(f"{name}_") for c in frame.columns):
                out.append(f"{name}_<{part}>")
        elif name in frame.columns:
            out.append(name)
    return out


def _usable(frame: pd.DataFrame, name: str) -> bool:
    if name not in frame.columns:
        return False
    dtype = frame.dtypes[name]
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype)


def _check_variable(frame: pd.DataFrame, name: str, role: str) -> None:
    if _usable(frame, name):
        return
    valid = _candidates(frame)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.0)
    hint = f"closest match {close[0]!r}; " if close else ""
    names = _listing(frame)
    listed, budget = [], 130
    for v in names:
        if budget - len(v) - 2 < 0:
            break
        listed.append(v)
        budget -= len(v) + 2
    more = ", ..." if len(names) > len(listed) else ""
    raise UnknownVariableError(
        f"{role} {name!r} is not a harmonised variable: {hint}valid: {', '.join(listed)}{more}"
        " (see ospo_survey/variables.yaml)"
    )


def _multi_dont_know(frame: pd.DataFrame, column: str) -> tuple[str, list[str]] | None:
    """For an option of a multiple-choice question with a "don't know" option: that option's
    column and the question's other option columns (ticking only "don't know" is a don't know
    answer, outside the base)."""
    for name, spec in definitions().items():
        if spec.get("type") != "multi" or "dont_know" not in spec["options"]:
            continue
        columns = [c for c in output_columns(name) if c in frame.columns]
        dk = f"{name}_dont_know"
        if column in columns and dk in columns and column != dk:
            return dk, [c for c in columns if c != dk]
    return None


def _as_levels(s: pd.Series, *, outcome: bool = False) -> pd.Series:
    """A categorical view: booleans become ticked / not ticked (an outcome's ticked level
    first, a group's "not ticked" first as the reference), other values sorted levels."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s
    if pd.api.types.is_bool_dtype(s.dtype):
        values = s.astype(object).map({True: TICKED, False: NOT_TICKED})
        cats = [TICKED, NOT_TICKED] if outcome else [NOT_TICKED, TICKED]
        return pd.Series(pd.Categorical(values, categories=cats), index=s.index)
    return s.astype("category")


# ---------------------------------------------------------------------------------- design


@dataclass
class _Design:
    """The adjusted model's design for one block: group dummies and adjustment dummies."""

    x: np.ndarray
    group_cols: list[int]  # column of each non-reference group level
    adjusted_for: list[str]
    notes: list[str] = field(default_factory=list)
    empty: dict[str, list[str]] = field(default_factory=dict)


def _factor(values: pd.Series) -> tuple[np.ndarray, list[str], list[str]]:
    """Codes of an adjustment variable, unknown answers as their own level, empty levels out.

    Levels keep the variable's order, with the unknown level (missing or "don't know") last;
    levels nobody in ``values`` has are left out and returned as the third item. Worked on
    the categorical codes (a page runs this a few hundred times).
    """
    cat = _as_levels(values)
    categories = [str(c) for c in cat.cat.categories]
    known = [c for c in categories if c not in UNKNOWN_LEVELS]
    cats = [*known, MISSING_LEVEL]
    lut = np.array([known.index(c) if c in known else len(known) for c in categories]
                   + [len(known)], dtype=np.int64)  # the last entry serves NaN (code -1)
    full = lut[cat.cat.codes.to_numpy()]
    present = np.unique(full)
    remap = np.full(len(cats), -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    levels = [cats[k] for k in present]
    gone = [c for k, c in enumerate(known) if k not in set(present.tolist())]
    return remap[full], levels, gone


def _independent(columns: list[np.ndarray], tol: float = 1e-9) -> list[bool]:
    """Greedy rank check in order: whether each column adds a new direction."""
    basis: list[np.ndarray] = []
    keep = []
    for col in columns:
        r = col.astype(np.float64).copy()
        for q in basis:
            r -= (q @ r) * q
        norm = float(np.linalg.norm(r))
        ok = norm > tol * max(1.0, float(np.linalg.norm(col)))
        if ok:
            basis.append(r / norm)
        keep.append(ok)
    return keep


def _design(
    rows: pd.DataFrame, group_codes: np.ndarray, n_groups: int, by: str,
    adjust: Sequence[str], factors: Mapping[str, tuple] | None = None,
) -> _Design:
    """Intercept, adjustment dummies (aliased ones dropped), then group dummies.

    An adjustment variable with a single level among the rows is not adjusted for (a note says
    so). A group dummy that the adjustment variables determine is an error. ``factors``:
    :func:`_factor` of these rows' variables, when already computed.
    """
    n = len(rows)
    cols: list[np.ndarray] = [np.ones(n)]
    owner: list[str] = [""]
    notes: list[str] = []
    empty: dict[str, list[str]] = {}
    for var in adjust:
        if rows[var].isna().all():
            notes.append(f"{var}: not asked of these respondents; not adjusted for")
            continue
        codes, _, gone = factors[var] if factors and var in factors else _factor(rows[var])
        if gone:
            empty[var] = gone
        k = int(codes.max()) + 1 if codes.size else 0
        if k < 2:
            notes.append(f"{var}: a single level among these respondents; not adjusted for")
            continue
        for j in range(1, k):
            cols.append((codes == j).astype(np.float64))
            owner.append(var)
    keep = _independent(cols)
    x_adj = [c for c, k in zip(cols, keep, strict=True) if k]
    used = [v for v in dict.fromkeys(o for o, k in zip(owner, keep, strict=True) if k and o)]
    gcols = [(group_codes == j).astype(np.float64) for j in range(1, n_groups)]
    if not all(_independent(x_adj + gcols)[len(x_adj):]):
        raise ModelError(
            f"{by} is determined by the adjustment variables ({', '.join(used)}) in this data: "
            "adjust for fewer or coarser variables"
        )
    x = np.column_stack(x_adj + gcols)
    return _Design(x, list(range(len(x_adj), len(x_adj) + len(gcols))), used, notes, empty)


# ---------------------------------------------------------------------------- estimation


def _perfectly_predicted(
    y: np.ndarray, factors: dict[str, tuple[np.ndarray, list[str]]],
) -> tuple[np.ndarray, list[str]]:
    """Rows of adjustment levels whose respondents all answered one way, found repeatedly
    (leaving some out can make another level one-sided), and those levels' names."""
    out = np.zeros(len(y), dtype=bool)
    names: list[str] = []
    changed = True
    while changed:
        changed = False
        for var, (codes, levels) in factors.items():
            for j in policy.one_sided(y, codes, ~out):
                out |= codes == j
                names.append(f"{var}={levels[j]}")
                changed = True
    return out, names


def _adjusted(
    y: np.ndarray, w: np.ndarray, rows: pd.DataFrame, g_codes: np.ndarray, n_groups: int,
    by: str, adj_vars: Sequence[str], level: float, strata: np.ndarray | None = None,
    sizes: Mapping[Any, int] | None = None, block_design: _Design | None = None,
    block_factors: Mapping[str, tuple] | None = None,
) -> tuple[dict[str, np.ndarray] | None, str]:
    """Adjusted shares of one outcome level per group, their SEs and the differences against
    group 0 (delta method), and a note.

    Separation fallback (what Stata's ``logit`` does): respondents of an adjustment level that
    answered only one way are left out of the fit and keep their observed 0 or 1 in every
    group's standardised share (the limit of the maximum-likelihood fit).

    Variance as R's ``svypredmeans``: the model's part (delta method through the
    coefficients) plus the variance of the mean of the fitted shares over the design (the
    covariate mix the shares average over); differences between groups use the whole
    covariance, as ``svycontrast`` on its result does. Years are strata (``strata``,
    ``sizes`` each year's rows in the design). A group level that
    answered only one way, or a fit that still runs to fitted shares of 0 or 1, gives None:
    the adjusted shares of that outcome level are not estimated.

    ``block_design`` and ``block_factors``: :func:`_design` (with ``adj_vars`` its
    ``adjusted_for``) and :func:`_factor` of ``rows``, which every outcome level of a block
    shares; the design is rebuilt only when one-sided rows are left out of the fit.
    """
    factors = {}
    for v in adj_vars:
        got = block_factors.get(v) if block_factors else None
        codes, levels, _ = got if got is not None else _factor(rows[v])
        factors[v] = (codes, levels)
    fixed, names = _perfectly_predicted(y, factors)
    note = ""
    if names:
        note = (f"{', '.join(names)} answered one way only: left out of the model, they keep "
                "their observed share")
    rest = ~fixed
    present = set(np.unique(g_codes[rest]).tolist())
    if len(present) < n_groups or policy.one_sided(y, g_codes, rest):
        return None, "a group answered one way only (separation): adjusted share not estimated"
    try:
        if block_design is not None and not fixed.any():
            # every row is fitted: the block's design (its dummies for adj_vars are the same)
            design = block_design
        else:
            design = _design(rows[rest].reset_index(drop=True), g_codes[rest], n_groups, by,
                             adj_vars)
    except ModelError:
        return None, (f"without the one-sided levels {by} is determined by the adjustment: "
                      "adjusted share not estimated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation is checked here, not warned about
        fit = E.logistic_fit(y[rest], design.x, w[rest],
                             strata=None if strata is None else strata[rest], sizes=sizes)
    if not fit.converged or np.abs(fit.eta).max() > MAX_ETA:
        return None, "the model runs to fitted shares of 0 or 1 (separation): not estimated"
    total = w.sum()
    wt = w[rest] / total
    fixed_part = float(w[fixed] @ y[fixed]) / total
    theta = np.empty(n_groups)
    grad = np.empty((n_groups, design.x.shape[1]))
    fits = np.repeat(y[:, None], n_groups, axis=1)   # one-sided rows keep their observed 0/1
    for g in range(n_groups):
        xg = design.x.copy()
        xg[:, design.group_cols] = 0.0
        if g > 0:
            xg[:, design.group_cols[g - 1]] = 1.0
        mu = 1 / (1 + np.exp(-(xg @ fit.beta)))
        fits[rest, g] = mu
        theta[g] = fixed_part + wt @ mu
        grad[g] = (wt * mu * (1 - mu)) @ xg
    mix = E.stratified_variance(w[:, None] * (fits - theta) / total, strata, sizes, full=True)
    cov = grad @ fit.cov @ grad.T + mix
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    contrast = np.eye(n_groups) - np.eye(n_groups)[0]
    dse = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", contrast, cov, contrast), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(se > 0, theta * (1 - theta) / se**2, np.inf)
    lo, hi = E.ci_proportion(theta, n_eff, method="beta", level=level)
    res = {"estimate": theta, "se": se, "ci_low": lo, "ci_high": hi, "diff": theta - theta[0],
           "diff_se": dse}
    return res, note


def _p_value(diff: np.ndarray, se: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * D.norm_sf(np.abs(diff / se))


@dataclass
class _Log:
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    empty: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[Any, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def empty_level(self, var: str, levels: Sequence[str]) -> None:
        have = self.empty.setdefault(var, [])
        have.extend(v for v in levels if v not in have)


def _base_reasons(
    block: pd.DataFrame, outcome: str, by: str, w: np.ndarray,
    dont_know: tuple[str, list[str]] | None,
) -> np.ndarray:
    """The first reason each row is outside the base (empty string: in the base)."""
    out = block[outcome]
    grp = block[by]
    o_na = out.isna().to_numpy()
    o_dk = out.astype(object).isin(UNKNOWN_LEVELS).to_numpy().copy()
    if dont_know is not None:
        dk, others = dont_know
        ticked_other = block[others].fillna(False).to_numpy(dtype=bool).any(axis=1)
        o_dk |= block[dk].fillna(False).to_numpy(dtype=bool) & ~ticked_other
    g_na = grp.isna().to_numpy()
    g_dk = grp.astype(object).isin(UNKNOWN_LEVELS).to_numpy()
    conds = [o_na, o_dk & ~o_na, g_na, g_dk & ~g_na, np.isnan(w), np.nan_to_num(w) <= 0]
    names = ["outcome missing", "outcome don't know", "group missing", "group don't know",
             "weight missing", "zero weight"]
    return np.select(conds, names, default="")


def _block(
    block: pd.DataFrame, year: Any, outcome: str, by: str, adjust: Sequence[str],
    weights: str | None, extra_factor: str | None, log: _Log, z: float, level: float,
    dont_know: tuple[str, list[str]] | None, year_col: str = "year",
    sizes: Mapping[Any, int] | None = None,
) -> pd.DataFrame | None:
    """The rows of one year (or the pooled years, each year a stratum). ``sizes``: each
    year's rows in the whole design (default: the block's rows), which every variance pads
    to, as R's ``subset`` does."""
    w_all = (np.ones(len(block)) if weights is None
             else block[weights].to_numpy(dtype=np.float64, na_value=np.nan))
    reasons = _base_reasons(block, outcome, by, w_all, dont_know)
    for r in DROP_REASONS:
        log.dropped[r] += int((reasons == r).sum())
    rows = block[reasons == ""].reset_index(drop=True)
    w = w_all[reasons == ""]
    if year_col in block.columns:
        strata = rows[year_col].to_numpy()
        if sizes is None:
            sizes = {k: int(v) for k, v in block[year_col].value_counts().items()}
    else:
        strata, sizes = None, None
    if rows.empty:
        log.skipped[year] = "no respondent with a valid outcome and group"
        return None
    out_cat = _as_levels(rows[outcome], outcome=True)
    out_levels = [lv for lv in out_cat.cat.categories if lv not in UNKNOWN_LEVELS]
    if pd.api.types.is_bool_dtype(rows[outcome].dtype):  # a share of 0 ticking is a result
        present_out, reported = out_levels, [TICKED]
    else:
        present_out = [lv for lv in out_levels if (out_cat == lv).any()]
        reported = present_out
    if len(present_out) < len(out_levels):
        log.empty_level(outcome, [str(v) for v in out_levels if v not in present_out])
    grp_cat = _as_levels(rows[by])
    grp_levels = [lv for lv in grp_cat.cat.categories if lv not in UNKNOWN_LEVELS]
    present_grp = [lv for lv in grp_levels if (grp_cat == lv).any()]
    if len(present_grp) < len(grp_levels):
        log.empty_level(by, [str(v) for v in grp_levels if v not in present_grp])
    data = pd.DataFrame({
        "y": pd.Categorical(out_cat.astype(object), categories=present_out),
        "g": pd.Categorical(grp_cat.astype(object), categories=present_grp),
        "w": w,
        "_stratum": strata if strata is not None else 0,
    })
    raw = E.proportions(data, "y", weights="w", by="g", level=level,
                        strata="_stratum" if strata is not None else None,
                        design_sizes=sizes if strata is not None else len(block))
    # the reported levels, by level then group, in one take; the result is built at once (a
    # column set on a frame costs more than this block's arithmetic)
    levels_col = raw["level"].to_numpy(dtype=object)
    keep = raw["level"].isin(reported).to_numpy()
    order = {lv: i for i, lv in enumerate(reported)}
    rank = np.array([order[v] for v in levels_col[keep]], dtype=np.int64)
    g_all = raw["g"].cat.codes.to_numpy()
    pos = np.flatnonzero(keep)[np.lexsort((g_all[keep], rank))]
    raw = raw.take(pos).reset_index(drop=True)
    group = raw["g"].astype(str)
    outcome_level = raw["level"].astype(str)
    g_codes = data["g"].cat.codes.to_numpy().astype(np.int64)
    n_groups = len(present_grp)
    ref = (group == str(present_grp[0])).to_numpy()
    estimate, se = raw["estimate"].to_numpy(), raw["se"].to_numpy()
    columns: dict[str, Any] = {
        "year": year, "outcome": outcome, "outcome_level": outcome_level.array,
        "group": group.array, "n": raw["count"].to_numpy(), "base": raw["n"].to_numpy(),
        "estimate": estimate, "se": se, "ci_low": raw["ci_low"].to_numpy(),
        "ci_high": raw["ci_high"].to_numpy(), "n_eff": raw["n_eff"].to_numpy(),
        "deff": raw["deff"].to_numpy(),
    }
    adj_vars = list(adjust) + ([extra_factor] if extra_factor else [])
    if adj_vars:
        factors = {v: _factor(rows[v]) for v in adj_vars if not rows[v].isna().all()}
        design = _design(rows, g_codes, n_groups, by, adj_vars, factors)
        for var, gone in design.empty.items():
            log.empty_level(var, gone)
        log.notes.extend(f"{year}: {note}" for note in design.notes)
        adj = {c: np.full(len(raw), np.nan) for c in [*ADJUSTED_COLUMNS, "diff", "diff_se"]}
        level_text = outcome_level.to_numpy(dtype=object)
        g_sorted = raw["g"].cat.codes.to_numpy()
        for lv in reported:
            y = (data["y"] == lv).to_numpy(dtype=np.float64)
            res, note = _adjusted(y, w, rows, g_codes, n_groups, by, design.adjusted_for, level,
                                  strata, sizes if strata is not None else len(block),
                                  block_design=design, block_factors=factors)
            if note:
                log.notes.append(f"{year}: {outcome}={lv}: {note}")
            if res is None:
                continue
            sel = level_text == str(lv)
            gi = g_sorted[sel]
            for src, dst in [("estimate", "adj_estimate"), ("se", "adj_se"),
                             ("ci_low", "adj_ci_low"), ("ci_high", "adj_ci_high"),
                             ("diff", "diff"), ("diff_se", "diff_se")]:
                adj[dst][sel] = res[src][gi]
        for c in ADJUSTED_COLUMNS:
            columns[c] = adj[c]
        diff, dse = adj["diff"], adj["diff_se"]
        adjusted_for = " + ".join(design.adjusted_for)
    else:
        names = outcome_level.to_numpy(dtype=object)
        ref_est = dict(zip(names[ref], estimate[ref], strict=True))
        ref_se = dict(zip(names[ref], se[ref], strict=True))
        diff = estimate - np.array([ref_est.get(v, np.nan) for v in names], dtype=np.float64)
        dse = np.sqrt(se ** 2 + np.array([ref_se.get(v, np.nan) for v in names],
                                         dtype=np.float64) ** 2)
        adjusted_for = ""
    diff = np.where(ref, np.nan, diff)
    dse = np.where(ref, np.nan, dse)
    columns["diff"] = diff
    columns["diff_ci_low"] = diff - z * dse
    columns["diff_ci_high"] = diff + z * dse
    columns["p"] = _p_value(diff, dse)
    columns["adjusted_for"] = adjusted_for
    return pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))


def _design_notes(blocks: list[pd.DataFrame], year_col: str, pooled: bool) -> list[str]:
    """What a reader must know about the samples compared: the paid panel (``channel``) and,
    when years are pooled, the trend breaks of ``reports.yaml`` that they span."""
    from ospo_survey.ingest.harmonize import panel_level

    notes = []
    panel = panel_level()
    for block in blocks:
        if "channel" in block.columns and (block["channel"] == panel).any():
            n = int((block["channel"] == panel).sum())
            year = block[year_col].iloc[0] if year_col in block.columns else ""
            notes.append(policy.panel_note(year, n, panel, excluded=False))
    if pooled:
        years = {int(b[year_col].iloc[0]) for b in blocks}
        notes += [f"pooled years span {b['text']}" for b in policy.spanned(years)]
    return notes


def compare_frame(
    frame: pd.DataFrame,
    outcome: str,
    by: str,
    *,
    adjust: Sequence[str] = (),
    weights: str | None = None,
    year_col: str = "year",
    pooled: bool = False,
    level: float = 0.95,
    design_sizes: Mapping[Any, int] | None = None,
) -> pd.DataFrame:
    """Shares of each ``outcome`` level per ``by`` group, raw and (with ``adjust``) adjusted.

    One row per outcome level x group level (a boolean outcome reports its ``ticked`` level),
    one block per year, or one ``pooled`` block (``year`` a fixed effect of the adjusted model)
    when ``pooled`` and the frame has several years. ``n`` is the respondents choosing the
    level, ``base`` the group's respondents with a valid outcome. ``weights`` names a weight
    column (None: every respondent counts once). Variances are R's, each year a stratum;
    ``design_sizes`` (year -> rows in the whole design) when ``frame`` is a subset of it.
    See the module docstring for the rest.
    """
    adjust = [adjust] if isinstance(adjust, str) else list(adjust)
    for name, role in [(outcome, "outcome"), (by, "group"), *((a, "adjustment") for a in adjust)]:
        _check_variable(frame, name, role)
    if by == outcome or by in adjust or outcome in adjust:
        raise ModelError(f"{outcome!r}, {by!r} and the adjustment variables must all differ")
    if weights is not None and weights not in frame.columns:
        raise UnknownVariableError(f"weight column {weights!r} is not in the frame")
    z = float(D.norm_ppf(1 - (1 - level) / 2))
    dont_know = _multi_dont_know(frame, outcome)
    # only the columns the comparison reads (the frame may hold hundreds)
    needed = [outcome, by, *adjust, *([weights] if weights else []),
              *([year_col] if year_col in frame.columns else []),
              *([dont_know[0], *dont_know[1]] if dont_know else [])]
    frame = frame[list(dict.fromkeys(needed))]
    log = _Log()
    has_years = year_col in frame.columns
    years = sorted(frame[year_col].dropna().unique().tolist()) if has_years else [None]
    blocks: list[tuple[Any, pd.DataFrame]] = []
    kept: list[pd.DataFrame] = []
    for y in years:
        block = frame[frame[year_col] == y] if has_years else frame
        label = int(y) if isinstance(y, (int, np.integer)) else y
        missing = [(v, r) for v, r in [(outcome, "outcome"), (by, "group")]
                   if block[v].isna().all()]
        if missing:
            v, r = missing[0]
            log.skipped[label] = f"{v} not asked"
            log.dropped[f"{r} not asked"] += len(block)
            continue
        blocks.append((label, block))
        kept.append(block)
    frames = []
    if pooled and len(blocks) > 1:
        block = pd.concat(kept)
        extra = year_col if adjust else None
        frames.append(_block(block, POOLED, outcome, by, adjust, weights, extra, log, z, level,
                             dont_know, year_col, design_sizes))
    else:
        for label, block in blocks:
            frames.append(_block(block, label, outcome, by, adjust, weights, None, log, z, level,
                                 dont_know, year_col, design_sizes))
    frames = [f for f in frames if f is not None]
    log.notes.extend(_design_notes(kept, year_col, pooled and len(blocks) > 1))
    cols = [*COLUMNS, *(ADJUSTED_COLUMNS if adjust else []), *DIFF_COLUMNS, "adjusted_for"]
    result = (pd.concat(frames, ignore_index=True) if frames
              else pd.DataFrame(columns=cols))[cols]
    dropped = {k: v for k, v in log.dropped.items() if v}
    n_empty = sum(len(v) for v in log.empty.values())
    if n_empty:
        dropped["empty levels"] = n_empty
    result.attrs.update({
        "outcome": outcome, "by": by, "adjust": adjust, "weights": weights,
        "dropped": dropped, "empty_levels": log.empty, "skipped": log.skipped,
        "notes": log.notes,
    })
    return result


# ------------------------------------------------------------------------ from the survey


def dropped_line(result: pd.DataFrame) -> str:
    """One line saying which rows were left out and why (for the CLI's stderr)."""
    d = result.attrs.get("dropped", {})
    parts = [f"{k} {v:,}" for k, v in d.items() if k != "empty levels"]
    parts += [f"empty level {var}={lv}" for var, levels in result.attrs.get("empty_levels",
              {}).items() for lv in levels]
    skipped = result.attrs.get("skipped", {})
    parts += [f"{y} skipped ({why})" for y, why in skipped.items()]
    return "left out: " + ("; ".join(parts) if parts else "nothing")


# ------------------------------------------------------------------------------ year pages

ASSOCIATION_LEVELS = {"activity": "frequently", "policy": "yes"}
ASSOCIATION_ADJUST = ("org_size", "tech_industry")
JOURNEY_SKIP = ("not_involved", "dont_know")


def ospo_associations(design: Any) -> pd.DataFrame:
    """Raw against adjusted (organisation size, tech industry where asked) shares by
    ``has_ospo`` for the outcomes a year page reports, in one year's ``design`` (a
    :class:`~ospo_survey.analysis.design.Survey`: its rows and weights): each activity's
    "frequently", each policy's "yes" and each journey stage ticked. Outcomes the year did not
    ask are left out; ``adjusted_for`` names what the year's model could use."""
    defs = definitions()
    outcomes: list[tuple[str, str]] = []
    for var, lv in ASSOCIATION_LEVELS.items():
        outcomes += [(f"{var}_{row}", lv) for row in defs[var]["rows"]]
    outcomes += [(f"journey_{opt}", TICKED) for opt in defs["journey"]["options"]
                 if opt not in JOURNEY_SKIP]
    frames = []
    notes: list[str] = []
    frame = design.frame
    column = "weight" if design.weighted else None
    for col, lv in outcomes:
        res = compare_frame(frame, col, "has_ospo", adjust=ASSOCIATION_ADJUST, weights=column)
        if res.empty:
            continue
        frames.append(res[res["outcome_level"] == lv])
        notes += [n for n in res.attrs["notes"] if n not in notes]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.attrs["notes"] = notes
    return out
