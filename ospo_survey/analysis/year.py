"""One survey year as a page shows it: the sample, its weights and every estimate, as frames."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import (
    MIN_N_EFF,
    UNWEIGHTED_LABEL,
    WEIGHTED_LABEL,
    answers_of,
    config,
    drop_empty_levels,
    find_question,
    flag_series,
    multi_shares,
    panel_contrast,
    question_text,
    shares,
    variable_levels,
)
from ospo_survey.analysis.headlines import _sample_mask, headline_table
from ospo_survey.inference.schemes import compute_weights
from ospo_survey.ingest import answers as A
from ospo_survey.ingest.dataset import year_data


class YearAnalysis:
    """Everything one yearly page shows, computed from the package's data (no HTML)."""

    def __init__(
        self,
        year: int,
        weights: str = "reference",
        *,
        sample: str = "publisher",
        min_n_eff: float = MIN_N_EFF,
    ) -> None:
        self.year = int(year)
        self.scheme = weights
        self.sample = sample
        self.min_n_eff = float(min_n_eff)
        self.yd = year_data(self.year)
        mask = _sample_mask(self.yd, sample)
        self.frame = self.yd.harmonized[mask].copy()
        self.winfo = compute_weights(self.frame, self.year, weights, sample)
        self.frame["_w"] = self.winfo.weights
        self.wcol = "_w" if self.winfo.weighted else None
        self._topics: dict[str, tuple[pd.DataFrame, dict[str, Any]] | None] = {}
        self._findings: list[dict[str, Any]] | None = None
        self._headlines: pd.DataFrame | None = None
        self._adoption: dict[bool, pd.DataFrame] = {}

    @property
    def n(self) -> int:
        return int(len(self.frame))

    @property
    def weight_label(self) -> str:
        return WEIGHTED_LABEL if self.winfo.weighted else UNWEIGHTED_LABEL

    def asked(self, var: str) -> bool:
        return var in self.frame.columns and bool(self.frame[var].notna().any())

    def estimate(self, var: str, *, by: str | None = None, weighted: bool = True,
                 levels: list[Any] | None = None) -> pd.DataFrame:
        """Tidy shares of a harmonised variable in this report's sample (weighted by default)."""
        return shares(self.frame, var, weights=self.wcol if weighted else None, by=by,
                         levels=levels, min_n_eff=self.min_n_eff)

    def adoption_by(self, by: str) -> pd.DataFrame:
        """Share with an OSPO per level of a harmonised variable (label column = level)."""
        if not (self.asked("has_ospo") and self.asked(by)):
            return pd.DataFrame()
        est = self.estimate("has_ospo", by=by)
        out = est[(est["level"] == "has") & (est["n"] > 0)].copy()
        out["label"] = out[by].astype(str)
        return out.reset_index(drop=True)

    def topic(self, key: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """Estimates for one configured topic, or None when the year did not ask it."""
        if key not in self._topics:
            self._topics[key] = self._topic(key)
        return self._topics[key]

    def _topic(self, key: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        spec = config()["topics"][key]
        meta: dict[str, Any] = {"key": key, "title": spec["title"], "noun": spec.get("noun", "")}
        base = self.frame[["_w"]].copy()
        if "harmonized" in spec:
            var = spec["harmonized"]
            if not self.asked(var):
                return None
            among = list(spec.get("among", []))
            col = self.frame[var].astype(object)
            values = col.where(col.isin(among)) if among else col
            base["_v"] = pd.Categorical(values, categories=among or None)
            est = shares(base, "_v", weights=self.wcol, levels=among or None,
                            min_n_eff=self.min_n_eff)
            meta.update(kind="single", qid=var, question=f"harmonised variable {var}")
        else:
            qid = find_question(self.year, spec["match"])
            if qid is None:
                return None
            survey = self.yd.survey
            kind = A.kind(survey, qid)
            meta.update(qid=qid, question=question_text(self.year, qid), kind=kind)
            if kind == "single":
                base["_v"] = answers_of(self.year, qid, "single").reindex(base.index)
                est = shares(base, "_v", weights=self.wcol, min_n_eff=self.min_n_eff)
            elif kind == "multiple":
                m = answers_of(self.year, qid, "multiple").reindex(base.index)
                cols = {}
                for i, opt in enumerate(m.columns):
                    base[f"_o{i}"] = m[opt]
                    cols[str(opt)] = f"_o{i}"
                est = multi_shares(base, cols, weights=self.wcol, name=qid,
                                   min_n_eff=self.min_n_eff)
                meta["sort"] = True
            elif kind == "matrix" and spec.get("top"):
                m = answers_of(self.year, qid, "matrix").reindex(base.index)
                tops = [re.compile(t, re.IGNORECASE) for t in spec["top"]]
                parts = []
                for row in m.columns:
                    vals = m[row].astype(object)
                    hit = vals.map(lambda v: isinstance(v, str) and any(t.search(v) for t in tops))
                    base["_v"] = flag_series(vals, hit.astype(bool))
                    e = shares(base, "_v", weights=self.wcol, levels=["yes", "no"],
                                  min_n_eff=self.min_n_eff)
                    e = e[e["level"] == "yes"].copy()
                    e["level"] = str(row)
                    parts.append(e)
                est = pd.concat(parts, ignore_index=True)
                est = est[est["n"] > 0]  # rows nobody answered (e.g. an "other" row)
                meta["sort"] = True
                scale = [str(c) for c in m[m.columns[0]].cat.categories] if len(m.columns) else []
                chosen = [c for c in scale if any(t.search(c) for t in tops)]
                meta["top_label"] = "answering " + " or ".join(f"“{c}”" for c in chosen)
            else:
                return None
        if est.empty or int(est["n"].max()) == 0:
            return None
        if meta.get("kind") == "single" and "harmonized" in spec:
            est = drop_empty_levels(est)
        return est.reset_index(drop=True), meta

    def adoption(self, weighted: bool = True) -> pd.DataFrame:
        if not self.asked("has_ospo"):
            return pd.DataFrame()
        if weighted not in self._adoption:
            self._adoption[weighted] = self.estimate("has_ospo", weighted=weighted)
        return self._adoption[weighted]

    def _level(self, frame: pd.DataFrame, level: str, col: str = "level") -> pd.Series | None:
        hit = frame[frame[col] == level] if not frame.empty else frame
        return None if hit.empty else hit.iloc[0]

    def formal_share(self) -> pd.Series | None:
        got = self.topic("structure")
        if got is None:
            return None
        est, _ = got
        return self._level(est, "has (formal)")

    def size_gap(self) -> tuple[pd.Series | None, pd.Series | None]:
        est = self.adoption_by("size3")
        if est.empty:
            return None, None
        return self._level(est, "large", "size3"), self._level(est, "small", "size3")

    def journey_adoption(self) -> pd.DataFrame:
        if not self.asked("has_ospo"):
            return pd.DataFrame()
        parts = []
        base = self.frame[["_w"]].copy()
        for opt, label in variable_levels("journey").items():
            col = f"journey_{opt}"
            if opt in ("not_involved", "dont_know") or not self.asked(col):
                continue
            inside = self.frame[col].fillna(False).astype(bool)
            if not inside.any():
                continue
            vals = self.frame["has_ospo"].astype(object).where(inside)
            base["_v"] = pd.Categorical(vals, categories=["has", "planning", "none"])
            e = shares(base, "_v", weights=self.wcol, min_n_eff=self.min_n_eff)
            e = e[e["level"] == "has"].copy()
            e["label"] = label
            parts.append(e)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def panel(self) -> dict[str, Any] | None:
        """The paid panel in this year's sample (2023): its size, its OSPO share against the
        other respondents at organisations of the same size, and adoption re-weighted without
        it. None when the sample holds no panel respondent."""
        contrast = panel_contrast(self.frame) if self.asked("has_ospo") else None
        if contrast is None:
            return None
        rest = self.frame[self.frame["channel"].astype(object) != contrast["label"]].copy()
        info = compute_weights(rest, self.year, self.scheme, self.sample,
                               subset=f"without the paid {contrast['label']}")
        rest["_w"] = info.weights
        est = shares(rest, "has_ospo", weights="_w" if info.weighted else None,
                     min_n_eff=self.min_n_eff)
        without = est[est["level"] == "has"].iloc[0]
        return {
            **contrast,
            "has_ospo_without": float(without["estimate"]),
            "has_ospo_without_ci": (float(without["ci_low"]), float(without["ci_high"])),
            "n_without": int(len(rest)),
        }

    def headlines(self) -> pd.DataFrame:
        if self._headlines is None:
            self._headlines = headline_table(
                self.year, self.winfo.weights if self.winfo.weighted else None
            )
        return self._headlines
