"""One survey design, declared once (years, sample, weights, exclusions), with verbs.

``ospo_survey.survey(2024)`` loads the year's harmonised sample (from ``data/processed``,
built first when missing or stale) and weights it; every verb then uses that design, and the
statistical policy of :mod:`ospo_survey.analysis.policy` (unknown answers outside the base,
suppression by effective n, structural zeros missing with their reason, one rule for series
breaks and the paid panel). Verbs return tidy frames with fixed columns and shares on the 0-1
scale:

``year, variable, level, group, estimate, se, ci_low, ci_high, n, count, n_eff, deff,
suppressed, reason`` (then one column per ``by=`` variable)

``n`` is the base (respondents in the domain who answered), ``count`` those choosing the level,
``n_eff`` the estimate's effective sample size. Several years: every year is estimated on its own
(its own weights and design), so a year's row is the same whatever other years are in the
survey. Restricting to a subpopulation (:meth:`Survey.subset`) keeps the design and its weights
(domain estimation, as R's ``subset(design, ...)``); leaving respondents out with ``exclude=`` or
:meth:`Survey.without_panel` re-weights the rest to the same targets. Standard errors are R's
(years as strata) and intervals 95% Korn-Graubard; they describe sampling noise only; the weights
are treated as fixed (:mod:`ospo_survey.inference.estimate`).
"""

from __future__ import annotations

import ast
import copy
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.analysis.policy import MIN_EVENTS, MIN_N_EFF
from ospo_survey.core.errors import (
    CodebookError,
    ModelError,
    UnknownVariableError,
    UnknownYearError,
    did_you_mean,
)
from ospo_survey.core.frames import share_attrs
from ospo_survey.inference import distributions as D
from ospo_survey.inference import estimate as E
from ospo_survey.inference.schemes import (
    compute_weights,
    diagnostics_row,
    replicate_weights_for,
    scheme_name,
    targets,
)
from ospo_survey.ingest import processed
from ospo_survey.ingest.dataset import load_harmonized
from ospo_survey.ingest.harmonize import (
    base_variable,
    codebook_table,
    definitions,
    output_columns,
    panel_level,
    variables,
)
from ospo_survey.ingest.settings import available_years, year_settings

COLUMNS = policy.COLUMNS
DIFFERENCE_COLUMNS = [
    "year_a", "year_b", "variable", "level", "group", "estimate", "se", "ci_low", "ci_high",
    "p", "deff", "estimate_a", "estimate_b", "n_a", "n_b", "n_eff_a", "n_eff_b", "suppressed",
    "reason", "note",
]
# how a change between two years' shares gets its interval (named on the pages)
DIFFERENCE_INTERVAL = ("Newcombe's method: the two years' Korn-Graubard intervals combined"
                       " (MOVER)")
LOGISTIC_COLUMNS = ["term", "estimate", "se", "odds_ratio", "or_low", "or_high", "p", "deff"]
TEST_COLUMNS = ["year", "row", "col", "statistic", "F", "ndf", "ddf", "p", "chi2", "df",
                "chi2_rs", "p_chi2_rs", "mean_deff", "n"]
SAMPLES = ("harmonized", "publisher")
SE_METHODS = ("linearized", "replicate")
BLANKED = ("estimate", "se", "ci_low", "ci_high")
GROUP_SEPARATOR = "; "
YES_NO = ["yes", "no"]

Combine = Mapping[str, Sequence[Any]] | Mapping[str, Mapping[str, Sequence[Any]]]


def survey(
    years: int | Iterable[int] = 2024,
    sample: str = policy.DEFAULTS["sample"],
    weights: str = policy.DEFAULTS["weights"],
    exclude: Mapping[str, Any] | None = None,
    *,
    min_n_eff: float = MIN_N_EFF,
    se: str = "linearized",
) -> Survey:
    """The survey design of ``years`` (see :class:`Survey`).

    >>> s = survey(2024)
    >>> s.proportion("has_ospo").set_index("level").at["has", "n"]
    np.int64(222)
    """
    return Survey(years, sample, weights, exclude, min_n_eff=min_n_eff, se=se)


def compare(
    outcome: str,
    by: str,
    *,
    years: int | Iterable[int] | None = None,
    sample: str = policy.DEFAULTS["sample"],
    weights: str | None = policy.DEFAULTS["weights"],
    adjust: Sequence[str] = (),
    pooled: bool = False,
    suppress: bool = True,
) -> pd.DataFrame:
    """:meth:`Survey.compare` on ``survey(years, sample, weights)`` (default every year),
    with the design's defaults, columns and suppression: ``n`` the group's base, ``count``
    those choosing the level, ``p`` the p-value.

    >>> t = compare("activity_contribute", "ospo_status", years=2022)
    >>> f = t[t["outcome_level"] == "frequently"]
    >>> [(g, int(n), round(100 * e, 1)) for g, n, e in zip(f["group"], f["n"], f["estimate"])]
    [('has (formal)', 276, 60.5), ('has (informal)', 178, 30.2), ('planning', 129, 15.5),
     ('none', 302, 5.5)]
    """
    design = survey(available_years() if years is None else years, sample,
                    scheme_name(weights))
    result = design.compare(outcome, by, adjust=adjust, pooled=pooled, suppress=suppress)
    return share_attrs(result, weights=design.scheme, sample=sample, years=design.years)


def maturity(
    years: int | Iterable[int] | None = None,
    model: str = "haddad",
    sample: str = policy.DEFAULTS["sample"],
    weights: str | None = policy.DEFAULTS["weights"],
    by: str | Sequence[str] | None = None,
    *,
    suppress: bool = True,
) -> pd.DataFrame:
    """Share of respondents at each stage of a maturity model, per year (and ``by`` group):
    :meth:`Survey.maturity` on ``survey(years, sample, weights)`` (default every year), with
    the design's defaults, columns and suppression.

    >>> m = maturity(2024, "todo5")
    >>> m.loc[m["level"] == "ad_hoc", ["count", "n"]].to_numpy().tolist()
    [[130, 222]]
    """
    design = survey(available_years() if years is None else years, sample,
                    scheme_name(weights))
    return design.maturity(model, by=by, suppress=suppress)


def _years(years: int | Iterable[int]) -> list[int]:
    ys = [years] if isinstance(years, int | str | np.integer) else list(years)
    if not ys:
        raise UnknownYearError(f"no survey year given: known years are {available_years()}")
    for y in ys:
        year_settings(y)  # UnknownYearError names the known years
    return sorted({int(y) for y in ys})


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | bool | int | np.integer) else list(value)


@cache
def _offered_levels() -> dict[tuple[int, str], frozenset[str]]:
    """(year, variable) -> the levels some raw answer of that year's question becomes."""
    table = processed.table("answer_map") if processed.from_processed() else None
    if table is None:
        return {}
    table = table[table["level"].notna()]
    return {(int(y), str(v)): frozenset(g["level"].astype(str))
            for (y, v), g in table.groupby(["year", "variable"], sort=False)}


@cache
def _screened_levels() -> dict[str, frozenset[str]]:
    """Levels the harmonised screen removes by rule (``drop`` steps of ``variables.yaml``)."""
    out: dict[str, set[str]] = {}
    for step in variables().get("harmonized_screen", []):
        drop = step.get("drop") or {}
        if "harmonized" in drop and "in" in drop:
            out.setdefault(str(drop["harmonized"]), set()).update(str(v) for v in drop["in"])
    return {k: frozenset(v) for k, v in out.items()}


@cache
def _year_levels(year: int, variable: str) -> frozenset[str]:
    """The levels some respondent of ``year`` has before any screen (every respondent)."""
    col = load_harmonized([year], sample="all")[variable]
    return frozenset(str(v) for v in col.dropna().astype(object).unique())


@cache
def _year_ticks(year: int, columns: tuple[str, ...]) -> dict[str, bool]:
    """Whether some respondent of ``year`` (before any screen) ticked each option column."""
    frame = load_harmonized([year], sample="all")
    return {c: bool(frame[c].fillna(False).astype(bool).any()) for c in columns}


@dataclass
class LogisticResult:
    """A survey-weighted logistic regression: coefficients, rows used, rows dropped and why,
    and the groups too small to trust (``flags``: fewer than 5 events or non-events)."""

    formula: str
    table: pd.DataFrame
    n: int
    dropped: dict[str, int] = field(default_factory=dict)
    empty_levels: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        dropped = ", ".join(f"{k}: {v}" for k, v in self.dropped.items() if v) or "none"
        flagged = f", flagged: {len(self.flags)}" if self.flags else ""
        return f"LogisticResult({self.formula!r}, n={self.n}, dropped: {dropped}{flagged})"


@dataclass
class Crosstab:
    """A weighted two-way table and its design-based test of independence.

    ``table``: the share of each ``col`` level within each ``row`` level (the tidy columns of
    :meth:`Survey.proportion` with ``by=row``) plus ``weighted``, the weighted count of the
    cell (weights have mean 1 in each year). ``test``: one row per year, the Rao-Scott
    second-order F test (R ``svychisq(statistic="F")``, the default) with its p-value ``p``,
    and the first-order ``chi2_rs`` with ``p_chi2_rs``. In a subset the variance keeps the
    whole year's design and the degrees of freedom come from the subset's rows, as R's
    ``svychisq`` on ``subset(design, ...)``.
    """

    row: str
    col: str
    table: pd.DataFrame
    test: pd.DataFrame
    notes: list[str] = field(default_factory=list)


@dataclass
class MultiRows:
    """One year's rows of a multiple-choice question, ready for its shares
    (:meth:`Survey._multi_rows`)."""

    part: pd.DataFrame
    inside: np.ndarray  # in the domain
    answered: np.ndarray
    alone: np.ndarray  # "don't know" ticked alone
    base: np.ndarray
    offered: dict[str, str]  # option -> column, "don't know" left out
    not_offered: list[str]
    screened: list[str]


def _missing_and_unknown(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Masks of a column's unanswered rows and its "don't know" answers (a categorical's
    codes compared once, not its labels row by row)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        unknown_codes = [i for i, c in enumerate(col.cat.categories)
                         if c in policy.UNKNOWN_LEVELS]
        return codes < 0, np.isin(codes, unknown_codes)
    return (col.isna().to_numpy(),
            col.astype(object).isin(policy.UNKNOWN_LEVELS).to_numpy())


class Survey:
    """A survey design: which years, which respondents, which weights, who is left out.

    ``years`` one year or several; ``sample`` ``"harmonized"`` (the cross-year screen) or
    ``"publisher"`` (the publisher's analysed sample); ``weights`` ``"reference"``,
    ``"unweighted"`` (or ``"none"``) or a targets YAML file; ``exclude`` maps harmonised
    variables to levels whose respondents are left out, **and the rest is re-weighted to the
    same targets** (right for the paid panel, :meth:`without_panel`; for a subpopulation use
    :meth:`subset`, which keeps the weights).

    >>> s = Survey(2024).subset(has_ospo="has")
    >>> s
    Survey(years=2024, sample='harmonized', weights='reference', exclude=None, n=100,
           subset={'has_ospo': ('has',)})
    """

    def __init__(
        self,
        years: int | Iterable[int] = 2024,
        sample: str = policy.DEFAULTS["sample"],
        weights: str = policy.DEFAULTS["weights"],
        exclude: Mapping[str, Any] | None = None,
        *,
        min_n_eff: float = MIN_N_EFF,
        se: str = "linearized",
    ) -> None:
        self.years = _years(years)
        if se not in SE_METHODS:
            raise ModelError(f"unknown se={se!r}: use one of {', '.join(SE_METHODS)}")
        self.se = se  # "replicate": bootstrap replicates that redo the whole weighting
        if sample not in SAMPLES:
            raise CodebookError(
                f"unknown sample {sample!r}:{did_you_mean(sample, SAMPLES)} use one of"
                f" {', '.join(SAMPLES)}"
            )
        from ospo_survey.processing.build import ensure_fresh

        self.sample = sample
        self.scheme = scheme_name(weights)
        targets(self.scheme)  # an unknown scheme or a bad targets file fails here, first
        self.min_n_eff = float(min_n_eff)
        ensure_fresh()
        h = load_harmonized(self.years, sample=sample)
        self._data = h  # every row, until the design is built: lets the checks see the columns
        self._domain: np.ndarray | None = None
        self.conditions: dict[str, tuple] = {}
        self.exclude = self._exclusions(exclude or {})
        self.weight_info, self.excluded = {}, {}
        # each year weighted on its own, from the few columns the targets read
        spec = targets(self.scheme)
        light = h[["row_id", *(v for v in spec.get("margins", {}) if v in h.columns)]]
        drop_all = self._excluded_rows(h).to_numpy()
        year_of = h["year"].to_numpy()
        weight = np.full(len(h), np.nan)
        for y in self.years:
            in_year = year_of == y
            drop = drop_all & in_year
            kept = np.flatnonzero(in_year & ~drop_all)
            subset = None
            if drop.any():  # re-weighted only where someone was left out
                what = "; ".join(f"{v} = {', '.join(lv)}" for v, lv in self.exclude.items())
                subset = f"without {int(drop.sum()):,} respondents ({what})"
            info = compute_weights(light.iloc[kept], y, self.scheme, sample, subset=subset)
            weight[kept] = info.weights.to_numpy()
            self.weight_info[y] = info
            self.excluded[y] = int(drop.sum())
        data = h[~drop_all].reset_index(drop=True) if drop_all.any() else h.copy(deep=False)
        data["weight"] = weight[~drop_all]
        self._data = data
        years_col = self._data["year"].to_numpy()
        self._rows = {y: np.flatnonzero(years_col == y) for y in self.years}

    # ------------------------------------------------------------------ description

    @property
    def frame(self) -> pd.DataFrame:
        """The design's respondents (those of the subset, after :meth:`subset`) with
        ``weight``."""
        if self._domain is None:
            return self._data.copy(deep=False)  # copy-on-write: changing it leaves the design
        return self._data[self._domain].reset_index(drop=True)

    @property
    def n(self) -> int:
        return int(len(self._data) if self._domain is None else self._domain.sum())

    @property
    def weighted(self) -> bool:
        return any(i.weighted for i in self.weight_info.values())

    @property
    def variables(self) -> list[str]:
        """Harmonised variables (and multi/matrix columns) this survey's frame holds."""
        names = []
        for var, vdef in definitions().items():
            if vdef["type"] in ("multi", "matrix"):
                names.append(var)
            names += [c for c in output_columns(var) if c in self._data.columns]
        return list(dict.fromkeys(names))

    @property
    def notes(self) -> list[str]:
        """What a reader must know about this design: the paid panel (included, or left out
        and re-weighted), how each year was weighted, and the subset."""
        out = list(self._year_notes())
        if self.conditions:
            out.append(f"estimates describe the subset {self._condition_text()}"
                       " (the design and its weights are kept)")
        return out

    def _year_notes(self) -> tuple[str, ...]:
        """The panel and weighting notes of each year: read once per design (every verb's
        frame carries them), and the same for its subsets, which share its rows and weights."""
        cached = self.__dict__.get("_year_notes_cache")
        if cached is not None:
            return cached
        out: list[str] = []
        panel = panel_level()
        left_out = panel in self.exclude.get("channel", ())
        channel = None if left_out else self._data["channel"].astype(object)
        for y in self.years:
            if left_out:
                k = self._panel_counts().get(y, 0)
                if k:
                    out.append(policy.panel_note(y, k, panel, excluded=True))
            else:
                k = int((channel.iloc[self._rows[y]] == panel).sum())
                if k:
                    out.append(policy.panel_note(y, k, panel, excluded=False))
            out += [f"{y}: {n}" for n in self.weight_info[y].notes]
        self.__dict__["_year_notes_cache"] = tuple(out)
        return self.__dict__["_year_notes_cache"]

    def diagnostics(self) -> pd.DataFrame:
        """One row per year: how the weights came out (n, Kish design effect and effective n,
        weight spread, fit to the targets, convergence) and the paid panel's share of the
        year's respondents in this design.

        >>> survey([2023, 2024]).diagnostics()[["year", "n", "panel_share"]].round(3)
           year    n  panel_share
        0  2023  489         0.28
        1  2024  222         0.00
        """
        rows = []
        channel = self._data["channel"].astype(object)
        for y in self.years:
            info = self.weight_info[y]
            share = float((channel.iloc[self._rows[y]] == panel_level()).mean())
            rows.append(diagnostics_row(y, info.n, info.diagnostics, share))
        return pd.DataFrame(rows)

    def _panel_counts(self) -> dict[int, int]:
        """Paid-panel respondents per year of the sample before any exclusion (read once per
        design: every verb's notes name them)."""
        cached = self.__dict__.get("_panel_cache")
        if cached is None:
            full = load_harmonized(self.years, sample=self.sample, columns=["year", "channel"])
            panel = full["channel"].astype(object) == panel_level()
            cached = {int(y): int(k) for y, k in full.loc[panel, "year"].value_counts().items()}
            self.__dict__["_panel_cache"] = cached
        return dict(cached)

    def _sizes(self) -> dict[int, int]:
        """Each year's rows in the whole design: the strata of R's
        ``svydesign(ids=~1, strata=~year, weights=~w)`` that every variance pads to."""
        return {int(y): len(rows) for y, rows in self._rows.items()}

    def _condition_text(self) -> str:
        return "; ".join(f"{v} = {', '.join(map(str, lv))}" for v, lv in self.conditions.items())

    def __repr__(self) -> str:
        years = self.years[0] if len(self.years) == 1 else self.years
        exclude = dict(self.exclude) or None
        left = f", excluded={sum(self.excluded.values())}" if self.exclude else ""
        sub = f", subset={dict(self.conditions)}" if self.conditions else ""
        return (f"Survey(years={years}, sample={self.sample!r}, weights={self.scheme!r},"
                f" exclude={exclude}, n={self.n}{left}{sub})")

    # ------------------------------------------------------------------ new designs

    def subset(self, **conditions: Any) -> Survey:
        """The same design restricted to a subpopulation (domain estimation): estimates
        describe the respondents meeting every condition, and the weights, the years' designs
        and their variances are kept (R's ``subset(design, ...)``; nothing is re-weighted).

        Each condition is a variable and one level or a list of levels; conditions combine
        with *and*, and a subset of a subset narrows it further.

        >>> s = survey(2024)
        >>> big = s.subset(org_size=["1,001-10,000", "over 10,000"], has_ospo="has")
        >>> big.n, round(float(big.frame["weight"].sum() / s.frame["weight"].sum()), 3)
        (68, 0.299)
        """
        if not conditions:
            raise UnknownVariableError(
                "subset() needs a condition, e.g. subset(has_ospo='has')"
                " or subset(org_size=['1,001-10,000', 'over 10,000'])"
            )
        mask = (np.ones(len(self._data), dtype=bool) if self._domain is None
                else self._domain.copy())
        conds = dict(self.conditions)
        for var, levels in conditions.items():
            self._variable(var)
            col = self._data[var]
            if col.dtype == bool or str(col.dtype) == "boolean":
                wanted = tuple(self._level(var, "yes" if lv is True else "no" if lv is False
                                           else lv) for lv in _listed(levels))
                col = col.map({True: "yes", False: "no"})
            else:
                wanted = tuple(self._level(var, lv) for lv in _listed(levels))
            mask &= col.astype(object).isin(wanted).to_numpy()
            conds[var] = (tuple(lv for lv in conds[var] if lv in wanted) if var in conds
                          else wanted)
        new = copy.copy(self)
        new._domain = mask
        new.conditions = conds
        return new

    def without_panel(self) -> Survey:
        """The same design without the paid panel (2023's respondents recruited by a paid
        panel of large organisations), the rest of each year **re-weighted** to the same
        targets; the subset, if any, is kept. ``notes`` says what was left out.

        >>> s = survey([2023, 2024]).without_panel()
        >>> s.excluded
        {2023: 137, 2024: 0}
        """
        exclude = {k: list(v) for k, v in self.exclude.items()}
        levels = exclude.setdefault("channel", [])
        if panel_level() not in levels:
            levels.append(panel_level())
        new = Survey(self.years, self.sample, self.scheme, exclude, min_n_eff=self.min_n_eff,
                     se=self.se)
        return new.subset(**self.conditions) if self.conditions else new

    # ------------------------------------------------------------------ checks

    def _variable(self, name: str, *, kinds: Sequence[str] = ("single",)) -> str:
        """``name`` if it is a variable of the wanted kind, else one line with the closest."""
        defs = definitions()
        if not isinstance(name, str):
            raise UnknownVariableError(f"{name!r} is not a variable name: pass its name as text")
        if name not in self._data.columns and name not in defs:
            raise UnknownVariableError(
                f"unknown variable {name!r}:{did_you_mean(name, self.variables)}"
                " (Survey.variables lists them; ospo_survey.codebook() says what they mean)"
            )
        kind = defs[name]["type"] if name in defs else "single"
        kind = "single" if kind in ("categorical", "derived") else kind
        if kind not in kinds:
            cols = [c for c in output_columns(name) if c in self._data.columns]
            if kind == "multi":
                hint = f"use proportions({name!r}) for its options"
            else:
                hint = f"use one of its rows, e.g. {cols[0]!r}" if cols else "use one of its rows"
            raise UnknownVariableError(f"{name!r} is a {kind} variable: {hint}")
        return name

    def _levels(self, var: str) -> list[str]:
        col = self._data[var]
        if isinstance(col.dtype, pd.CategoricalDtype):
            return [str(c) for c in col.cat.categories]
        if col.dtype == bool or str(col.dtype) == "boolean":
            return list(YES_NO)
        return sorted({str(v) for v in col.dropna()})

    def _level(self, var: str, level: Any) -> str:
        levels = self._levels(var)
        if str(level) not in levels:
            raise UnknownVariableError(
                f"{level!r} is not a level of {var}:{did_you_mean(level, levels)}"
                f" (levels: {', '.join(levels)})"
            )
        return str(level)

    def _exclusions(self, exclude: Mapping[str, Any]) -> dict[str, tuple]:
        out = {}
        for var, levels in exclude.items():
            self._variable(var)
            out[var] = tuple(self._level(var, lv) for lv in _listed(levels))
        return out

    def _excluded_rows(self, part: pd.DataFrame) -> pd.Series:
        drop = pd.Series(False, index=part.index)
        for var, levels in self.exclude.items():
            drop |= part[var].astype(object).isin(levels)
        return drop

    def _years_asking(self, cols: Sequence[str]) -> list[int]:
        asking = self.__dict__.setdefault("_asking_cache", {})  # subsets: the same years
        key = tuple(cols)
        if key not in asking:
            answered = self._data[list(cols)].notna().to_numpy().any(axis=1)
            asking[key] = [y for y in self.years if bool(answered[self._rows[y]].any())]
        years = list(asking[key])
        if not years:
            var, _ = base_variable(cols[0])
            table = codebook_table()
            elsewhere = table.loc[(table["variable"] == var) & table["asked"], "year"].tolist()
            raise ModelError(
                f"{var!r} was not asked in {', '.join(map(str, self.years))}; asked in"
                f" {', '.join(map(str, elsewhere)) or 'no year'}: use survey(years=...)"
            )
        return years

    def _by_list(self, by: str | Sequence[str] | None, var: str | None = None) -> list[str]:
        bys = [] if by is None else [by] if isinstance(by, str) else list(by)
        for b in bys:
            self._variable(b)
        if var is not None and var in bys:
            raise ModelError(f"{var!r} is both the variable and a by= variable: use another by=")
        if len(set(bys)) < len(bys):
            raise ModelError(f"by= names a variable twice: {bys}")
        return bys

    def _combine(self, names: Sequence[str], combine: Combine | None) -> dict[str, dict]:
        """``combine`` as {variable: {new level: [levels]}}; a flat {new level: [levels]}
        applies to the first of ``names`` (the verb's variable)."""
        if not combine:
            return {}
        if all(isinstance(v, Mapping) for v in combine.values()):
            spec = {str(k): dict(v) for k, v in combine.items()}
        else:
            spec = {names[0]: dict(combine)}
        out: dict[str, dict] = {}
        for var, groups in spec.items():
            if var not in names:
                raise UnknownVariableError(
                    f"combine= names {var!r}, which this estimate does not use:"
                    f" use one of {', '.join(names)}"
                )
            seen: set[str] = set()
            clean = {}
            for label, members in groups.items():
                levels = [self._level(var, m) for m in _listed(members)]
                if not levels or seen & set(levels):
                    raise ModelError(
                        f"combine= for {var}: {label!r} needs levels that no other combined"
                        " level uses"
                    )
                seen |= set(levels)
                clean[str(label)] = levels
            others = set(self._levels(var)) - seen
            clash = [lb for lb in clean if lb in others]
            if clash:
                raise ModelError(f"combine= for {var}: {clash[0]!r} is already a level of {var}")
            out[var] = clean
        return out

    # ------------------------------------------------------------------ one year's rows

    def _part(self, y: int, cols: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
        """Year ``y``'s rows of the design (``cols`` and ``weight``) and the domain mask."""
        idx = self._rows[y]
        part = self._data[list(dict.fromkeys([*cols, "weight"]))].iloc[idx].reset_index(
            drop=True)
        inside = (np.ones(len(idx), dtype=bool) if self._domain is None
                  else self._domain[idx])
        return part, inside

    def _multi_rows(self, y: int, cols: Mapping[str, str], bys: Sequence[str] = ()
                    ) -> MultiRows:
        """Year ``y``'s rows for a multiple-choice question (``cols``: option -> column):
        its base (answered, "don't know" not ticked alone) and the options that could not be
        ticked (not offered that year; offered to everyone yet ticked by no one after the
        screen)."""
        part, inside = self._part(y, [*cols.values(), *bys])
        unknown = [o for o in cols if policy.is_unknown(o)]
        block = part[list(cols.values())]
        missing = block.isna().to_numpy()  # per option column, then for all at once
        answered = ~missing.all(axis=1)
        ticked = block.fillna(False).to_numpy(dtype=bool)
        known = [i for i, o in enumerate(cols) if o not in unknown]
        alone = ticked[:, [i for i, o in enumerate(cols) if o in unknown]].any(axis=1) & \
            ~ticked[:, known].any(axis=1) if unknown else np.zeros(len(part), dtype=bool)
        offered = {o: c for o, c in cols.items() if o not in unknown}
        at = {o: i for i, o in enumerate(cols)}
        not_offered = [o for o in offered if missing[:, at[o]].all()]
        everyone = _year_ticks(y, tuple(offered.values()))
        screened = [o for o, c in offered.items() if o not in not_offered
                    and not ticked[:, at[o]].any() and everyone[c]]
        return MultiRows(part, inside, answered, alone, inside & answered & ~alone, offered,
                         not_offered, screened)

    def _placed(self, y: int, m: Any) -> tuple[pd.DataFrame, np.ndarray, Any]:
        """Year ``y``'s rows, domain mask and stages of maturity model ``m``
        (:func:`ospo_survey.analysis.maturity.place`; None when the year did not ask its
        base's inputs)."""
        from ospo_survey.analysis import maturity as M

        part, inside = self._part(y, [c for c in self._data.columns if c != "weight"])
        return part, inside, (M.place(part, m) if M.measured(m.base, part) else None)

    def _replicates(self, y: int) -> np.ndarray | None:
        """Year ``y``'s replicate weights (rows as :meth:`_part`), None unless se="replicate";
        computed once a process (:func:`ospo_survey.inference.schemes.replicate_weights_for`)."""
        if self.se != "replicate":
            return None
        return replicate_weights_for(self._data.iloc[self._rows[y]], y, self.scheme,
                                     reweighted=self.excluded[y] > 0, sample=self.sample)

    def _categorical(self, col: pd.Series, groups: Mapping[str, list[str]] | None
                     ) -> pd.Series:
        """A single-choice column as a categorical (booleans as yes/no), levels combined."""
        if col.dtype == bool or str(col.dtype) == "boolean":
            col = pd.Series(pd.Categorical(col.map({True: "yes", False: "no"}),
                                           categories=YES_NO), index=col.index)
        if not groups:
            return col
        lookup = {m: label for label, members in groups.items() for m in members}
        cats: list[str] = []
        for c in col.cat.categories:
            new = lookup.get(str(c), str(c))
            if new not in cats:
                cats.append(new)
        return pd.Series(pd.Categorical(col.astype(object).map(lambda v: lookup.get(v, v)),
                                        categories=cats), index=col.index)

    def _prepared(
        self, y: int, var: str, bys: Sequence[str], groups: Mapping[str, dict],
        dropped: Counter,
    ) -> tuple[pd.DataFrame, list[str]]:
        """Year ``y``'s rows ready for an estimate of ``var`` by ``bys``: levels combined,
        unknown answers and rows outside the domain set missing (outside the base but in the
        design), the reasons counted in ``dropped``. Returns the rows and the known levels."""
        part, inside = self._part(y, [var, *bys])
        keep = inside.copy()
        for name in (var, *bys):
            col = self._categorical(part[name], groups.get(name))
            miss, unknown = _missing_and_unknown(col)
            role = "" if name == var else f"{name} "
            dropped[f"{role}not answered"] += int((keep & miss).sum())
            dropped[f"{role}don't know"] += int((keep & unknown).sum())
            keep &= ~miss & ~unknown
            part[name] = col
        levels = [str(c) for c in part[var].cat.categories if not policy.is_unknown(c)]
        part[var] = part[var].where(keep)
        for b in bys:
            part[b] = part[b].where(keep)
        return part, levels

    def _structural(self, y: int, var: str, level: str, members: list[str]) -> str:
        """Why ``level`` of ``var`` (made of ``members``) has nobody in year ``y``'s sample:
        not offered that year, removed by the screen or left out of the design; "" for a
        sampling zero."""
        if var in self.exclude and set(members) <= set(self.exclude[var]):
            return "left out of this design (exclude=)"
        if self._domain is not None and var in self._data.columns:
            # in a subset, a level some respondent of the year's design has is a sampling zero
            col = self._data[var].iloc[self._rows[y]].astype(object)
            if col.isin(members).any():
                return ""
        if self.sample == "harmonized" and set(members) <= _screened_levels().get(var, set()):
            return policy.SCREENED_OUT
        offered = _offered_levels().get((y, var))
        possible = offered is None or bool(offered & set(members))
        in_year = bool(_year_levels(y, var) & set(members)) if var in self._data else False
        return policy.structural_reason(y, possible, in_year)

    def _finish(self, frames: list[pd.DataFrame], var: str, bys: Sequence[str],
                groups: Mapping[str, dict], suppress: bool, dropped: Counter) -> pd.DataFrame:
        out = pd.concat(frames, ignore_index=True)
        numeric = ["estimate", "se", "ci_low", "ci_high", "n_eff", "deff"]
        # as float and int64 (a year without groups adds an empty frame), column by column:
        # the numbers are blanked in numpy below, then set once
        values = {c: out[c].to_numpy(dtype=np.float64, copy=True) for c in numeric}
        for c in ("n", "count"):
            out[c] = out[c].to_numpy(dtype=np.int64)
        if bys:
            group = out[bys[0]].astype(str)
            for b in bys[1:]:  # column by column: a row-wise join cost a quarter of a verb
                group = group + GROUP_SEPARATOR + out[b].astype(str)
            out["group"] = group
        else:
            out["group"] = ""
        out["level"] = out["level"].astype(str)
        out["variable"] = out["variable"].astype(str)
        members = {lb: ms for lb, ms in groups.get(var, {}).items()}
        # a year's level that nobody chose: could it have been chosen? (summed in numpy: a
        # loop over every year and level cost a tenth of a verb)
        reason = np.full(len(out), "", dtype=object)
        year_codes, years = pd.factorize(out["year"])
        level_codes, levels = pd.factorize(out["level"])
        cell = year_codes * max(len(levels), 1) + level_codes
        size = len(years) * max(len(levels), 1)
        chosen = np.bincount(cell, weights=out["count"].to_numpy(dtype=np.float64),
                             minlength=size)
        present = np.bincount(cell, minlength=size) > 0
        for k in np.flatnonzero(present & (chosen <= 0)):
            level = levels[k % len(levels)]
            why = self._structural(int(years[k // len(levels)]), var, level,
                                   members.get(level, [level]))
            if why:
                reason[cell == k] = why
        structural = reason != ""
        suppressed = ~(values["n_eff"] >= self.min_n_eff) & ~structural
        reason[suppressed] = policy.SUPPRESSED.format(min_n_eff=self.min_n_eff)
        out["reason"] = ""
        if reason.any():
            out["reason"] = reason
        out["suppressed"] = suppressed
        blank = structural | (suppressed if suppress else False)
        for c in numeric:
            if c in BLANKED:
                values[c][blank] = np.nan
            out[c] = values[c]
        out = out[[*COLUMNS, *bys]].reset_index(drop=True)
        return share_attrs(out, dropped={k: v for k, v in dropped.items() if v},
                           notes=self.notes, sample=self.sample, weights=self.scheme,
                           years=self.years)

    # ------------------------------------------------------------------ verbs

    def proportion(self, var: str, by: str | Sequence[str] | None = None, *,
                   combine: Combine | None = None, suppress: bool = True) -> pd.DataFrame:
        """Share of each level of a single-choice variable (per ``by`` group or groups), every
        year that asked it.

        Unknown answers ("don't know") and unanswered questions are outside the base and
        counted in ``attrs["dropped"]``; a level that could not be chosen (not offered that
        year, removed by the screen) is missing with its ``reason``, never 0%. ``by`` takes a
        variable or a list; ``combine={"over 1,000": ["1,001-10,000", "over 10,000"]}``
        merges levels of ``var`` (``{"org_size": {...}}`` names the variable, for a ``by``
        one). A boolean column (``journey_lead``) has levels ``yes``/``no``.

        >>> p = survey(2024).proportion("org_size", combine={"over 1,000": ["1,001-10,000",
        ...                                                                 "over 10,000"]})
        >>> p[["level", "count", "n", "reason"]]
                                 level  count    n                 reason
        0                         1-50     64  220
        1                       51-250     26  220
        2                    251-1,000     28  220
        3                   over 1,000    102  220
        4  self-employed / not working      0  220  removed by the screen
        """
        self._variable(var)
        bys = self._by_list(by, var)
        groups = self._combine([var, *bys], combine)
        frames, dropped = [], Counter()
        for y in self._years_asking([var]):
            part, levels = self._prepared(y, var, bys, groups, dropped)
            est = E.proportions(part, var, weights="weight", by=bys or None, levels=levels,
                                min_n_eff=self.min_n_eff, se=self.se,
                                replicates=self._replicates(y))
            est.insert(0, "year", y)
            frames.append(est)
        return self._finish(frames, var, bys, groups, suppress, dropped)

    def proportions(self, var: str, by: str | Sequence[str] | None = None, *,
                    suppress: bool = True) -> pd.DataFrame:
        """Share ticking each option of a multiple-choice variable (one row per option).

        Base: respondents who answered the question; "don't know" ticked alone is outside the
        base (counted in ``attrs["dropped"]``) and has no row; an option a year did not offer
        is missing with ``reason`` "not offered in <year>".
        """
        self._variable(var, kinds=("multi",))
        bys = self._by_list(by)
        opts = [str(o) for o in definitions()[var]["options"]]
        cols = {o: f"{var}_{o}" for o in opts if f"{var}_{o}" in self._data.columns}
        frames, dropped = [], Counter()
        for y in self._years_asking(list(cols.values())):
            rows = self._multi_rows(y, cols, bys)
            part, inside, base = rows.part, rows.inside, rows.base
            dropped["not answered"] += int((inside & ~rows.answered).sum())
            dropped["don't know"] += int((inside & rows.answered & rows.alone).sum())
            for b in bys:
                col = self._categorical(part[b], None)
                bad = col.isna().to_numpy() | col.astype(object).isin(
                    policy.UNKNOWN_LEVELS).to_numpy()
                dropped[f"{b} not answered or don't know"] += int((base & bad).sum())
                part[b] = col.where(~bad)
            est = E.multi_proportions(part, rows.offered, name=var, base=base,
                                      weights="weight", by=bys or None,
                                      min_n_eff=self.min_n_eff, se=self.se,
                                      replicates=self._replicates(y))
            not_offered, screened = rows.not_offered, rows.screened
            est.insert(0, "year", y)
            level = est["level"].astype(str)
            est["_why"] = np.where(level.isin(not_offered), policy.NOT_OFFERED.format(year=y),
                                   np.where(level.isin(screened), policy.SCREENED_OUT, ""))
            frames.append(est)
        out = pd.concat(frames, ignore_index=True)
        why = out.pop("_why").to_numpy()
        out = self._finish([out], var, bys, {}, suppress, dropped)
        gone = why != ""
        out.loc[gone, list(BLANKED)] = np.nan
        out.loc[gone, "suppressed"] = False
        out.loc[gone, "reason"] = why[gone]
        return out

    def _breaks(self, a: int, b: int) -> list[str]:
        """Why years ``a`` and ``b`` are not like for like: series breaks, a paid panel."""
        return policy.breaks(a, b) + self._panel_changes(a, b, every=True)

    def _panel_changes(self, a: int, b: int, *, every: bool = False) -> list[str]:
        """The paid panel's notes for years ``a`` and ``b``. Without ``every``, only a change of
        sample make-up: a year that includes the panel beside one that has none."""
        panel = panel_level()
        left_out = panel in self.exclude.get("channel", ())
        channel = self._data["channel"].astype(object)
        counts = {}
        for y in (a, b):
            if left_out:
                counts[y] = self._panel_counts().get(y, 0)
            else:
                counts[y] = int((channel.iloc[self._rows[y]] == panel).sum())
        notes = [policy.panel_note(y, k, panel, excluded=left_out)
                 for y, k in counts.items() if k]
        if every:
            return notes
        included = {y: bool(k) and not left_out for y, k in counts.items()}
        return notes if included[a] != included[b] else []

    def trend(self, var: str, *, combine: Combine | None = None, suppress: bool = True
              ) -> pd.DataFrame:
        """:meth:`proportion` of every level in every year, sorted by level then year, with a
        ``note`` naming a series break or the paid panel between a year and the one before.

        >>> t = survey([2022, 2023, 2024]).trend("has_ospo").query("level == 'has'")
        >>> t["note"].tolist()[:2]
        ['', '2023 includes 137 paid-panel respondents (channel = panel (1,000+ employees))']
        """
        out = self.proportion(var, combine=combine, suppress=suppress)
        attrs = dict(out.attrs)
        order = {lv: i for i, lv in enumerate(dict.fromkeys(out["level"]))}
        out = out.sort_values(["level", "year"], key=lambda c: c.map(order) if c.name == "level"
                              else c, kind="stable").reset_index(drop=True)
        years = sorted(out["year"].unique())
        prev = dict(zip(years[1:], years[:-1], strict=False))
        notes = {y: "; ".join(self._breaks(prev[y], y)) if y in prev else "" for y in years}
        out["note"] = out["year"].map(notes)
        return share_attrs(out, **attrs)

    def difference(self, var: str, level: Any, between: str = "year", *,
                   by: str | Sequence[str] | None = None, combine: Combine | None = None,
                   suppress: bool = True, allow_break: bool = False) -> pd.DataFrame:
        """Change of one level's share from each year to the next (independent samples).

        ``estimate = share_b - share_a``, ``se = sqrt(se_a^2 + se_b^2)`` (the years are
        independent strata), p-value ``p`` from the normal test, an interval by Newcombe's
        method (the two years' Korn-Graubard intervals combined, so it agrees with them),
        ``deff`` the difference's design effect (sampling noise only). ``note`` names a series
        break or the paid panel between the two years. Across a series break (a new wording
        or screen) or a change of sample make-up (a year with the 2023 paid panel beside one
        without) the change mixes method with change, so it is not tested: its SE, interval
        and p-value are missing and ``reason`` says why, unless ``allow_break=True`` asks for
        the test, which ``note`` then states. Suppressed (either year's effective n under the
        threshold) or structural (the level could not be chosen in a year) differences are
        missing with ``reason``.

        >>> d = survey([2021, 2022]).difference("has_ospo", "has")
        >>> d["reason"].str.startswith("crosses a series break").tolist()
        [True]
        """
        if between != "year":
            raise ModelError(
                f"difference(between={between!r}) is not supported: only between='year'"
                " (independent yearly samples); for groups within a year use compare()"
            )
        self._variable(var)
        bys = self._by_list(by, var)
        groups = self._combine([var, *bys], combine)
        level = str(level)
        known = ([*groups[var], *(lv for lv in self._levels(var)
                                  if lv not in {m for ms in groups[var].values() for m in ms})]
                 if var in groups else self._levels(var))
        if level not in known:
            raise UnknownVariableError(
                f"{level!r} is not a level of {var}:{did_you_mean(level, known)}"
                f" (levels: {', '.join(known)})"
            )
        years = self._years_asking([var])
        if len(years) < 2:
            raise ModelError(
                f"difference needs two years that asked {var!r}; this survey has {years}:"
                " use survey(years=[...]) with more years"
            )
        shares = self.proportion(var, by=bys or None, combine=combine, suppress=False)
        shares = shares[shares["level"] == level]
        keys = ["group", *bys]
        rows = []
        for a, b in zip(years[:-1], years[1:], strict=True):
            m = shares[shares["year"] == a].merge(shares[shares["year"] == b], on=keys,
                                                  suffixes=("_a", "_b"))
            d = pd.DataFrame({"year_a": a, "year_b": b, "variable": var, "level": level,
                              "group": m["group"]})
            for k in bys:
                d[k] = m[k].to_numpy()
            pa, pb = m["estimate_a"].to_numpy(), m["estimate_b"].to_numpy()
            d["estimate"] = pb - pa
            d["se"] = np.sqrt(m["se_a"] ** 2 + m["se_b"] ** 2).to_numpy()
            # Newcombe (MOVER): each bound from the two years' own Korn-Graubard bounds
            la, ua = m["ci_low_a"].to_numpy(), m["ci_high_a"].to_numpy()
            lb, ub = m["ci_low_b"].to_numpy(), m["ci_high_b"].to_numpy()
            d["ci_low"] = d["estimate"] - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
            d["ci_high"] = d["estimate"] + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                d["p"] = 2 * D.norm_sf(np.abs(d["estimate"] / d["se"]))
                srs = (m["se_a"] ** 2 / m["deff_a"] + m["se_b"] ** 2 / m["deff_b"]).to_numpy()
                d["deff"] = d["se"].to_numpy() ** 2 / srs
            for c in ("estimate", "n", "n_eff"):
                d[f"{c}_a"] = m[f"{c}_a"].to_numpy()
                d[f"{c}_b"] = m[f"{c}_b"].to_numpy()
            why_a, why_b = m["reason_a"].to_numpy(), m["reason_b"].to_numpy()
            small = ~((d["n_eff_a"] >= self.min_n_eff) & (d["n_eff_b"] >= self.min_n_eff))
            structural = np.array([bool(x and not x.startswith("effective n")) or
                                   bool(w and not w.startswith("effective n"))
                                   for x, w in zip(why_a, why_b, strict=True)], dtype=bool)
            d["suppressed"] = small.to_numpy() & ~structural
            d["reason"] = np.where(structural, [f"{a}: {x}" if x and not x.startswith(
                "effective n") else f"{b}: {w}" for x, w in zip(why_a, why_b, strict=True)],
                np.where(d["suppressed"], policy.SUPPRESSED.format(min_n_eff=self.min_n_eff),
                         ""))
            blank = structural | (d["suppressed"].to_numpy() if suppress else False)
            d.loc[blank, ["estimate", "se", "ci_low", "ci_high", "p", "deff", "estimate_a",
                          "estimate_b"]] = np.nan
            crossed = policy.breaks(a, b)
            made_up = self._panel_changes(a, b)
            note = self._breaks(a, b)
            if (crossed or made_up) and not allow_break:
                d[["se", "ci_low", "ci_high", "p", "deff"]] = np.nan
                what = (f"crosses a series break ({'; '.join(crossed)})" if crossed else
                        f"the sample's make-up changes ({'; '.join(made_up)})")
                d.loc[d["reason"] == "", "reason"] = (
                    f"{what}: not tested (allow_break=True tests it)")
            elif crossed or made_up:
                note.append("tested across a series break or a change of sample make-up at"
                            " the caller's request (allow_break=True)")
            d["note"] = "; ".join(note)
            rows.append(d)
        out = pd.concat(rows, ignore_index=True)
        return out[[*DIFFERENCE_COLUMNS, *bys]]

    def crosstab(self, row: str, col: str, *, combine: Combine | None = None,
                 suppress: bool = True) -> Crosstab:
        """The weighted two-way table of ``row`` by ``col`` and a design-based test of
        independence per year (Rao-Scott, as R's ``svychisq``). Unknown answers are outside
        the table; cells follow :meth:`proportion`'s policy (shares of ``col`` within each
        ``row`` level).

        >>> x = survey(2024).crosstab("size3", "has_ospo")
        >>> x.test[["year", "statistic", "n"]]
           year    statistic    n
        0  2024  Rao-Scott F  220
        """
        self._variable(row)
        self._variable(col)
        if row == col:
            raise ModelError(f"crosstab needs two different variables, not {row!r} twice")
        groups = self._combine([col, row], combine)
        table = self.proportion(col, by=row, combine=combine, suppress=suppress)
        tests, dropped = [], Counter()
        for y in self._years_asking([col]):
            part, _ = self._prepared(y, col, [row], groups, dropped)
            if part[row].isna().all():
                continue
            degf = None if self._domain is None else int(self._domain[self._rows[y]].sum()) - 1
            try:
                rs = E.rao_scott(part, row, col, "weight", degf=degf)
            except ValueError:
                continue  # fewer than two observed rows or columns: no test
            tests.append({"year": y, "row": row, "col": col, "statistic": "Rao-Scott F",
                          "F": rs["F"], "ndf": rs["ndf"], "ddf": rs["ddf"], "p": rs["p_F"],
                          "chi2": rs["chi2"], "df": int(rs["df"]), "chi2_rs": rs["chi2_rs"],
                          "p_chi2_rs": rs["p_rs"], "mean_deff": rs["mean_deff"],
                          "n": int(rs["n"])})
        test = pd.DataFrame(tests, columns=TEST_COLUMNS)
        weighted = []
        for y in table["year"].unique():
            part, _ = self._prepared(int(y), col, [row], groups, Counter())
            cells = part.groupby([row, col], observed=False)["weight"].sum()
            sel = table["year"] == y
            weighted.append(pd.Series(
                [float(cells.get((g, lv), 0.0)) for g, lv in zip(
                    table.loc[sel, row].astype(str), table.loc[sel, "level"], strict=True)],
                index=table.index[sel]))
        table["weighted"] = pd.concat(weighted) if weighted else np.nan
        table.loc[table["reason"].ne("") & ~table["suppressed"], "weighted"] = np.nan
        return Crosstab(row, col, table, test, list(table.attrs.get("notes", [])))

    def maturity(self, model: str = "haddad", by: str | Sequence[str] | None = None, *,
                 suppress: bool = True) -> pd.DataFrame:
        """Share of respondents at each stage of a maturity model (``maturity.yaml``), per
        year (and ``by`` group): ``variable`` is the model, ``level`` the stage.

        Respondents outside the model's base are outside the estimate's base; a stage whose
        inputs a year did not ask is missing with ``reason`` "not measured in <year>" (its
        respondents are placed by the stages that were asked, so that year's other shares do
        not compare with years that measured it); ``attrs["notes"]`` says so.

        >>> m = survey(2024).maturity("todo5")
        >>> m[["level", "count", "reason"]].head(3)
                             level  count                reason
        0                   ad_hoc    130
        1     compliance_education      0  not measured in 2024
        2  ecosystem_participation     60
        """
        from ospo_survey.analysis import maturity as M

        m = M.get_model(model)
        bys = self._by_list(by)
        frames, dropped, notes, gone = [], Counter(), [], []
        for y in self.years:
            part, inside, placed = self._placed(y, m)
            if placed is None:
                notes.append(f"{m.key}: not measured in {y} (its base's inputs were not asked)")
                continue
            codes = np.where(inside, placed.codes, -1)
            dropped["outside the model's base"] += int((inside & (placed.codes < 0)).sum())
            part = part[[*bys, "weight"]].copy()
            part["stage"] = pd.Categorical.from_codes(codes, categories=m.names)
            for b in bys:
                col = self._categorical(part[b], None)
                bad = col.isna() | col.astype(object).isin(policy.UNKNOWN_LEVELS)
                dropped[f"{b} not answered or don't know"] += int((bad & (codes >= 0)).sum())
                part[b] = col.where(~bad)
            est = E.proportions(part, "stage", weights="weight", by=bys or None,
                                min_n_eff=self.min_n_eff)
            est["variable"] = m.key
            est.insert(0, "year", y)
            frames.append(est)
            for stage in placed.unmeasured:
                gone.append((y, stage))
                notes.append(
                    f"{m.key} {stage}: not measured in {y}: respondents are placed by the"
                    f" stages that were asked, so the year's other shares do not compare with"
                    f" years that measured {stage}"
                )
        if not frames:
            raise ModelError(f"{m.key}: not measured in any of {', '.join(map(str, self.years))}")
        out = self._finish(frames, m.key, bys, {}, suppress, dropped)
        for y, stage in gone:
            rows = ((out["year"] == y) & (out["level"] == stage)).to_numpy()
            out.loc[rows, list(BLANKED)] = np.nan
            out.loc[rows, ["count", "suppressed", "reason"]] = [0, False,
                                                                f"not measured in {y}"]
        years = sorted(out["year"].unique())
        notes += [f"series break between {a} and {b}: {t}" for a, b in zip(years[:-1], years[1:],
                                                                           strict=False)
                  for t in policy.breaks(a, b)]
        return share_attrs(out, notes=list(dict.fromkeys([*notes, *self.notes])))

    def compare(self, outcome: str, by: str, adjust: Sequence[str] = (), *,
                pooled: bool = False, suppress: bool = True) -> pd.DataFrame:
        """``outcome`` compared across ``by`` groups, optionally adjusted for ``adjust``
        (:func:`ospo_survey.analysis.compare.compare_frame` on this design's rows and weights;
        an association in an opt-in sample, not an effect).

        Columns follow the design's vocabulary: ``n`` the group's base, ``count`` those
        choosing the level, ``n_eff`` the raw estimate's effective n, ``p`` the p-value of
        the difference from the reference group. A group whose effective n is under the
        threshold has every estimate, difference and p-value missing (``suppressed``), and so
        do the differences against a suppressed reference group.
        """
        from ospo_survey.analysis.compare import compare_frame

        for name in (outcome, by, *adjust):
            self._variable(name)
        result = compare_frame(self.frame, outcome, by, adjust=tuple(adjust),
                               weights="weight" if self.weighted else None, year_col="year",
                               pooled=pooled, design_sizes=self._sizes())
        return api_compare(result, self.min_n_eff, suppress, self.notes)

    def logistic(self, formula: str) -> LogisticResult:
        """Survey-weighted logistic regression, e.g. ``"activity_contribute == 'frequently'
        ~ size3 + tech_industry"`` (outcome: ``var``, ``var == 'level'`` or ``var in [...]``;
        terms: variable names joined by ``+``, ``*`` or ``:``, and ``year``).

        Rows missing any model variable, or answering "don't know" to the outcome or a
        predictor, are left out and counted by reason (``dropped``); levels nobody in the
        model has are dropped (``empty_levels``); a level whose rows all share one outcome
        (perfect separation) is an error, and one with fewer than 5 events or non-events is
        named in ``flags``. Several years are pooled (each year's weights have mean 1, so a
        year counts by its respondents): add ``year`` as a term to compare years. Odds ratios
        from an opt-in sample describe associations, not effects."""
        if "~" not in formula:
            raise ModelError(f"{formula!r} has no '~': write 'outcome ~ term + term'")
        lhs, rhs = (p.strip() for p in formula.split("~", 1))
        var, hit = self._outcome(lhs)
        terms = self._terms(rhs)
        data = self.frame
        dropped = {}
        keep = data[var].notna()
        dropped[f"{var} missing"] = int((~keep).sum())
        unknown = keep & data[var].astype(object).isin(policy.UNKNOWN_LEVELS)
        dropped[f"{var} don't know"] = int(unknown.sum())
        keep &= ~unknown
        for t in terms:
            miss = keep & data[t].isna()
            dropped[f"{t} missing"] = int(miss.sum())
            keep &= ~miss
            if t != "year":
                unknown = keep & data[t].astype(object).isin(policy.UNKNOWN_LEVELS)
                if unknown.any():
                    dropped[f"{t} don't know"] = int(unknown.sum())
                keep &= ~unknown
        model = data.loc[keep, [var, *terms, "weight"]].copy()
        model["_y"] = hit(model[var]).astype("float64")
        model["_stratum"] = data.loc[keep, "year"].astype(int).to_numpy()
        empty = []
        for t in terms:
            col = model[t]
            if t == "year":
                model[t] = pd.Categorical(col.astype(int))
                col = model[t]
            if col.dtype == bool or str(col.dtype) == "boolean":
                model[t] = col.astype("float64")
            elif isinstance(col.dtype, pd.CategoricalDtype):
                unused = [str(c) for c in col.cat.categories if not (col == c).any()]
                empty += [f"{t}={u}" for u in unused]
                model[t] = col.cat.remove_unused_categories()
                if len(model[t].cat.categories) < 2:
                    raise ModelError(
                        f"{t} has only one level among the {len(model)} modelled rows"
                        f" ({model[t].cat.categories[0]!r}): leave it out of the formula"
                    )
        if model["_y"].nunique() < 2:
            raise ModelError(f"the outcome {lhs!r} does not vary among the {len(model)} rows")
        flags = []
        y = model["_y"].to_numpy()
        for t in terms:
            if isinstance(model[t].dtype, pd.CategoricalDtype):
                codes = model[t].cat.codes.to_numpy()
                levels = model[t].cat.categories
                for j in policy.one_sided(y, codes)[:1]:
                    size = int((codes == j).sum())
                    raise ModelError(
                        f"every one of the {size} rows with {t} = {levels[j]!r} has outcome"
                        f" {int(y[codes == j][0])} (perfect separation: no finite odds ratio);"
                        f" combine or drop the level (subset()), or drop {t}"
                    )
                for j, events, size in policy.sparse(y, codes):
                    flags.append(f"{t} = {levels[j]}: {events} events of {size} rows (fewer"
                                 f" than {MIN_EVENTS} events or non-events: its odds ratio is"
                                 " unreliable)")
        rhs_model = " + ".join(terms) if not re.search(r"[*:]", rhs) else rhs
        raw = E.logistic(model.reset_index(drop=True), f"_y ~ {rhs_model}", weights="weight",
                         strata="_stratum", design_sizes=self._sizes())
        table = pd.DataFrame({
            "term": raw["term"],
            "estimate": raw["estimate"],
            "se": raw["se"],
            "odds_ratio": np.exp(raw["estimate"]),
            "or_low": np.exp(raw["ci_low"]),
            "or_high": np.exp(raw["ci_high"]),
            "p": raw["p"],
            "deff": raw["deff"],
        })[LOGISTIC_COLUMNS]
        return LogisticResult(formula, table, int(len(model)), dropped, empty, flags,
                              self.notes)

    def _outcome(self, lhs: str) -> tuple[str, Any]:
        """Parse ``var``, ``var == 'level'``, ``var != ...``, ``var in [...]`` (no eval)."""
        usage = "write the outcome as var == 'level' or var in ['a', 'b']"
        try:
            node = ast.parse(lhs, mode="eval").body
        except SyntaxError:
            raise ModelError(f"cannot read the outcome {lhs!r}: {usage}") from None
        if isinstance(node, ast.Name):
            var = self._variable(node.id)
            col = self.frame[var]
            if col.dtype == bool or str(col.dtype) == "boolean":
                return var, lambda s: s.astype(bool)
            levels = self._levels(var)
            raise ModelError(
                f"the outcome {var!r} has levels {', '.join(levels)}: {usage},"
                f" e.g. {var} == {levels[0]!r}"
            )
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.left, ast.Name)):
            raise ModelError(f"cannot read the outcome {lhs!r}: {usage}")
        var = self._variable(node.left.id)
        op, right = node.ops[0], node.comparators[0]
        try:
            value = ast.literal_eval(right)
        except ValueError:
            raise ModelError(f"cannot read the outcome {lhs!r}: {usage}") from None
        many = isinstance(op, ast.In | ast.NotIn)
        if many != isinstance(value, list | tuple | set):
            raise ModelError(f"cannot read the outcome {lhs!r}: {usage}")
        if not isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
            raise ModelError(f"cannot read the outcome {lhs!r}: {usage}")
        levels = [self._level(var, v) for v in (value if many else [value])]
        negate = isinstance(op, ast.NotEq | ast.NotIn)
        return var, lambda s: s.astype(object).isin(levels) != negate

    def _terms(self, rhs: str) -> list[str]:
        names = [t.strip() for t in re.split(r"[+*:]", rhs)]
        bad = [t for t in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t)]
        if bad or not names:
            raise ModelError(
                f"cannot read the terms {rhs!r}: use variable names joined by +, * or :"
            )
        for t in names:
            if t != "year":
                self._variable(t)
        return list(dict.fromkeys(names))


def api_compare(result: pd.DataFrame, min_n_eff: float, suppress: bool,
                notes: Sequence[str] = ()) -> pd.DataFrame:
    """A :func:`~ospo_survey.analysis.compare.compare_frame` result in the design's
    vocabulary (``n`` the base, ``count`` those choosing the level), with suppression by
    effective n over every estimate, difference and p-value."""
    out = result.rename(columns={"n": "count"}).rename(columns={"base": "n"})
    small = ~(out["n_eff"] >= min_n_eff)
    ref_small = np.zeros(len(out), dtype=bool)
    for _, rows in out.groupby(["year", "outcome_level"], sort=False).groups.items():
        first = out.loc[rows].index[0]   # the reference group leads its block
        if small.loc[first]:
            ref_small[out.index.get_indexer(rows)] = True
    out["suppressed"] = small.to_numpy()
    out["reason"] = np.where(small, policy.SUPPRESSED.format(min_n_eff=min_n_eff),
                             np.where(ref_small, "reference group suppressed", ""))
    if suppress:
        estimates = [c for c in ("estimate", "se", "ci_low", "ci_high", "adj_estimate", "adj_se",
                                 "adj_ci_low", "adj_ci_high") if c in out.columns]
        diffs = ["diff", "diff_ci_low", "diff_ci_high", "p"]
        out.loc[small.to_numpy(), estimates + diffs] = np.nan
        out.loc[ref_small, diffs] = np.nan
    order = [c for c in out.columns if c not in ("count", "n")]
    at = order.index("group") + 1
    out = out[[*order[:at], "n", "count", *order[at:]]]
    out.attrs.update(result.attrs)
    return share_attrs(out, notes=list(dict.fromkeys([*result.attrs.get("notes", []),
                                                      *notes])))
