"""Organisations like mine: a peer benchmark over pooled survey years.

Why: readers who run, or plan, an OSPO first ask how organisations like theirs compare, and a
single year's breakdown by one variable is too thin (in 2024 two size bands are suppressed).
A *profile* (organisation size, industry, region, whether it has an OSPO; each part optional)
picks the peers as a domain of the design (:meth:`Survey.subset`: weights and variances of the
whole design kept), and every share is shown beside all organisations of the same years.

Pooling: each year is estimated on its own through the design's verbs (its own weights), and
the years are combined as independent strata with **n-weighted** shares: ``p = sum_y a_y p_y``
with ``a_y = n_y / sum n`` (``n_y`` the year's base in the domain) and ``var = sum_y a_y^2
se_y^2`` (no covariance across independently drawn years). R equivalent: the stacked years
with each year's weights, ``des <- svydesign(ids=~1, strata=~year, weights=~w, data=d)``, then
``svyby(~x, ~year, subset(des, <profile>), svymean, covmat=TRUE)`` and ``svycontrast`` with
the ``a_y`` (``tests/test_benchmark.py`` checks this). The effective n of a pooled share is
``p (1 - p) / var`` (one year alone: the design's own); the interval comes from it by the
design's method; a share whose effective n is under :data:`policy.MIN_N_EFF` is suppressed
and its ``reason`` names the part of the profile to widen. ``years`` says which years asked
the item and had peers in it (industry was not asked in 2024, policies nor challenges either).

>>> t = benchmark(size="over 10,000")
>>> t.loc[t["variable"] == "has_ospo", ["level", "years"]].to_numpy().tolist()
[['has', '2022, 2023, 2024']]
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.analysis.design import Survey, survey
from ospo_survey.core.errors import UnknownVariableError, did_you_mean
from ospo_survey.inference import estimate as E
from ospo_survey.ingest.harmonize import base_variable, definitions

DEFAULT_YEARS = (2022, 2023, 2024)  # the latest comparable run (after the 2022 break)
MATURITY_MODEL = "haddad"
CHALLENGES = "challenges_2020_2023"
PRACTICES = ("contribute", "create", "train", "hire", "events")  # activity_<row>, "frequently"
POLICIES = ("use", "release", "contribute", "sponsor")  # policy_<row>, "yes"
SECTIONS = ("OSPO", "practices", "policies", "maturity", "challenges")
PRACTICE_LEVEL, POLICY_LEVEL = "frequently", "yes"
FIXED = "fixed by the profile"
KEY_SEPARATOR = "\x1f"

# the design's estimate columns, ``years`` for ``year``, then all organisations beside
PEER_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "n", "count", "n_eff", "deff",
                "suppressed", "reason"]
ALL_COLUMNS = [f"all_{c}" for c in ("estimate", "se", "ci_low", "ci_high", "n", "n_eff",
                                    "suppressed")]
COLUMNS = ["section", "item", "variable", "level", "group", "years", *PEER_COLUMNS,
           *ALL_COLUMNS]
# the design's interval method (one place decides it: the estimators' default)
CI_METHOD = inspect.signature(E.proportions).parameters["ci"].default


@dataclass(frozen=True)
class Dimension:
    """One part of a profile: its argument name, the variable, the control's label, and the
    labels a reader picks (the page's options) mapped to the variable's levels."""

    name: str
    variable: str
    label: str
    choices: Mapping[str, str]  # shown label -> level


def _levels(variable: str, drop: Sequence[str] = ()) -> dict[str, str]:
    levels = [str(lv) for lv in definitions()[variable]["levels"]]
    return {lv: lv for lv in levels if not policy.is_unknown(lv) and lv not in drop}


@cache
def dimensions() -> tuple[Dimension, ...]:
    """The profile's parts in the page's order (the levels come from ``variables.yaml``)."""
    return (
        Dimension("size", "org_size", "Organisation size",
                  _levels("org_size", drop=("self-employed / not working",))),
        Dimension("industry", "industry", "Industry", _levels("industry")),
        Dimension("region", "region", "Region", _levels("region")),
        Dimension("has_ospo", "has_ospo", "Has an OSPO",
                  {"yes": "has", "planning one": "planning", "no": "none"}),
    )


@dataclass(frozen=True)
class Item:
    """One row of the benchmark: which estimate of the design it is."""

    section: str
    variable: str
    level: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.variable}:{self.level}"


def _row_label(variable: str, row: str) -> str:
    return str(definitions()[variable]["rows"][row])


@cache
def items() -> tuple[Item, ...]:
    """Every row of the benchmark, in order (stages and challenges in their listed order)."""
    from ospo_survey.analysis.maturity import get_model

    out = [Item("OSPO", "has_ospo", "has", "Has an OSPO (formal or informal)")]
    out += [Item("practices", f"activity_{r}", PRACTICE_LEVEL,
                 f"{_row_label('activity', r)}: frequently") for r in PRACTICES]
    out += [Item("policies", f"policy_{r}", POLICY_LEVEL,
                 f"Policy: {_row_label('policy', r)[0].lower()}{_row_label('policy', r)[1:]}")
            for r in POLICIES]
    model = get_model(MATURITY_MODEL)
    out += [Item("maturity", model.key, str(s.name), f"Journey stage: {s.label}")
            for s in model.stages]
    options = definitions()[CHALLENGES]["options"]
    out += [Item("challenges", CHALLENGES, str(o), f"Challenge: {label}")
            for o, label in options.items() if not policy.is_unknown(o)]
    return tuple(out)


@cache
def default_design() -> Survey:
    """``survey([2022, 2023, 2024]).without_panel()``: made once per process."""
    return survey(list(DEFAULT_YEARS)).without_panel()


def profile_levels(**parts: str | None) -> dict[str, str]:
    """The profile's parts as {variable: level}; a label that is not a choice is one line
    naming the valid labels.

    >>> profile_levels(size="1-50", has_ospo="yes")
    {'org_size': '1-50', 'has_ospo': 'has'}
    """
    dims = {d.name: d for d in dimensions()}
    out = {}
    for name, value in parts.items():
        if name not in dims:
            raise UnknownVariableError(
                f"unknown profile part {name!r}:{did_you_mean(name, dims)} use"
                f" {', '.join(dims)}")
        if value is None or value == "":
            continue
        dim = dims[name]
        if value not in dim.choices:
            raise UnknownVariableError(
                f"{value!r} is not a choice of {dim.label.lower()} ({name}=):"
                f"{did_you_mean(value, dim.choices)} use one of: {'; '.join(dim.choices)}")
        out[dim.variable] = dim.choices[value]
    return out


# ------------------------------------------------------------------ per-year estimates


def per_year(design: Survey, by: Sequence[str] = ()) -> pd.DataFrame:
    """Every item's share per year (and ``by`` group), through the design's verbs, unsuppressed
    (suppression is decided on the pooled share). Columns: the design's, ``item``, ``by``."""
    bys = list(by) or None
    frames = []
    for item in items():
        if item.section in ("maturity", "challenges"):
            continue
        if item.variable in (bys or []):
            continue  # e.g. the share with an OSPO among those with an OSPO: fixed
        est = design.proportion(item.variable, by=bys, suppress=False,
                                combine=_others(item))
        frames.append(est[est["level"] == item.level])
    frames.append(design.maturity(MATURITY_MODEL, by=bys, suppress=False))
    frames.append(design.proportions(CHALLENGES, by=bys, suppress=False))
    out = pd.concat(frames, ignore_index=True)
    out["item"] = out["variable"] + ":" + out["level"]
    keep = {i.key for i in items()}
    return out[out["item"].isin(keep)].reset_index(drop=True)


# the sums each profile's share is computed from (per year, finest cell and item): base
# weight, hit weight, squared weights of both, base and hit rows, rows listing the group
SUMS = ("w", "wy", "w2", "w2y", "n", "count", "present")


@dataclass
class _YearCells:
    """One year's sums over the finest cells of the profile (each part's level, or the last
    slot: not answered), one column per item; ``asked`` per item; ``structural(j)`` the
    reason a level nobody chose could not be chosen."""

    rows: int  # the year's rows in the design (R's stratum size)
    sums: dict[str, np.ndarray]  # name -> (cells..., items)
    asked: np.ndarray
    forced: dict[int, str]  # item -> reason that holds whatever the count (multi, stages)


def _year_cells(design: Survey, y: int, dims: Sequence[str],
                labels: Sequence[Sequence[str]]) -> _YearCells:
    """:class:`_YearCells` of year ``y``: the same bases, hits and by-groups as the verbs
    (:meth:`Survey.proportion` with the item's other levels combined,
    :meth:`Survey.maturity`, :meth:`Survey.proportions`), read once."""
    from ospo_survey.analysis.maturity import get_model

    its = items()
    k = len(its)
    part, inside = design._part(y, dims)
    m = len(part)
    cell = np.zeros(m, dtype=np.int64)
    for d, lv in zip(dims, labels, strict=True):
        col = design._categorical(part[d], None).astype(object)
        code = pd.Index(list(lv), dtype=object).get_indexer(col)
        bad = col.isna().to_numpy() | col.isin(policy.UNKNOWN_LEVELS).to_numpy() | (code < 0)
        cell = cell * (len(lv) + 1) + np.where(bad, len(lv), code)
    shape = tuple(len(lv) + 1 for lv in labels)
    base = np.zeros((m, k), dtype=bool)
    hit = np.zeros((m, k), dtype=bool)
    present = np.zeros((m, k), dtype=bool)
    asked = np.zeros(k, dtype=bool)
    forced: dict[int, str] = {}
    at = {it.key: j for j, it in enumerate(its)}
    for j, it in enumerate(its):
        if it.section in ("maturity", "challenges"):
            continue
        if y not in _asking(design, (it.variable,)):
            continue
        rows, _ = design._prepared(y, it.variable, [], {}, Counter())
        col = rows[it.variable].astype(object)
        base[:, j] = col.notna().to_numpy() & inside
        hit[:, j] = base[:, j] & (col == it.level).to_numpy()
        present[:, j] = base[:, j]  # a group is listed where someone answered
        asked[j] = True
    model = get_model(MATURITY_MODEL)
    _, _, placed = design._placed(y, model)
    if placed is not None:
        codes = np.where(inside, placed.codes, -1)
        for i, stage in enumerate(model.names):
            j = at.get(f"{model.key}:{stage}")
            if j is None:
                continue
            base[:, j] = codes >= 0
            hit[:, j] = codes == i
            present[:, j] = True  # the verb lists every group of the year
            asked[j] = True
            if stage in placed.unmeasured:
                forced[j] = f"not measured in {y}"
    cols = _challenge_columns(design)
    if y in _asking(design, tuple(cols.values())):
        multi = design._multi_rows(y, cols)
        for o, c in multi.offered.items():
            j = at.get(f"{CHALLENGES}:{o}")
            if j is None:
                continue
            base[:, j] = multi.base
            hit[:, j] = multi.base & multi.part[c].fillna(False).to_numpy(dtype=bool)
            present[:, j] = True
            asked[j] = True
            if o in multi.not_offered:
                forced[j] = policy.NOT_OFFERED.format(year=y)
            elif o in multi.screened:
                forced[j] = policy.SCREENED_OUT
    w = np.nan_to_num(part["weight"].to_numpy(dtype=np.float64))
    pos = w > 0
    values = {"w": w[:, None] * base, "wy": w[:, None] * hit, "w2": (w * w)[:, None] * base,
              "w2y": (w * w)[:, None] * hit, "n": base & pos[:, None],
              "count": hit & pos[:, None], "present": present}
    n_cells = int(np.prod(shape))
    flat = cell[:, None] * k + np.arange(k)[None, :]
    sums = {name: np.bincount(flat.ravel(), weights=v.astype(np.float64).ravel(),
                              minlength=n_cells * k).reshape(*shape, k)
            for name, v in values.items()}
    return _YearCells(m, sums, asked, forced)


def _asking(design: Survey, cols: tuple[str, ...]) -> set[int]:
    cache_ = design.__dict__.setdefault("_benchmark_asking", {})
    if cols not in cache_:
        cache_[cols] = set(design._years_asking(list(cols)))
    return cache_[cols]


def _challenge_columns(design: Survey) -> dict[str, str]:
    opts = [str(o) for o in definitions()[CHALLENGES]["options"]]
    return {o: f"{CHALLENGES}_{o}" for o in opts if f"{CHALLENGES}_{o}" in design.frame.columns}


def _cell_labels(design: Survey, dims: Sequence[str]) -> list[list[str]]:
    """Each profile part's levels in the design's order (the finest cells' axes; one more
    slot on each axis holds those who did not answer it)."""
    out = []
    for d in dims:
        col = design._categorical(design.frame[d], None)
        out.append([str(c) for c in col.cat.categories if not policy.is_unknown(c)])
    return out


def base_counts(design: Survey | None = None) -> tuple[list[list[str]], np.ndarray]:
    """Each item's base (respondents who answered it) counted in the finest cells of the
    profile, summed over the design's years: ``(levels, counts)``, ``counts`` shaped
    (size levels + 1, industry levels + 1, region levels + 1, OSPO levels + 1, items), the
    last slot of an axis those who did not answer that part. For a disclosure audit of the
    page (``tests/test_benchmark_page.py``); never written to a page."""
    base = design if design is not None else default_design()
    dims = [d.variable for d in dimensions()]
    labels = _cell_labels(base, dims)
    counts = sum(_year_cells(base, y, dims, labels).sums["n"] for y in base.years)
    return labels, np.rint(counts).astype(np.int64)


def per_year_profiles(design: Survey) -> dict[tuple[str, ...], pd.DataFrame]:
    """:func:`per_year` for every set of profile parts at once (``per_year(design, chosen)``
    for each ``chosen``), from sums over the finest cells of the profile read in one pass.

    Why: the page needs every profile, and 16 passes through the verbs cost seconds. Each
    share is R's domain estimate from sums: with ``W``, ``Wy``, ``S2``, ``S2y`` the group's
    base and hit weights and squared weights in a year of ``N`` rows, ``p = Wy / W`` and
    ``var = N/(N-1) (S2y (1 - 2p) + p^2 S2) / W^2`` (the influence values' sum of squares;
    their sum is 0 within a year); effective n, design effect and interval as the verbs
    (``tests/test_benchmark.py`` checks every set against :func:`per_year`).
    """
    from itertools import combinations

    dims = [d.variable for d in dimensions()]
    labels = _cell_labels(design, dims)
    its = items()
    k = len(its)
    cells = {y: _year_cells(design, y, dims, labels) for y in design.years}
    out = {}
    for size in range(len(dims) + 1):
        for chosen in combinations(range(len(dims)), size):
            names = tuple(dims[i] for i in chosen)
            frames = [_profile_rows(design, y, cells[y], chosen, names, labels, k)
                      for y in design.years]
            rows = pd.concat(frames, ignore_index=True)
            skip = [j for j, it in enumerate(its) if it.variable in names]
            keys = [it.key for j, it in enumerate(its) if j not in skip]
            rows = rows[rows["item"].isin(keys)]
            order = {key: i for i, key in enumerate(keys)}
            rows = rows.sort_values(["_item", "year"], key=lambda s: s.map(order)
                                    if s.name == "_item" else s, kind="stable")
            out[names] = rows.drop(columns="_item").reset_index(drop=True)
    return out


def _profile_rows(design: Survey, y: int, yc: _YearCells, chosen: Sequence[int],
                  names: Sequence[str], labels: Sequence[Sequence[str]], k: int
                  ) -> pd.DataFrame:
    """Year ``y``'s per-group rows of every item for the profile parts ``chosen``: the
    finest cells summed over the other parts (their non-answers included) and over the
    chosen parts' levels only."""
    ndim = len(labels)
    other = tuple(i for i in range(ndim) if i not in chosen)
    idx = tuple(slice(0, len(labels[i])) if i in chosen else slice(None) for i in range(ndim))
    s = {name: v[idx].sum(axis=other).reshape(-1, k) for name, v in yc.sums.items()}
    n_groups = s["w"].shape[0]
    if chosen:
        listed = (s["present"] > 0) & yc.asked[None, :]
    else:
        listed = np.broadcast_to(yc.asked[None, :], (1, k))
    W, Wy, S2, S2y = s["w"], s["wy"], s["w2"], s["w2y"]
    N = yc.rows
    c = N / (N - 1) if N > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(W > 0, Wy / W, np.nan)
        var = np.maximum(c * (S2y * (1 - 2 * p) + p * p * S2) / (W * W), 0.0)
        var = np.where(W > 0, var, np.nan)
        kish = np.where(W > 0, W * W / S2, np.nan)
        pq = p * (1 - p)
        interior = (p > 0) & (p < 1)
        n_eff = np.where(interior, np.where(var > 0, c * pq / var, np.inf), kish)
        deff = np.where(interior, var / (c * pq / s["n"]), np.nan)
        n_ci = np.where(interior, np.where(var > 0, pq / var, np.inf), kish)
    se = np.sqrt(var)
    lo, hi = E.ci_proportion(p.ravel(), n_ci.ravel(), method=CI_METHOD, se=se.ravel())
    lo, hi = lo.reshape(p.shape), hi.reshape(p.shape)
    its = items()
    count = s["count"].astype(np.int64)
    reason = np.full((n_groups, k), "", dtype=object)
    for j, it in enumerate(its):
        if not listed[:, j].any():
            continue
        if j in yc.forced:
            reason[:, j] = yc.forced[j]
            if yc.forced[j].startswith("not measured"):
                count[:, j] = 0
        elif count[listed[:, j], j].sum() == 0:
            reason[:, j] = design._structural(y, it.variable, it.level, [it.level])
    structural = reason != ""
    blank = lambda a: np.where(structural, np.nan, a)  # noqa: E731
    g, j = np.nonzero(listed)
    frame = pd.DataFrame({
        "year": y, "_item": [its[i].key for i in j], "estimate": blank(p)[g, j],
        "se": blank(se)[g, j], "ci_low": blank(lo)[g, j], "ci_high": blank(hi)[g, j],
        "n": s["n"][g, j].astype(np.int64), "count": count[g, j], "n_eff": n_eff[g, j],
        "deff": deff[g, j], "reason": reason[g, j]})
    frame["item"] = frame["_item"]
    if chosen:
        sizes = [len(labels[i]) for i in chosen]
        for pos, i in enumerate(chosen):
            stride = int(np.prod(sizes[pos + 1:]))
            frame[names[pos]] = np.asarray(labels[i], dtype=object)[(g // stride) % sizes[pos]]
    return frame


@cache
def _others_levels(item: Item) -> tuple[str, ...]:
    name, _ = base_variable(item.variable)
    levels = [str(lv) for lv in definitions()[name]["levels"]]
    return tuple(lv for lv in levels if lv != item.level and not policy.is_unknown(lv))


def _others(item: Item) -> dict[str, list[str]] | None:
    """The item's other levels merged into one (the same base and share, half the rows for
    the design to finish: the page computes every profile)."""
    others = list(_others_levels(item))
    return {f"not {item.level}": others} if len(others) > 1 else None


def pool_frame(rows: pd.DataFrame, keys: Sequence[str] = (),
               years: Sequence[int] | None = None) -> pd.DataFrame:
    """Per-year rows combined as independent strata, n-weighted, one row per ``keys`` group.

    ``p = sum_y a_y p_y`` with ``a_y = n_y / sum n``; ``se = sqrt(sum_y a_y^2 se_y^2)``;
    ``n_eff = p (1 - p) / se^2`` (a group with one year keeps that year's ``n_eff``, interval
    and ``deff``, the design's own). Years with no one in the base, or where the level could
    not be chosen (a structural ``reason``), do not contribute (``why`` names the structural
    reasons of a group left without years); ``years`` limits the years used. Unsuppressed."""
    keys = list(keys)
    use = rows if years is None else rows[rows["year"].isin(list(years))]
    key = pd.Series("", index=use.index, dtype=object)
    for k in keys:  # vectorised: a row-wise join costs seconds over every profile
        key = key + KEY_SEPARATOR + use[k].astype(str).to_numpy()
    reason = use["reason"].astype(str)
    # a level that could not be chosen; a year whose domain is empty (n 0) is no structural
    # zero, whatever its reason says: it just adds no one
    structural = (reason.ne("") & ~reason.str.startswith("effective n")
                  & (use["n"] > 0)).to_numpy()
    ok = ((use["n"] > 0).to_numpy() & ~structural & use["estimate"].notna().to_numpy())
    valid = use[ok]
    frame = pd.DataFrame({
        "key": key[ok], "n": valid["n"].astype(float), "count": valid["count"].astype(float),
        "pn": valid["estimate"] * valid["n"], "vn": (valid["se"] * valid["n"]) ** 2,
        "k": 1.0, "n_eff1": valid["n_eff"], "lo1": valid["ci_low"], "hi1": valid["ci_high"],
        "deff1": valid["deff"], "y": np.left_shift(1, valid["year"].astype(int) - YEAR0)})
    agg = frame.groupby("key", sort=False).agg(
        n=("n", "sum"), count=("count", "sum"), pn=("pn", "sum"), vn=("vn", "sum"),
        k=("k", "sum"), n_eff1=("n_eff1", "first"), lo1=("lo1", "first"), hi1=("hi1", "first"),
        deff1=("deff1", "first"), years=("y", "sum"))
    whys = (reason[structural].groupby(key[structural], sort=False)
            .agg(lambda s: "; ".join(sorted(set(s)))))
    firsts = use.assign(key=key).drop_duplicates("key").set_index("key")
    agg = agg.reindex(firsts.index)
    n = agg["n"].fillna(0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = agg["pn"].to_numpy() / n
        var = agg["vn"].to_numpy() / n**2
        interior = (p > 0) & (p < 1)
        n_eff = np.where(interior & (var > 0), p * (1 - p) / var, n)
        deff = np.where(interior, var / (p * (1 - p) / n), np.nan)
    lo, hi = E.ci_proportion(p, n_eff, method=CI_METHOD, se=np.sqrt(var))
    one = (agg["k"] == 1).to_numpy()
    empty = n == 0
    out = pd.DataFrame({
        "estimate": p, "se": np.sqrt(var),
        "ci_low": np.where(one, agg["lo1"], lo), "ci_high": np.where(one, agg["hi1"], hi),
        "n": n.astype(np.int64), "count": agg["count"].fillna(0).to_numpy().astype(np.int64),
        "n_eff": np.where(empty, 0.0, np.where(one, agg["n_eff1"], n_eff)),
        "deff": np.where(one, agg["deff1"], deff),
        "years": [_span(int(b)) for b in agg["years"].fillna(0).to_numpy()],
        "why": np.where(empty, whys.reindex(agg.index).fillna("").to_numpy(), ""),
    })
    for k in keys:
        out[k] = firsts[k].to_numpy()
    return out[[*keys, *out.columns[:len(out.columns) - len(keys)]]]


YEAR0 = 2000  # years pooled are kept as bits (1 << (year - YEAR0)) while grouping


@cache
def _span(bits: int) -> str:
    """The ``years`` text of a set of years kept as bits, e.g. "2022, 2023"."""
    return ", ".join(str(YEAR0 + i) for i in range(bits.bit_length()) if bits >> i & 1)


def pool(rows: pd.DataFrame, years: Sequence[int] | None = None) -> dict[str, Any]:
    """One group's per-year rows pooled (:func:`pool_frame`), as a dict."""
    if rows.empty:
        return {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "n": 0, "count": 0, "n_eff": 0.0, "deff": np.nan, "years": "", "why": ""}
    return pool_frame(rows, (), years).iloc[0].to_dict()


def _years_of(text: str) -> list[int]:
    return [int(y) for y in text.split(", ")] if text else []


# ------------------------------------------------------------------ the API


def benchmark(
    size: str | None = None,
    industry: str | None = None,
    region: str | None = None,
    has_ospo: str | None = None,
    *,
    design: Survey | None = None,
    min_n_eff: float | None = None,
) -> pd.DataFrame:
    """How organisations matching a profile compare with all organisations, pooled over years.

    Parts take the labels the benchmark page shows (``dimensions()``): ``size`` an
    organisation-size band ("1-50" ... "over 10,000"), ``industry``, ``region``, ``has_ospo``
    ("yes", "planning one", "no"); a part left out matches everyone. ``design`` defaults to
    ``survey([2022, 2023, 2024]).without_panel()``. One row per item (sections ``OSPO``,
    ``practices`` (share doing it frequently), ``policies`` (share with a formal policy),
    ``maturity`` (stage of the journey ladder), ``challenges`` (among those with an OSPO)):
    the peers' pooled share (``estimate``, ``ci_low``, ``ci_high``, ``n``, ``n_eff``,
    ``suppressed``, ``reason``) beside all organisations of the same ``years``
    (``all_estimate``, ...). A suppressed share's ``reason`` names the part to widen, e.g.
    "region: widen it, effective n 12 under 30". See the module docstring for the pooling.

    >>> t = benchmark(size="1-50", region="Europe")
    >>> list(t.columns[:6])
    ['section', 'item', 'variable', 'level', 'group', 'years']
    """
    parts = {"size": size, "industry": industry, "region": region, "has_ospo": has_ospo}
    conditions = profile_levels(**parts)
    base = design if design is not None else default_design()
    threshold = base.min_n_eff if min_n_eff is None else float(min_n_eff)
    peers = per_year(base.subset(**conditions) if conditions else base)
    everyone = per_year(base)
    widened = {}  # each set part left out: which widening helps a thin share most
    rows = []
    for item in items():
        mine = peers[peers["item"] == item.key]
        row = {"section": item.section, "item": item.label, "variable": item.variable,
               "level": item.level, "group": group_text(conditions)}
        if item.variable in conditions:
            pooled = pool(mine.iloc[0:0])
            pooled["why"] = FIXED
        else:
            pooled = pool(mine)
        row.update({k: pooled[k] for k in ("estimate", "se", "ci_low", "ci_high", "n", "count",
                                           "n_eff", "deff", "years")})
        small = pooled["why"] == "" and not pooled["n_eff"] >= threshold
        reason = pooled["why"]
        if small:
            reason = _widen(item, pooled["n_eff"], threshold, conditions, base, widened)
            for c in ("estimate", "se", "ci_low", "ci_high"):
                row[c] = np.nan
        row["suppressed"] = bool(small)
        row["reason"] = reason
        years = _years_of(pooled["years"]) or list(base.years)
        total = pool(everyone[everyone["item"] == item.key], years)
        all_small = not total["n_eff"] >= threshold
        for c in ("estimate", "se", "ci_low", "ci_high", "n", "n_eff"):
            row[f"all_{c}"] = (np.nan if all_small and c in ("estimate", "se", "ci_low",
                                                              "ci_high") else total[c])
        row["all_suppressed"] = all_small
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out[["n", "count", "all_n"]] = out[["n", "count", "all_n"]].astype(np.int64)
    out.attrs["notes"] = [
        "pooled over each item's years as independent strata (n-weighted shares, variances"
        " summed); intervals describe sampling noise only",
        *base.notes,
    ]
    thin = out.loc[out["suppressed"], "reason"]
    if len(thin):
        out.attrs["notes"].append(f"too narrow for {len(thin)} of {len(out)} rows: "
                                  f"{thin.iloc[0]}")
    return out


def group_text(conditions: Mapping[str, str]) -> str:
    """The profile in the design's ``group`` words, e.g. "org_size = 1-50; region = Europe"
    ("" for all organisations)."""
    return "; ".join(f"{v} = {lv}" for v, lv in conditions.items())


def widening_gain(n_eff: float) -> float:
    """The effective n that decides which part to widen, rounded so that parts tied in exact
    arithmetic stay tied (the first part in the page's order wins), whatever the rounding of
    the sums they come from.

    >>> widening_gain(12.000000000000002) == widening_gain(11.999999999999998)
    True
    """
    return round(float(n_eff), 6) if np.isfinite(n_eff) else 0.0


def _widen(item: Item, n_eff: float, threshold: float, conditions: Mapping[str, str],
           design: Survey, cache_: dict[str, pd.DataFrame]) -> str:
    """``reason`` of a thin share: the profile part whose widening gains the most effective
    n for this item (an item asked only of some, e.g. challenges of OSPOs, says so)."""
    words = policy.SUPPRESSED.format(min_n_eff=threshold)
    said = f"effective n {n_eff:.0f} under {threshold:g}"
    if not conditions:
        return words
    names = {d.variable: d.name for d in dimensions()}
    best, gain = None, -1.0
    for var in conditions:
        if var not in cache_:
            rest = {k: v for k, v in conditions.items() if k != var}
            cache_[var] = per_year(design.subset(**rest) if rest else design)
        wider = pool(cache_[var][cache_[var]["item"] == item.key])
        if widening_gain(wider["n_eff"]) > gain:
            best, gain = var, widening_gain(wider["n_eff"])
    return f"{names[best]}: widen it, {said}"


# ------------------------------------------------------------------ every profile at once

WITHHELD = "withheld so that a suppressed share cannot be worked out from the published ones"


@dataclass
class Lattice:
    """Every profile's pooled cells (:func:`lattice`), all organisations' pooled rows per item
    and span of years (``all[(item key, "2022, 2023")]``), and the threshold used."""

    cells: pd.DataFrame
    all: dict[tuple[str, str], dict[str, Any]]
    min_n_eff: float


def lattice(design: Survey | None = None, *, min_n_eff: float | None = None) -> Lattice:
    """Every profile the page's controls allow (each part a level or any: ``""``) and item,
    pooled as :func:`benchmark` does (by-groups of the same design: the same domain
    estimates as ``subset``), with suppression by effective n and complementary suppression.

    Columns: one per profile variable (level or ""), ``item`` (``variable:level``), the peers'
    pooled columns, ``suppressed`` (effective n under the threshold, nobody, or the item fixed
    by the profile), ``withheld`` (published numbers would reveal a suppressed one:
    :func:`protect`), ``reason``; with all organisations' rows beside (:class:`Lattice`).
    Nothing here is respondent-level.
    """
    from itertools import combinations

    base = design if design is not None else default_design()
    threshold = base.min_n_eff if min_n_eff is None else float(min_n_eff)
    dims = [d.variable for d in dimensions()]
    frames = []
    everyone = None
    per_profile = per_year_profiles(base)
    for k in range(len(dims) + 1):
        for chosen in combinations(dims, k):
            rows = per_profile[chosen]
            if not chosen:
                everyone = rows
            pooled = pool_frame(rows, ["item", *chosen])
            for d in dims:
                if d not in chosen:
                    pooled[d] = ""
            frames.append(pooled)
            for d in chosen:  # the share fixed by the profile: not estimated
                if d in {i.variable for i in items()}:
                    fixed = _fixed_rows(pooled, d)
                    frames.append(fixed)
    out = pd.concat(frames, ignore_index=True)
    for d in dims:
        out[d] = out[d].astype(str)
    fixed = out["why"] == FIXED
    out["suppressed"] = ~(out["n_eff"] >= threshold) | fixed
    out["reason"] = np.where(fixed, FIXED, np.where(out["why"] != "", out["why"],
                             np.where(out["suppressed"], policy.SUPPRESSED.format(
                                 min_n_eff=threshold), "")))
    out = out.drop(columns="why")
    out["withheld"] = protect(out, dims)
    out.loc[out["withheld"], "reason"] = WITHHELD
    order = {i.key: j for j, i in enumerate(items())}
    out["_order"] = out["item"].map(order)
    out = out.sort_values([*dims, "_order"], kind="stable").drop(columns="_order")
    out = out.reset_index(drop=True)
    alls = {}
    assert everyone is not None
    for span in sorted(set(out["years"]) - {""}):
        wanted = set(out.loc[out["years"] == span, "item"])
        pooled = pool_frame(everyone[everyone["item"].isin(wanted)], ["item"], _years_of(span))
        for row in pooled.to_dict("records"):
            alls[(row.pop("item"), span)] = row
    return Lattice(out, alls, threshold)


def _fixed_rows(pooled: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Rows for the item of ``variable`` in profiles that fix it (nothing to estimate)."""
    keys = pooled.drop_duplicates([c for c in pooled.columns if c in
                                   [d.variable for d in dimensions()]])
    out = []
    for item in items():
        if item.variable != variable:
            continue
        rows = keys.copy()
        rows["item"] = item.key
        rows[["estimate", "se", "ci_low", "ci_high", "deff"]] = np.nan
        rows[["n", "count"]] = 0
        rows["n_eff"] = 0.0
        rows["years"] = ""
        rows["why"] = FIXED
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def relations(keys: Sequence[tuple[str, ...]], levels: Sequence[Sequence[str]],
              skip: int | None = None) -> list[tuple[int, list[int]]]:
    """The additive relations among profile cells (positions in ``keys``, each a profile: a
    level or "" per part): for each cell and each part it leaves open, the cell is the sum of
    its children along that part (the profiles naming a level of it) plus the peers whose
    answer to that part is missing, taken as known (the cautious assumption). A child nobody
    matches is a known zero and left out. ``skip``: a part whose relations do not hold (the
    item's own variable)."""
    index = {key: i for i, key in enumerate(keys)}
    out = []
    for key, i in index.items():
        for j, lvls in enumerate(levels):
            if key[j] != "" or j == skip:
                continue
            kids = [index[c] for lv in lvls if (c := (*key[:j], lv, *key[j + 1:])) in index]
            if kids:
                out.append((i, kids))
    return out


def protect(cells: pd.DataFrame, dims: Sequence[str]) -> np.ndarray:
    """Complementary suppression: which cells to withhold so that no hidden cell's base ``n``
    (and with it its share) can be worked out by subtraction from the published ``n``s.

    Every additive relation (:func:`relations`: a profile is the sum of its children along a
    part it leaves open, plus the peers who did not answer that part, taken as known) must
    hold none or at least two hidden cells: one with exactly one gets its smallest published
    child (else its parent) withheld, until none is left. Within a section the items share one
    pattern (a profile hidden for one item is withheld for all), so a reader sees the same
    rows go. Hidden: under the threshold; a profile nobody matches, a profile with nobody in
    the item's base (``n`` 0) and a share not asked of the peers count as known zeros; a
    share fixed by the profile (the share with an OSPO among those with one) is no estimate
    and stays out. Returns the boolean ``withheld`` column (True for a row not hidden on its
    own).

    Chains: a reader may combine many relations at once (across two or more parts). That is
    audited by linear programming (``tests/test_benchmark_page.py``): the smallest and the
    largest count a hidden cell could have, given every published count of its item at once
    and non-negative counts (the linear relaxation, as cell-suppression audits use it), are at
    least one apart for every audited cell (a seeded sample in the suite; every
    hidden cell of every item with ``OSPO_BENCHMARK_AUDIT=full``). The page does not publish
    how many left a part unanswered; with those remainders taken as known as well, chains can
    pin a few coarse cells (5 of the 293 hidden cells of the share with an OSPO, e.g. a region
    on its own), which single subtractions cannot. The open data release publishes every
    respondent's answers anyway: suppression here keeps noisy shares off the page.
    """
    section = {i.key: i.section for i in items()}
    structural = (cells["reason"] != "") & ~cells["reason"].str.startswith("effective n") & \
        (cells["reason"] != FIXED)
    # nobody in the item's base (n 0): a known zero, like a profile nobody matches
    unknown = (cells["suppressed"] & ~structural & (cells["n"] > 0)).to_numpy()
    withheld = np.zeros(len(cells), dtype=bool)
    sec_of = cells["item"].map(section).to_numpy()
    item_of = cells["item"].to_numpy()
    profile = list(cells[list(dims)].itertuples(index=False, name=None))
    levels = [sorted(set(cells[d]) - {""}) for d in dims]
    for name in SECTIONS:
        # a share fixed by the profile is no estimate at all: outside every relation
        # nobody in the base is a known zero too: outside the relations, as an absent profile
        rows = np.flatnonzero((sec_of == name) & (cells["reason"] != FIXED).to_numpy()
                              & (cells["n"] > 0).to_numpy())
        if not len(rows):
            continue
        keys = sorted({profile[r] for r in rows})
        at = {k: i for i, k in enumerate(keys)}
        hidden = np.zeros(len(keys), dtype=bool)
        size = np.zeros(len(keys))
        n_of = cells["n"].to_numpy()
        for r in rows:
            i = at[profile[r]]
            hidden[i] |= unknown[r]
            size[i] = max(size[i], float(n_of[r]))
        variables = {item_of[r].split(":")[0] for r in rows}
        own = next((j for j, d in enumerate(dims) if d in variables), None)
        rel = relations(keys, levels, skip=own)
        flags = hidden.tolist()  # plain lists: this loop runs over every relation, often
        sizes = size.tolist()
        changed = True
        while changed:
            changed = False
            for parent, kids in rel:
                if flags[parent] + sum(flags[c] for c in kids) == 1:
                    _hide_one(parent, kids, flags, sizes)
                    changed = True
        hidden = np.array(flags, dtype=bool)
        for r in rows:
            if hidden[at[profile[r]]] and not unknown[r]:
                withheld[r] = True
    return withheld


def _hide_one(parent: int, kids: Sequence[int], hidden: list[bool], size: list[float]) -> None:
    """Withhold the smallest published child of a relation (its parent if none is left)."""
    open_kids = [c for c in kids if not hidden[c]]
    hidden[min(open_kids, key=lambda c: (size[c], c)) if open_kids else parent] = True
