"""One survey design, declared once (years, sample, weights, exclusions), with verbs.

``ospo_survey.survey(2023, exclude={"channel": ["panel (1,000+ employees)"]})`` loads the
year's harmonised sample, leaves the excluded rows out and re-rakes the rest to the same
targets (:func:`ospo_survey.inference.schemes.compute_weights` with ``subset=``); every verb
then uses that design. Verbs return tidy frames with fixed columns and shares on the 0-1 scale:

``year, variable, level, group, estimate, se, ci_low, ci_high, n, n_eff, suppressed``

Several years: ``year`` is always a column and every year is estimated on its own (its own
weights and design), so a year's row is the same whatever other years are in the survey.
``group`` is the ``by=`` level as text, or ``""``. Estimates whose effective n is below the
suppression threshold come back missing with ``suppressed=True`` unless ``suppress=False``.
Intervals are 95% Wilson intervals on the effective n and describe sampling noise only; the
weights are treated as fixed (:mod:`ospo_survey.inference.estimate`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis.common import MIN_N_EFF, config
from ospo_survey.core.errors import (
    CodebookError,
    ModelError,
    UnknownVariableError,
    UnknownYearError,
    did_you_mean,
)
from ospo_survey.inference import estimate as E
from ospo_survey.inference.schemes import compute_weights, scheme_name, targets
from ospo_survey.ingest.dataset import load_harmonized
from ospo_survey.ingest.harmonize import (
    base_variable,
    codebook_table,
    definitions,
    output_columns,
    panel_level,
)
from ospo_survey.ingest.settings import available_years, year_settings

COLUMNS = [
    "year", "variable", "level", "group", "estimate", "se", "ci_low", "ci_high", "n", "n_eff",
    "suppressed",
]
DIFFERENCE_COLUMNS = [
    "year_a", "year_b", "variable", "level", "group", "estimate", "se", "ci_low", "ci_high",
    "p_value", "estimate_a", "estimate_b", "n_a", "n_b", "n_eff_a", "n_eff_b", "suppressed",
    "note",
]
LOGISTIC_COLUMNS = ["term", "estimate", "se", "odds_ratio", "or_low", "or_high", "p"]
SAMPLES = ("harmonized", "publisher")
BLANKED = ("estimate", "se", "ci_low", "ci_high")


def survey(
    years: int | Iterable[int] = 2024,
    sample: str = "harmonized",
    weights: str = "reference",
    exclude: Mapping[str, Any] | None = None,
    *,
    min_n_eff: float = MIN_N_EFF,
) -> Survey:
    """The survey design of ``years`` (see :class:`Survey`).

    >>> s = survey(2024)
    >>> s.proportion("has_ospo").set_index("level").at["has", "n"]
    np.int64(222)
    """
    return Survey(years, sample, weights, exclude, min_n_eff=min_n_eff)


def _years(years: int | Iterable[int]) -> list[int]:
    ys = [years] if isinstance(years, int | str | np.integer) else list(years)
    if not ys:
        raise UnknownYearError(f"no survey year given: known years are {available_years()}")
    for y in ys:
        year_settings(y)  # UnknownYearError names the known years
    return sorted({int(y) for y in ys})


@dataclass
class LogisticResult:
    """A survey-weighted logistic regression: coefficients, rows used, rows dropped and why."""

    formula: str
    table: pd.DataFrame
    n: int
    dropped: dict[str, int] = field(default_factory=dict)
    empty_levels: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        dropped = ", ".join(f"{k}: {v}" for k, v in self.dropped.items() if v) or "none"
        return f"LogisticResult({self.formula!r}, n={self.n}, dropped: {dropped})"


class Survey:
    """A survey design: which years, which respondents, which weights, who is left out.

    ``years`` one year or several; ``sample`` ``"harmonized"`` (the cross-year screen) or
    ``"publisher"`` (the publisher's analysed sample); ``weights`` ``"reference"``,
    ``"unweighted"`` (or ``"none"``) or a targets YAML file; ``exclude`` maps harmonised
    variables to levels whose respondents are left out, the rest re-raked to the same targets.
    """

    def __init__(
        self,
        years: int | Iterable[int] = 2024,
        sample: str = "harmonized",
        weights: str = "reference",
        exclude: Mapping[str, Any] | None = None,
        *,
        min_n_eff: float = MIN_N_EFF,
    ) -> None:
        self.years = _years(years)
        if sample not in SAMPLES:
            raise CodebookError(
                f"unknown sample {sample!r}:{did_you_mean(sample, SAMPLES)} use one of"
                f" {', '.join(SAMPLES)}"
            )
        self.sample = sample
        self.scheme = scheme_name(weights)
        targets(self.scheme)  # an unknown scheme fails here, naming the choices
        self.min_n_eff = float(min_n_eff)
        h = load_harmonized(self.years, sample=sample)
        self.frame = h  # every row, until the design is built: lets the checks see the columns
        self.exclude = self._exclusions(exclude or {})
        parts, self.weight_info, self.excluded = [], {}, {}
        for y in self.years:
            part = h[h["year"] == y]
            drop = self._excluded_rows(part)
            kept = part[~drop].copy()
            subset = None
            if self.exclude:
                what = "; ".join(f"{v} = {', '.join(lv)}" for v, lv in self.exclude.items())
                subset = f"without {int(drop.sum()):,} respondents ({what})"
            info = compute_weights(kept, y, self.scheme, sample, subset=subset)
            kept["weight"] = info.weights.to_numpy()
            self.weight_info[y] = info
            self.excluded[y] = int(drop.sum())
            parts.append(kept)
        self.frame = pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------ description

    @property
    def n(self) -> int:
        return int(len(self.frame))

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
            names += [c for c in output_columns(var) if c in self.frame.columns]
        return list(dict.fromkeys(names))

    def __repr__(self) -> str:
        years = self.years[0] if len(self.years) == 1 else self.years
        exclude = dict(self.exclude) or None
        left = f", excluded={sum(self.excluded.values())}" if self.exclude else ""
        return (f"Survey(years={years}, sample={self.sample!r}, weights={self.scheme!r},"
                f" exclude={exclude}, n={self.n}{left})")

    # ------------------------------------------------------------------ checks

    def _variable(self, name: str, *, kinds: Sequence[str] = ("single",)) -> str:
        """``name`` if it is a variable of the wanted kind, else one line with the closest."""
        defs = definitions()
        if name not in self.frame.columns and name not in defs:
            raise UnknownVariableError(
                f"unknown variable {name!r}:{did_you_mean(name, self.variables)}"
                " (Survey.variables lists them; ospo_survey.codebook() says what they mean)"
            )
        kind = defs[name]["type"] if name in defs else "single"
        kind = "single" if kind in ("categorical", "derived") else kind
        if kind not in kinds:
            cols = [c for c in output_columns(name) if c in self.frame.columns]
            if kind == "multi":
                hint = f"use proportions({name!r}) for its options"
            else:
                hint = f"use one of its rows, e.g. {cols[0]!r}" if cols else "use one of its rows"
            raise UnknownVariableError(f"{name!r} is a {kind} variable: {hint}")
        return name

    def _levels(self, var: str) -> list[str]:
        col = self.frame[var]
        if isinstance(col.dtype, pd.CategoricalDtype):
            return [str(c) for c in col.cat.categories]
        if col.dtype == bool or str(col.dtype) == "boolean":
            return ["yes", "no"]
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
            wanted = [levels] if isinstance(levels, str) else list(levels)
            out[var] = tuple(self._level(var, lv) for lv in wanted)
        return out

    def _excluded_rows(self, part: pd.DataFrame) -> pd.Series:
        drop = pd.Series(False, index=part.index)
        for var, levels in self.exclude.items():
            drop |= part[var].astype(object).isin(levels)
        return drop

    def _years_asking(self, cols: Sequence[str]) -> list[int]:
        asked = self.frame.groupby("year")[list(cols)].apply(lambda d: bool(d.notna().any().any()))
        years = [int(y) for y, ok in asked.items() if ok]
        if not years:
            var, _ = base_variable(cols[0])
            table = codebook_table()
            elsewhere = table.loc[(table["variable"] == var) & table["asked"], "year"].tolist()
            raise ModelError(
                f"{var!r} was not asked in {', '.join(map(str, self.years))}; asked in"
                f" {', '.join(map(str, elsewhere)) or 'no year'}: use survey(years=...)"
            )
        return years

    def _blank(self, out: pd.DataFrame, suppress: bool) -> pd.DataFrame:
        out["suppressed"] = ~(out["n_eff"] >= self.min_n_eff)
        if suppress:
            out.loc[out["suppressed"], [c for c in BLANKED if c in out.columns]] = np.nan
        return out

    def _by(self, part: pd.DataFrame, by: str | None) -> pd.DataFrame:
        if by is None:
            return part
        part = part.copy()
        col = part[by]
        if col.dtype == bool or str(col.dtype) == "boolean":
            part[by] = col.map({True: "yes", False: "no"})
        return part

    def _tidy(self, frames: list[pd.DataFrame], by: str | None, suppress: bool) -> pd.DataFrame:
        out = pd.concat(frames, ignore_index=True)
        out["group"] = out[by].astype(str) if by else ""
        out["level"] = out["level"].astype(str)
        out["variable"] = out["variable"].astype(str)
        return self._blank(out, suppress)[COLUMNS].reset_index(drop=True)

    # ------------------------------------------------------------------ verbs

    def proportion(self, var: str, by: str | None = None, *, suppress: bool = True
                   ) -> pd.DataFrame:
        """Share of each level of a single-choice variable (per ``by`` group), every year that
        asked it. Every level of the variable gets a row, chosen or not (a year that could not
        produce a level shows 0: ``codebook(year, var)`` says which answers feed which level);
        a boolean column (``journey_lead``) has levels ``yes``/``no``."""
        self._variable(var)
        if by is not None:
            self._variable(by)
        frames = []
        for y in self._years_asking([var]):
            part = self._by(self.frame[self.frame["year"] == y], by)
            values = part[var]
            if values.dtype == bool or str(values.dtype) == "boolean":
                part = part.assign(**{var: pd.Categorical(
                    values.map({True: "yes", False: "no"}), categories=["yes", "no"])})
            est = E.proportions(part, var, weights="weight", by=by, min_n_eff=self.min_n_eff)
            est.insert(0, "year", y)
            frames.append(est)
        return self._tidy(frames, by, suppress)

    def proportions(self, var: str, by: str | None = None, *, suppress: bool = True
                    ) -> pd.DataFrame:
        """Share ticking each option of a multiple-choice variable (one row per option).

        Base: respondents who answered the question; options a year did not offer are left
        out of that year.
        """
        self._variable(var, kinds=("multi",))
        if by is not None:
            self._variable(by)
        opts = definitions()[var]["options"]
        cols = {str(o): f"{var}_{o}" for o in opts}
        frames = []
        for y in self._years_asking(list(cols.values())):
            part = self._by(self.frame[self.frame["year"] == y], by)
            offered = {o: c for o, c in cols.items() if part[c].notna().any()}
            base = part[list(offered.values())].notna().any(axis=1)
            est = E.multi_proportions(part, offered, name=var, base=base, weights="weight",
                                      by=by, min_n_eff=self.min_n_eff)
            est.insert(0, "year", y)
            frames.append(est)
        return self._tidy(frames, by, suppress)

    def _breaks(self, a: int, b: int) -> list[str]:
        """Why years ``a`` and ``b`` are not like for like: series breaks, a paid panel."""
        notes = [str(t["label"]) for t in config().get("trend_breaks", [])
                 if a <= int(t["after"]) and int(t["before"]) <= b]
        panel = self.frame["channel"].astype(object) == panel_level()
        for y in (a, b):
            k = int((panel & (self.frame["year"] == y)).sum())
            if k:
                notes.append(f"{y} includes {k} paid-panel respondents (channel = {panel_level()})")
        return notes

    def trend(self, var: str, *, suppress: bool = True) -> pd.DataFrame:
        """:meth:`proportion` of every level in every year, sorted by level then year, with a
        ``note`` naming a series break or a paid panel between a year and the one before."""
        out = self.proportion(var, suppress=suppress)
        order = {lv: i for i, lv in enumerate(self._levels(var))}
        out = out.sort_values(["level", "year"], key=lambda c: c.map(order) if c.name == "level"
                              else c, kind="stable").reset_index(drop=True)
        years = sorted(out["year"].unique())
        prev = dict(zip(years[1:], years[:-1], strict=False))
        out["note"] = [
            "; ".join(self._breaks(prev[y], y)) if y in prev else "" for y in out["year"]
        ]
        return out

    def difference(self, var: str, level: Any, between: str = "year", *, by: str | None = None,
                   suppress: bool = True) -> pd.DataFrame:
        """Change of one level's share from each year to the next (independent samples).

        ``estimate = share_b - share_a``, ``se = sqrt(se_a^2 + se_b^2)``, Wald interval and
        p-value (sampling noise only); ``note`` names a series break or a paid panel between
        the two years — across a break the change mixes wording or screening with change.
        """
        if between != "year":
            raise ModelError(
                f"difference(between={between!r}) is not supported: only between='year'"
                " (independent yearly samples); for groups within a year"
                " use compare()"
            )
        self._variable(var)
        level = self._level(var, level)
        if by is not None:
            self._variable(by)
        years = self._years_asking([var])
        if len(years) < 2:
            raise ModelError(
                f"difference needs two years that asked {var!r}; this survey has {years}:"
                " use survey(years=[...]) with more years"
            )
        rows = []
        for a, b in zip(years[:-1], years[1:], strict=True):
            pa = self._by(self.frame[self.frame["year"] == a], by)
            pb = self._by(self.frame[self.frame["year"] == b], by)
            d = E.difference(pa, pb, var, level, "weight", "weight", by=by,
                             min_n_eff=self.min_n_eff)
            d.insert(0, "year_b", b)
            d.insert(0, "year_a", a)
            d["note"] = "; ".join(self._breaks(a, b))
            rows.append(d)
        out = pd.concat(rows, ignore_index=True)
        out["group"] = out[by].astype(str) if by else ""
        out["level"] = out["level"].astype(str)
        small = ~((out["n_eff_a"] >= self.min_n_eff) & (out["n_eff_b"] >= self.min_n_eff))
        out["suppressed"] = small
        if suppress:
            out.loc[small, ["estimate", "se", "ci_low", "ci_high", "p_value", "estimate_a",
                            "estimate_b"]] = np.nan
        return out[DIFFERENCE_COLUMNS]

    def compare(self, outcome: str, by: str, adjust: Sequence[str] = (), *,
                pooled: bool = False) -> pd.DataFrame:
        """``outcome`` compared across ``by`` groups, optionally adjusted for ``adjust``
        (:func:`ospo_survey.analysis.compare.compare_frame` on this design's rows and weights;
        an association in an opt-in sample, not an effect)."""
        for name in (outcome, by, *adjust):
            self._variable(name)
        try:
            from ospo_survey.analysis.compare import compare_frame
        except ImportError:
            raise ModelError(
                "compare() needs ospo_survey.analysis.compare, which this version lacks:"
                " update the package"
            ) from None
        return compare_frame(self.frame, outcome, by, adjust=tuple(adjust),
                             weights="weight" if self.weighted else None, year_col="year",
                             pooled=pooled)

    def logistic(self, formula: str) -> LogisticResult:
        """Survey-weighted logistic regression, e.g. ``"activity_contribute == 'frequently'
        ~ size3 + tech_industry"`` (outcome: ``var``, ``var == 'level'`` or ``var in [...]``;
        terms: variable names joined by ``+``, ``*`` or ``:``, and ``year``). Rows missing any
        model variable are dropped and counted by reason; levels nobody in the model has are
        dropped; a level whose rows all share one outcome (perfect separation) is an error.
        Several years are pooled (each year's weights have mean 1, so a year counts by its
        respondents): add ``year`` as a term to compare years. Odds ratios from an opt-in
        sample describe associations, not effects."""
        if "~" not in formula:
            raise ModelError(f"{formula!r} has no '~': write 'outcome ~ term + term'")
        lhs, rhs = (p.strip() for p in formula.split("~", 1))
        var, hit = self._outcome(lhs)
        terms = self._terms(rhs)
        data = self.frame
        dropped = {}
        keep = data[var].notna()
        dropped[f"{var} missing"] = int((~keep).sum())
        for t in terms:
            miss = keep & data[t].isna()
            dropped[f"{t} missing"] = int(miss.sum())
            keep &= ~miss
        model = data.loc[keep, [var, *terms, "weight"]].copy()
        model["_y"] = hit(model[var]).astype("float64")
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
        for t in terms:
            if isinstance(model[t].dtype, pd.CategoricalDtype):
                share = model.groupby(t, observed=True)["_y"].agg(["mean", "size"])
                flat = share[(share["mean"] == 0) | (share["mean"] == 1)]
                if not flat.empty:
                    lv, row = flat.index[0], flat.iloc[0]
                    raise ModelError(
                        f"every one of the {int(row['size'])} rows with {t} = {lv!r} has outcome"
                        f" {int(row['mean'])} (perfect separation: no finite odds ratio); leave"
                        f" them out with survey(exclude={{{t!r}: [{lv!r}]}}) or drop {t}"
                    )
        rhs_model = " + ".join(terms) if not re.search(r"[*:]", rhs) else rhs
        raw = E.logistic(model.reset_index(drop=True), f"_y ~ {rhs_model}", weights="weight")
        table = pd.DataFrame({
            "term": raw["term"],
            "estimate": raw["estimate"],
            "se": raw["se"],
            "odds_ratio": np.exp(raw["estimate"]),
            "or_low": np.exp(raw["ci_low"]),
            "or_high": np.exp(raw["ci_high"]),
            "p": raw["p"],
        })[LOGISTIC_COLUMNS]
        return LogisticResult(formula, table, int(len(model)), dropped, empty)

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
