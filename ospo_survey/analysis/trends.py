"""The harmonised series across years, unweighted beside weighted, as frames."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.analysis.common import MIN_N_EFF, UNWEIGHTED_LABEL, WEIGHTED_LABEL, shares
from ospo_survey.analysis.design import Survey
from ospo_survey.ingest.harmonize import panel_level
from ospo_survey.ingest.settings import available_years


def break_between(a: int, b: int) -> dict[str, Any] | None:
    """The ``trend_breaks`` entry (``reports.yaml``) between survey years ``a`` < ``b``, if any
    (:func:`ospo_survey.analysis.policy.break_entries`)."""
    found = policy.break_entries(a, b)
    return found[0] if found else None


def _year_rows(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    """One year's rows of a design's frame, its ``weight`` as the pages' ``_w``."""
    return frame[frame["year"] == year].rename(columns={"weight": "_w"})


class TrendsAnalysis:
    """Harmonised variables across years, unweighted beside reference-weighted (no HTML)."""

    def __init__(
        self,
        weights: str = "reference",
        *,
        sample: str = "harmonized",
        min_n_eff: float = MIN_N_EFF,
        years: Iterable[int] | None = None,
        exclude_panel: bool = True,
    ) -> None:
        self.scheme = weights
        self.sample = sample
        self.min_n_eff = float(min_n_eff)
        #: The design of the series: every year's sample and weights (:class:`Survey`).
        self.design = Survey(available_years() if years is None else years, sample, weights,
                             min_n_eff=self.min_n_eff)
        h = self.design.frame
        self.years = list(self.design.years)
        panel = (h["channel"].astype(object) == panel_level() if "channel" in h.columns
                 else pd.Series(False, index=h.index))
        #: Years whose sample holds paid-panel respondents (2023); the default series leave
        #: them out and re-weight the rest (``Survey.without_panel``), and show the with-panel
        #: value beside it, marked.
        self.panel_years = sorted(int(y) for y in h.loc[panel, "year"].unique()) \
            if exclude_panel else []
        self.panel_n = {y: int((panel & (h["year"] == y)).sum()) for y in self.panel_years}
        main = self.design.without_panel() if self.panel_years else self.design
        parts, panel_parts, self.winfo, self.panel_winfo = [], [], {}, {}
        for y in self.years:
            if y in self.panel_years:
                self.panel_winfo[y] = self.design.weight_info[y]
                panel_parts.append(_year_rows(self.design.frame, y))
            self.winfo[y] = main.weight_info[y]
            parts.append(_year_rows(main.frame, y))
        self.frame = pd.concat(parts).reset_index(drop=True)
        self.frame["year_group"] = pd.Categorical(self.frame["year"].astype(int),
                                                  categories=self.years)
        #: The panel years with the panel kept (their usual weights), for the marked values.
        self.panel_frame = (pd.concat(panel_parts).reset_index(drop=True) if panel_parts
                            else self.frame.iloc[:0])
        self.weighted = any(i.weighted for i in self.winfo.values())
        self._adoption: pd.DataFrame | None = None

    @property
    def main_label(self) -> str:
        """The series that findings and tests use: weighted when the scheme weights."""
        return WEIGHTED_LABEL if self.weighted else UNWEIGHTED_LABEL

    @property
    def panel_label(self) -> str:
        return f"{self.main_label}, with the paid panel"

    def asked_years(self, var: str) -> list[int]:
        ok = self.frame.groupby("year")[var].apply(lambda s: bool(s.notna().any()))
        return [int(y) for y, v in ok.items() if v]

    def series(self, var: str, level: Any, *, among: Iterable[Any] | None = None,
               by: str | None = None, label: str | None = None) -> pd.DataFrame:
        """Share of ``level`` per year, unweighted and weighted (``series`` column).

        Panel years come without the paid panel; their value with it is an extra series,
        :attr:`panel_label`, drawn as a marked point beside the line.
        """
        years = self.asked_years(var)
        if not years:
            return pd.DataFrame()
        out = self._series(self.frame, var, level, years, among=among, by=by, label=label)
        if not out.empty:
            panel_years = [y for y in self.panel_years if y in years]
            if panel_years:
                extra = self._series(self.panel_frame, var, level, panel_years, among=among,
                                     by=by, label=label)
                extra = extra[extra["series"] == self.main_label].copy()
                extra["series"] = self.panel_label
                out = pd.concat([out, extra], ignore_index=True)
        return out

    def _series(self, df: pd.DataFrame, var: str, level: Any, years: list[int], *,
                among: Iterable[Any] | None, by: str | None, label: str | None
                ) -> pd.DataFrame:
        # the columns a share reads (a copy of every column cost a third of a series)
        cols = [c for c in dict.fromkeys([var, "year", "_w", *([by] if by else [])])
                if c in df.columns]
        df = df.loc[df["year"].isin(years), cols].copy()
        if df.empty:
            return pd.DataFrame()
        df["_v"] = self._indicator(df[var], level, among)
        if isinstance(level, (list, tuple)):
            label = label or " or ".join(map(str, level))
            level = "yes"
        elif level is True:
            level = "yes"
        df["year_group"] = pd.Categorical(df["year"].astype(int), categories=years)
        groups = ["year_group"] if by is None else ["year_group", by]
        out = []
        schemes = [(UNWEIGHTED_LABEL, None)]
        if self.weighted:
            schemes.append((WEIGHTED_LABEL, "_w"))
        for name, w in schemes:
            e = shares(df, "_v", weights=w, by=groups if by else "year_group",
                       min_n_eff=self.min_n_eff, strata="year")
            e = e[(e["level"] == level) & (e["n"] > 0)].copy()
            e["series"] = name
            out.append(e)
        res = pd.concat(out, ignore_index=True)
        res["year"] = res["year_group"].astype(int)
        res["variable"] = var
        res["level"] = label or str(level)
        return res.drop(columns="year_group")

    def _indicator(self, col: pd.Series, level: Any, among: Iterable[Any] | None
                   ) -> pd.Categorical:
        """The variable as the categorical a series counts: yes/no for a list of levels or a
        boolean option, else its own levels (restricted to ``among`` when given)."""
        if among is not None:
            col = col.astype(object).where(col.astype(object).isin(list(among)))
        if isinstance(level, (list, tuple)):
            obj = col.astype(object)
            vals = np.where(obj.isna(), None, np.where(obj.isin(list(level)), "yes", "no"))
            return pd.Categorical(vals, categories=["yes", "no"])
        if col.dtype == bool or str(col.dtype) == "boolean":
            vals = np.where(col.isna(), None, np.where(col.fillna(False), "yes", "no"))
            return pd.Categorical(vals, categories=["yes", "no"])
        if among is not None:
            return pd.Categorical(col.astype(object), categories=list(among))
        if isinstance(self.frame[col.name].dtype, pd.CategoricalDtype):
            return pd.Categorical(col.astype(object),
                                  categories=self.frame[col.name].cat.categories)
        return pd.Categorical(col.astype(object))

    def adoption_series(self) -> pd.DataFrame:
        if self._adoption is None:
            self._adoption = self._adoption_series()
        return self._adoption

    def _adoption_series(self) -> pd.DataFrame:
        return self.series("has_ospo", "has")

    def maturity_series(self, model: str) -> pd.DataFrame:
        """Share of respondents at each stage of a maturity model per year, on the main
        series (weighted when the scheme weights; panel years without the panel). Stages a
        year did not measure have no point. Columns of :meth:`series` plus stage, stage_label.
        """
        from ospo_survey.analysis import maturity as M

        m = M.get_model(model)
        col = f"maturity_{m.key}"
        if col not in self.frame.columns:
            self.frame[col] = M.stages(self.frame, m)
            if not self.panel_frame.empty:
                self.panel_frame[col] = M.stages(self.panel_frame, m)
        gone = M.unmeasured(self.frame, m)
        years = self.asked_years(col)
        if not years:
            return pd.DataFrame()
        df = self.frame.loc[self.frame["year"].isin(years), [col, "year", "_w"]].copy()
        df["year_group"] = pd.Categorical(df["year"].astype(int), categories=years)
        # every stage's share in one estimate (the main series only)
        est = shares(df, col, weights="_w" if self.weighted else None, by="year_group",
                     min_n_eff=self.min_n_eff, strata="year")
        est = est[est["n"] > 0]
        parts = []
        for st in m.stages:
            s = est[est["level"] == st.name].copy()
            if s.empty:
                continue
            s["series"] = self.main_label
            s["year"] = s["year_group"].astype(int)
            s["variable"] = col
            s["level"] = st.name
            s = s.drop(columns="year_group")
            s = s[[st.name not in gone.get(y, []) for y in s["year"]]]
            s["stage"], s["stage_label"] = st.name, st.label
            parts.append(s)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def crosses_break(self, a: int, b: int) -> dict[str, Any] | None:
        """The ``trend_breaks`` entry between survey years ``a`` < ``b``, if any."""
        return break_between(a, b)

    def year_over_year(self, var: str, level: Any, indicator: str, *,
                    among: Iterable[Any] | None = None) -> pd.DataFrame:
        """Change from each asked year to the next, per series, as a tidy frame.

        Columns: indicator, from, to, series, estimate, ci_low, ci_high, p_value, tested, why.
        Pairs across a ``trend_breaks`` entry are listed but not tested (``tested`` False,
        ``why`` naming the break); panel years are compared without the paid panel.
        """
        from ospo_survey.inference import estimate as E

        years = self.asked_years(var)
        rows: list[dict[str, Any]] = []
        schemes = [(UNWEIGHTED_LABEL, None)] + ([(WEIGHTED_LABEL, "_w")] if self.weighted
                                                else [])
        for a, b in zip(years, years[1:], strict=False):
            brk = self.crosses_break(a, b)
            parts = []
            # only the answer and the weight (a copy of every column cost half of this)
            cols = [c for c in dict.fromkeys([var, "_w"]) if c in self.frame.columns]
            for y in (a, b):
                d = self.frame.loc[self.frame["year"] == y, cols].copy()
                d["_v"] = self._indicator(d[var], level, among)
                parts.append(d)
            target = "yes" if isinstance(level, (list, tuple)) or level is True else level
            notes = [f"{y} without the paid panel" for y in (a, b) if y in self.panel_years]
            for name, w in schemes:
                row = {"indicator": indicator, "from": a, "to": b, "series": name,
                       "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                       "p_value": np.nan, "tested": False, "why": ""}
                if brk is not None:
                    row["why"] = f"not tested: across {brk['text']}"
                    rows.append(row)
                    continue
                try:
                    diff = E.difference(parts[0], parts[1], "_v", target, weights_a=w,
                                        weights_b=w, min_n_eff=self.min_n_eff)
                except ValueError as exc:
                    row["why"] = f"not tested: {exc}"
                    rows.append(row)
                    continue
                if diff.empty:
                    row["why"] = "not tested: too few answers"
                    rows.append(row)
                    continue
                r = diff.iloc[0]
                row.update(estimate=float(r["estimate"]), ci_low=float(r["ci_low"]),
                           ci_high=float(r["ci_high"]), p_value=float(r["p_value"]),
                           tested=True, why="; ".join(notes))
                rows.append(row)
        cols = ["indicator", "from", "to", "series", "estimate", "ci_low", "ci_high",
                "p_value", "tested", "why"]
        return pd.DataFrame(rows, columns=cols)

    def segments(self, frame: pd.DataFrame) -> list[pd.DataFrame]:
        """A series split into runs of years between ``trend_breaks`` (for lines and prose)."""
        frame = frame.sort_values("year")
        out: list[pd.DataFrame] = []
        start = 0
        years = frame["year"].astype(int).tolist()
        for i in range(1, len(years) + 1):
            if i == len(years) or self.crosses_break(years[i - 1], years[i]) is not None:
                out.append(frame.iloc[start:i])
                start = i
        return [s for s in out if not s.empty]

    def _break_specs(self) -> list[dict[str, Any]]:
        """The ``trend_breaks`` of reports.yaml that this report's years span."""
        return policy.spanned(self.years)

    def _breaks(self) -> list[tuple[float, str]]:
        return [((b["after"] + b["before"]) / 2, b["label"]) for b in self._break_specs()]
