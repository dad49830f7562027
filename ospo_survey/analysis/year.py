"""One survey year as a page shows it: the sample, its weights and every estimate, as frames."""

from __future__ import annotations

import copy
import re
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import (
    MIN_N_EFF,
    UNWEIGHTED_LABEL,
    WEIGHTED_LABEL,
    answers_of,
    column_label,
    config,
    drop_empty_levels,
    find_question,
    flag_series,
    panel_contrast,
    question_shares,
    question_text,
    shares,
    variable_levels,
)
from ospo_survey.analysis.design import Survey
from ospo_survey.analysis.headlines import _sample_mask, headline_table
from ospo_survey.ingest import answers as A
from ospo_survey.ingest.dataset import year_data


def key_contrast_outcomes() -> list[str]:
    """The outcomes whose contrast by OSPO status the key findings state, in order, as named
    in advance in reports.yaml (``key_findings.contrasts``)."""
    return [str(o) for o in config().get("key_findings", {}).get("contrasts", [])]


def _weights_of(design: Survey, frame: pd.DataFrame) -> pd.Series:
    """The design's weight of each row of ``frame`` (matched by ``row_id``)."""
    by_id = pd.Series(design.frame["weight"].to_numpy(),
                      index=design.frame["row_id"].astype(str).to_numpy())
    return frame["row_id"].astype(str).map(by_id).astype(float)


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
        #: The year's design (sample, weights, paid panel): every weight comes from it.
        self.design = Survey(self.year, sample, weights, min_n_eff=self.min_n_eff)
        mask = _sample_mask(self.yd, sample)
        self.frame = self.yd.harmonized[mask].copy()
        self.winfo = self.design.weight_info[self.year]
        self.frame["_w"] = _weights_of(self.design, self.frame)
        self.wcol = "_w" if self.winfo.weighted else None
        self._topics: dict[str, tuple[pd.DataFrame, dict[str, Any]] | None] = {}
        self._findings: list[dict[str, Any]] | None = None
        self._headlines: pd.DataFrame | None = None
        self._associations: pd.DataFrame | None = None
        self._adoption: dict[bool, pd.DataFrame] = {}
        self._comparable: Any = None

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
            if kind in ("single", "multiple"):
                est = question_shares(self.yd.survey, qid, kind, self.frame["_w"],
                                      weighted=self.wcol is not None,
                                      min_n_eff=self.min_n_eff).drop(columns="row")
                if kind == "multiple":
                    meta["sort"] = True
            elif kind == "matrix" and spec.get("top"):
                m = answers_of(self.yd.survey, qid, "matrix").reindex(base.index)
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
        no_panel = self.design.without_panel()
        rest["_w"] = _weights_of(no_panel, rest)
        est = shares(rest, "has_ospo", weights="_w" if no_panel.weighted else None,
                     min_n_eff=self.min_n_eff)
        without = est[est["level"] == "has"].iloc[0]
        return {
            **contrast,
            "has_ospo_without": float(without["estimate"]),
            "has_ospo_without_ci": (float(without["ci_low"]), float(without["ci_high"])),
            "n_without": int(len(rest)),
        }

    def associations(self) -> pd.DataFrame:
        """What goes with having an OSPO: raw beside adjusted shares by has_ospo for the
        outcomes a page reports (:func:`ospo_survey.analysis.compare.ospo_associations`)."""
        if self._associations is None:
            from ospo_survey.analysis.compare import ospo_associations

            self._associations = (
                ospo_associations(self.design)
                if self.asked("has_ospo") else pd.DataFrame())
        return self._associations

    def key_contrasts(self, k: int = 2) -> pd.DataFrame:
        """The contrasts the key findings state, chosen by a rule fixed in advance rather than
        by the largest estimate: the first ``k`` outcomes of ``key_findings.contrasts`` in
        reports.yaml that this year asked (one row each, the "none" group against the "has"
        reference, with ``has_adj`` and ``has_n`` of the reference)."""
        a = self.associations()
        if a.empty or "adj_estimate" not in a.columns:
            return pd.DataFrame()
        rows = a[(a["group"] == "none") & a["diff"].notna()].copy()
        if rows.empty:
            return rows
        ref = a[a["group"] == "has"].set_index("outcome")
        rows["has_adj"] = rows["outcome"].map(ref["adj_estimate"])
        rows["has_n"] = rows["outcome"].map(ref["base"])
        rows = rows[rows["has_adj"].notna()].set_index("outcome", drop=False)
        named = [o for o in key_contrast_outcomes() if o in rows.index]
        return rows.loc[named[:k]].reset_index(drop=True)

    def comparable_series(self) -> Any:
        """The comparable series for this year and the one before (harmonised sample, the
        page's weights, the paid panel left out): a :class:`TrendsAnalysis`, built once."""
        if self._comparable is None:
            from ospo_survey.analysis.trends import TrendsAnalysis
            from ospo_survey.ingest.settings import available_years

            earlier = [y for y in available_years() if y < self.year]
            years = [max(earlier), self.year] if earlier else [self.year]
            self._comparable = TrendsAnalysis(self.scheme, years=years, min_n_eff=self.min_n_eff)
        return self._comparable

    def comparable_adoption(self) -> dict[str, Any] | None:
        """This year's share with an OSPO on the comparable series (what the index and the
        trends page show): estimate, interval, base, and whether the paid panel is left out."""
        tr = self.comparable_series()
        s = tr.adoption_series()
        if s.empty:
            return None
        row = s[(s["series"] == tr.main_label) & (s["year"] == self.year)]
        if row.empty:
            return None
        r = row.iloc[0]
        return {"estimate": float(r["estimate"]), "ci_low": float(r["ci_low"]),
                "ci_high": float(r["ci_high"]), "n": int(r["n"]),
                "suppressed": bool(r["suppressed"]),
                "without_panel": self.year in tr.panel_years,
                "weights": self.scheme if tr.weighted else "none"}

    def respondent_profile(self, var: str = "org_size") -> pd.DataFrame:
        """Who answered beside the target: per level of a weighting variable, the respondents
        (unweighted count and share), the target share and the weighted share. Empty when the
        page is unweighted or ``var`` is not a weighting margin."""
        d = self.winfo.diagnostics
        if not self.winfo.weighted or d is None:
            return pd.DataFrame()
        m = d.to_frame()
        m = m[m["variable"] == var]
        keep = [c for c in ("level", "n", "unweighted_share", "target", "weighted_share")
                if c in m.columns]
        return m[keep].reset_index(drop=True)

    def maturity(self) -> list[tuple[Any, pd.DataFrame, dict[str, Any]]]:
        """Each maturity model's stage shares by OSPO status this year, with how well the
        ladder nests (Guttman reproducibility): (model, shares, reproducibility row)."""
        from ospo_survey.analysis import maturity as M

        out = []
        if not self.asked("has_ospo"):
            return out
        for key, model in M.models().items():
            try:
                shares_ = M.stage_shares(self.design, key, by="has_ospo")
            except M.MaturityError:
                continue
            cr = M.reproducibility([self.year], key, sample=self.sample).iloc[0].to_dict()
            out.append((model, shares_, cr))
        return out

    def age_contrast(self) -> pd.DataFrame:
        """Among organisations with an OSPO, by how long ago it was set up: the share rating
        it extremely or very critical, and the share naming each of the year's three most
        named benefits (weighted as the page is). Long format: measure, age, estimate..."""
        if not (self.asked("ospo_age") and self.asked("has_ospo")):
            return pd.DataFrame()
        has = self.frame[self.frame["has_ospo"].astype(object) == "has"].copy()
        age = has["ospo_age"].astype(object)
        has["_age"] = pd.Categorical(age.where(age != "don't know"),
                                     categories=[c for c in self.frame["ospo_age"].cat.categories
                                                 if c != "don't know"], ordered=True)
        parts = []
        crit = next((v for v in ("criticality", "criticality_goals") if self.asked(v)), None)
        if crit is not None:
            col = has[crit].astype(object)
            top = ["extremely critical", "very critical"]
            has["_v"] = flag_series(col.where(col != "don't know"), col.isin(top))
            e = shares(has, "_v", weights=self.wcol, by="_age", levels=["yes", "no"],
                       min_n_eff=self.min_n_eff, design_sizes=self.n)
            e = e[e["level"] == "yes"].copy()
            e["measure"] = f"{column_label(crit)}: extremely or very critical"
            parts.append(e)
        benefit = next((v for v in self.frame.columns if v.startswith("benefits_")
                        and self.asked(v)), None)
        if benefit is not None:
            prefix = benefit.rsplit("_", 1)[0] + "_"
            options = [c for c in self.frame.columns if c.startswith(prefix) and self.asked(c)
                       and not c.endswith(("_other", "_dont_know"))]
            ticked = has[options].astype("boolean").mean().sort_values(ascending=False,
                                                                         kind="stable")
            for col in ticked.index[:3]:
                has["_v"] = flag_series(has[col].astype(object), has[col].fillna(False)
                                        .astype(bool))
                e = shares(has, "_v", weights=self.wcol, by="_age", levels=["yes", "no"],
                           min_n_eff=self.min_n_eff, design_sizes=self.n)
                e = e[e["level"] == "yes"].copy()
                e["measure"] = f"Benefit: {column_label(col)}"
                parts.append(e)
        if not parts:
            return pd.DataFrame()
        out = pd.concat(parts, ignore_index=True).rename(columns={"_age": "age"})
        return out[out["n"] > 0].reset_index(drop=True)

    def previous_change(self) -> dict[str, Any] | None:
        """The change in OSPO adoption from the previous survey year on the harmonised,
        panel-free series, or why it is not compared (a break between the two years);
        computed once (the key findings and the page's facts both state it)."""
        cached = self.__dict__.get("_previous_change_value", ())
        if cached == ():
            cached = self._previous_change()
            self.__dict__["_previous_change_value"] = cached
        return copy.deepcopy(cached)

    def _previous_change(self) -> dict[str, Any] | None:
        from ospo_survey.analysis.trends import break_between

        tr = self.comparable_series()
        if len(tr.years) < 2:
            return None
        prev = tr.years[0]
        brk = break_between(prev, self.year)
        if brk is not None:
            return {"from": prev, "to": self.year, "tested": False, "why": brk["text"]}
        d = tr.year_over_year("has_ospo", "has", "has an OSPO")
        d = d[d["series"] == tr.main_label]
        if d.empty or not bool(d["tested"].iloc[0]):
            return None
        s = tr.series("has_ospo", "has")
        s = s[s["series"] == tr.main_label].set_index("year")["estimate"]
        r = d.iloc[0]
        return {"from": prev, "to": self.year, "tested": True, "series": tr.main_label,
                "before": float(s[prev]), "after": float(s[self.year]),
                "estimate": float(r["estimate"]), "ci_low": float(r["ci_low"]),
                "ci_high": float(r["ci_high"]), "p_value": float(r["p_value"]),
                "why": str(r["why"]), "panel_years": list(tr.panel_years)}

    def headlines(self) -> pd.DataFrame:
        if self._headlines is None:
            self._headlines = headline_table(
                self.year, self.winfo.weights if self.winfo.weighted else None
            )
        return self._headlines
