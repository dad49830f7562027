"""The harmonised series across years, unweighted beside weighted, as frames."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis.common import MIN_N_EFF, UNWEIGHTED_LABEL, WEIGHTED_LABEL, config, shares
from ospo_survey.inference.schemes import compute_weights
from ospo_survey.ingest.dataset import load_harmonized
from ospo_survey.ingest.harmonize import panel_level


class TrendsAnalysis:
    """Harmonised variables across years, unweighted beside reference-weighted (no HTML)."""

    def __init__(
        self,
        weights: str = "reference",
        *,
        sample: str = "harmonized",
        min_n_eff: float = MIN_N_EFF,
        years: Iterable[int] | None = None,
    ) -> None:
        self.scheme = weights
        self.sample = sample
        self.min_n_eff = float(min_n_eff)
        h = load_harmonized(years, sample=sample)
        self.years = sorted(int(y) for y in h["year"].unique())
        parts, self.winfo = [], {}
        for y in self.years:
            part = h[h["year"] == y].copy()
            info = compute_weights(part, y, weights, sample)
            self.winfo[y] = info
            part["_w"] = info.weights.to_numpy()
            parts.append(part)
        self.frame = pd.concat(parts).reset_index(drop=True)
        self.frame["year_group"] = pd.Categorical(self.frame["year"].astype(int),
                                                  categories=self.years)
        self.weighted = any(i.weighted for i in self.winfo.values())
        self._adoption: pd.DataFrame | None = None

    def asked_years(self, var: str) -> list[int]:
        ok = self.frame.groupby("year")[var].apply(lambda s: bool(s.notna().any()))
        return [int(y) for y, v in ok.items() if v]

    def series(self, var: str, level: Any, *, among: Iterable[Any] | None = None,
               by: str | None = None, frame: pd.DataFrame | None = None,
               label: str | None = None) -> pd.DataFrame:
        """Share of ``level`` per year, unweighted and weighted (``series`` column)."""
        df = self.frame if frame is None else frame
        years = self.asked_years(var)
        if not years:
            return pd.DataFrame()
        df = df[df["year"].isin(years)].copy()
        col = df[var]
        if among is not None:
            col = col.astype(object).where(col.astype(object).isin(list(among)))
        if isinstance(level, (list, tuple)):
            obj = col.astype(object)
            vals = np.where(obj.isna(), None, np.where(obj.isin(list(level)), "yes", "no"))
            df["_v"] = pd.Categorical(vals, categories=["yes", "no"])
            label = label or " or ".join(map(str, level))
            level = "yes"
        elif col.dtype == bool or str(col.dtype) == "boolean":
            vals = np.where(col.isna(), None, np.where(col.fillna(False), "yes", "no"))
            df["_v"] = pd.Categorical(vals, categories=["yes", "no"])
            level = "yes" if level is True else level
        else:
            df["_v"] = pd.Categorical(col.astype(object),
                                      categories=list(among) if among is not None else None)
            if among is None and isinstance(self.frame[var].dtype, pd.CategoricalDtype):
                df["_v"] = pd.Categorical(col.astype(object),
                                          categories=self.frame[var].cat.categories)
        df["year_group"] = pd.Categorical(df["year"].astype(int), categories=years)
        groups = ["year_group"] if by is None else ["year_group", by]
        out = []
        schemes = [(UNWEIGHTED_LABEL, None)]
        if self.weighted:
            schemes.append((WEIGHTED_LABEL, "_w"))
        for name, w in schemes:
            e = shares(df, "_v", weights=w, by=groups if by else "year_group",
                          min_n_eff=self.min_n_eff)
            e = e[(e["level"] == level) & (e["n"] > 0)].copy()
            e["series"] = name
            out.append(e)
        res = pd.concat(out, ignore_index=True)
        res["year"] = res["year_group"].astype(int)
        res["variable"] = var
        res["level"] = label or str(level)
        return res.drop(columns="year_group")

    def adoption_series(self) -> pd.DataFrame:
        if self._adoption is None:
            self._adoption = self._adoption_series()
        return self._adoption

    def _adoption_series(self) -> pd.DataFrame:
        s = self.series("has_ospo", "has")
        if s.empty:
            return s
        if "channel" in self.frame.columns:
            panel = self.frame["channel"].astype(object) == panel_level()
            if panel.any():
                years = sorted(self.frame.loc[panel, "year"].unique())
                sub = self.frame[~panel & self.frame["year"].isin(years)]
                extra = self.series("has_ospo", "has", frame=sub)
                extra = extra[extra["series"] == UNWEIGHTED_LABEL].copy()
                extra["series"] = "unweighted, no paid panel"
                s = pd.concat([s, extra], ignore_index=True)
        return s

    def _break_specs(self) -> list[dict[str, Any]]:
        """The ``trend_breaks`` of reports.yaml whose two years are both in this report."""
        return [b for b in config().get("trend_breaks", [])
                if b["after"] in self.years and b["before"] in self.years]

    def _breaks(self) -> list[tuple[float, str]]:
        return [((b["after"] + b["before"]) / 2, b["label"]) for b in self._break_specs()]
