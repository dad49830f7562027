"""The trends page: series charts, year-over-year tables and notes from :class:`TrendsAnalysis`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import UNWEIGHTED_LABEL, WEIGHTED_LABEL, config, variable_levels
from ospo_survey.analysis.trends import TrendsAnalysis
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.html import esc, heading, json_number, p_value, para
from ospo_survey.rendering.labels import variable_label
from ospo_survey.rendering.provenance import provenance_block


class TrendsPage(TrendsAnalysis):
    """The trends report page; each method returns one fragment of it."""

    def title_block(self) -> P.Html:
        years = " · ".join(f'<a href="../{y}/index.html">{y}</a>' for y in self.years)
        nav = ('<nav class="crumbs" aria-label="Other reports"><a href="../index.html">All '
               f"reports</a> · Yearly reports: {years}</nav>")
        sub = (
            f"{len(self.frame):,} respondents in {len(self.years)} years · harmonised sample · "
            f"{UNWEIGHTED_LABEL} beside {WEIGHTED_LABEL}"
            f" · suppression below effective n {self.min_n_eff:g}"
        )
        return P.Html([nav, f'<h1 class="title" id="content" tabindex="-1">OSPO survey trends, '
                       f"{self.years[0]}–{self.years[-1]}</h1>", para(esc(sub), "subtitle")],
                      "title")

    def findings(self) -> list[dict[str, Any]]:
        out = []
        s = self.adoption_series()
        if not s.empty:
            for name in (UNWEIGHTED_LABEL, WEIGHTED_LABEL):
                part = s[(s["series"] == name) & ~s["suppressed"]].sort_values("year")
                if len(part) < 2:
                    continue
                a, b = part.iloc[0], part.iloc[-1]
                out.append(
                    {
                        "id": f"adoption_{name}",
                        "text": (
                            f"OSPO adoption ({name}) went from {P.pct(a['estimate'])} in "
                            f"{int(a['year'])} (95% CI {P.pct(a['ci_low'])}–"
                            f"{P.pct(a['ci_high'])}) to {P.pct(b['estimate'])} in "
                            f"{int(b['year'])} ({P.pct(b['ci_low'])}–{P.pct(b['ci_high'])})."
                        ),
                        "values": {"first": a["estimate"], "last": b["estimate"]},
                    }
                )
        f = self.series("ospo_status", "has (formal)", among=["has (formal)", "has (informal)"])
        part = f[(f["series"] == (WEIGHTED_LABEL if self.weighted else UNWEIGHTED_LABEL))
                 & ~f["suppressed"]].sort_values("year") if not f.empty else f
        if len(part) >= 2:
            a, b = part.iloc[0], part.iloc[-1]
            out.append(
                {
                    "id": "formal",
                    "text": (
                        f"Among OSPOs of known structure, the formally structured share was "
                        f"{P.pct(a['estimate'])} in {int(a['year'])} and {P.pct(b['estimate'])}"
                        f" in {int(b['year'])}."
                    ),
                    "values": {"first": a["estimate"], "last": b["estimate"]},
                }
            )
        return out

    def key_findings(self) -> P.Html:
        return P.findings_block(self.findings())

    def notes(self) -> P.Html:
        items = [
            f"<li><strong>{', '.join(map(str, n['years']))}</strong>: "
            f"{esc(' '.join(n['text'].split()))}</li>"
            for n in config().get("trend_notes", [])
            if set(n["years"]) & set(self.years)
        ]
        out = P.Html(label="notes")
        out.add(heading(2, "What changed between years", "changes"))
        marks = " and ".join(b["text"] for b in self._break_specs())
        out.add(para("Read every series with these breaks in mind."
                   + (f" The dashed line in the charts marks {marks}." if marks else "")))
        out.add("<ul>" + "".join(items) + "</ul>")
        return out

    def chart(self, frame: pd.DataFrame, title: str, caption: str = "") -> P.Chart | None:
        return P.trend_ci(frame, title=title, caption=caption, min_n_eff=self.min_n_eff,
                          breaks=self._breaks())

    def _diff_rows(self, var: str, level: Any, label: str, among=None) -> list[dict[str, Any]]:
        from ospo_survey.inference import estimate as E

        years = self.asked_years(var)
        rows = []
        for a, b in zip(years, years[1:], strict=False):
            da = self.frame[self.frame["year"] == a].copy()
            db = self.frame[self.frame["year"] == b].copy()
            for d in (da, db):
                col = d[var].astype(object)
                if among is not None:
                    col = col.where(col.isin(list(among)))
                d["_v"] = col
            row = {"indicator": label, "from": a, "to": b}
            for name, w in ((UNWEIGHTED_LABEL, None), (WEIGHTED_LABEL, "_w")):
                if w and not self.weighted:
                    continue
                try:
                    diff = E.difference(da, db, "_v", level, weights_a=w, weights_b=w,
                                        min_n_eff=self.min_n_eff)
                except ValueError:
                    continue
                if diff.empty:
                    continue
                r = diff.iloc[0]
                row[f"{name} change"] = (
                    f"{100 * r['estimate']:+.1f} pp ({100 * r['ci_low']:+.1f} to "
                    f"{100 * r['ci_high']:+.1f})"
                )
                row[f"{name} p"] = float(r["p_value"])
            rows.append(row)
        return rows

    def _break_warning(self) -> str:
        """'Changes across the 2022 break mix ...', naming the years of ``trend_breaks``."""
        breaks = self._break_specs()
        if not breaks:
            return ""
        names = " and ".join(f"the {b['before']}" for b in breaks)
        plural = "s" if len(breaks) > 1 else ""
        return (f" Changes across {names} break{plural} mix real change with changes in "
                "screening and wording.")

    def reading_guide(self) -> P.Html:
        """How to read the page, naming the variables the years are weighted on."""
        from ospo_survey.ingest.harmonize import definitions

        defs = definitions()
        used = sorted({v for w in self.winfo.values() for v in w.margins}, key=list(defs).index)
        mix = " and ".join(str(defs[v]["label"]).split(" (")[0].lower() for v in used)
        weighting = (" beside the share weighted to the reference targets (each year raked to "
                     f"the same {mix} mix)" if self.weighted else "")
        return P.Html([
            heading(2, "How to read this report", "how-to-read"),
            para("Each chart follows one harmonised variable across the survey years: the "
                 f"unweighted share of respondents{weighting}, with 95% confidence intervals. "
                 "Years in which a question was not asked, or was asked in a form that cannot "
                 "be compared, have no point. The surveys are opt-in samples whose make-up "
                 "changed from year to year; the notes below say where. The share axis spans "
                 "the intervals drawn, not 0-100%; the numbers behind every chart are in a "
                 "table under it."),
        ], "reading-guide")

    def differences(self) -> P.Html:
        rows = self._diff_rows("has_ospo", "has", "has an OSPO")
        rows += self._diff_rows("ospo_status", "has (formal)", "formal (of known structure)",
                                among=["has (formal)", "has (informal)"])
        out = P.Html(label="differences")
        if not rows:
            return out
        t = pd.DataFrame(rows)
        fmt = {c: p_value for c in t.columns if c.endswith(" p")}
        fmt.update({"from": str, "to": str})
        out.add(heading(2, "Year-over-year differences", "differences"))
        out.add(para("Change from one survey year to the next in percentage points, with 95% "
                   "confidence intervals and two-sided p-values (independent samples)."
                   + self._break_warning()))
        out.add(P.table(t, caption="Year-over-year changes", formats=fmt))
        return out

    def adoption_section(self) -> P.Html:
        out = P.Html(label="adoption")
        s = self.adoption_series()
        if s.empty:
            return out
        out.add(heading(2, "OSPO adoption", "adoption"))
        out.add(self.chart(s, "Organisations with an OSPO or similar initiative",
                           "Share whose organisation has an OSPO or similar initiative (formal or "
                           "informal)."))
        by = self.series("has_ospo", "has", by="size3")
        if not by.empty:
            out.add(heading(3, "By organisation size"))
            for band, label in (("small", "up to 250 employees"), ("mid", "251–10,000"),
                                ("large", "over 10,000")):
                part = by[by["size3"].astype(str) == band]
                out.add(self.chart(part, f"With an OSPO: organisations with {label}",
                                   "Size bands grouped the same way in every survey year."))
        f = self.series("ospo_status", "has (formal)", among=["has (formal)", "has (informal)"])
        if not f.empty:
            out.add(heading(3, "Formal vs informal"))
            out.add(self.chart(f, "Formally structured, among OSPOs of known structure",
                               "Formally structured OSPOs as a share of formally and informally "
                               "structured ones."))
        return out

    def _series_section(
        self,
        label: str,
        title: str,
        specs: Iterable[tuple[str, Any, str, str]],
        intro: str = "",
    ) -> P.Html:
        """One trend chart per (variable, level, title, caption) that has data; a heading (and
        intro) only when at least one chart is drawn."""
        out = P.Html(label=label)
        charts = []
        for var, level, chart_title, caption in specs:
            s = self.series(var, level)
            if not s.empty:
                charts.append(self.chart(s, chart_title, caption))
        charts = [c for c in charts if c is not None]
        if charts:
            out.add(heading(2, title, label))
            if intro:
                out.add(para(intro))
            out.add(*charts)
        return out

    def policies_section(self) -> P.Html:
        from ospo_survey.ingest.harmonize import definitions

        rows = definitions()["policy"]["rows"]
        return self._series_section(
            "policies",
            "Open source policies",
            [(f"policy_{row}", "yes", f"Formal policy: {label}",
              "Share answering “yes” (base: those answering the row).")
             for row, label in rows.items()],
        )

    def journey_section(self) -> P.Html:
        return self._series_section(
            "journey",
            "Open source journey stages",
            [(f"journey_{opt}", True, f"Journey stage: {label}",
              "Share ticking this stage (select all that apply).")
             for opt, label in variable_levels("journey").items()
             if opt not in ("not_involved", "dont_know")],
            intro="The harmonised sample keeps only respondents involved in open source, "
                  "so the stages are shares of those involved.",
        )

    def methods_section(self) -> P.Html:
        out = P.Html(label="methods")
        out.add(heading(2, "Methods", "methods"))
        rows = []
        for y in self.years:
            w = self.winfo[y]
            rows.append({"year": str(y), "n": w.n, "effective n": round(w.n_eff),
                         "design effect": round(w.deff, 2) if math.isfinite(w.deff) else None,
                         "weighting variables": ", ".join(map(variable_label, w.margins))
                         or "none"})
        out.add(para(
            "The harmonised sample applies one screen to every year (involved in open source, "
            "works for an organisation, the year's own quality checks). Each year is raked "
            "separately to the reference targets"
            f" ({esc(next(iter(self.winfo.values())).description)}); confidence intervals are "
            "Wilson intervals at the effective sample size. The limits of an opt-in survey "
            "apply to every year (see the yearly reports)."))
        out.add(P.table(pd.DataFrame(rows), caption="Sample and weighting by year"))
        return out

    def provenance_section(self) -> P.Html:
        return provenance_block(self.years, roles=["responses", "responses_text", "license"])

    def summary(self) -> dict[str, Any]:
        from ospo_survey.core.meta import VERSION as __version__

        s = self.adoption_series()
        series = {}
        if not s.empty:
            for name, part in s.groupby("series", sort=False):
                series[str(name)] = {
                    str(int(r["year"])): None if r["suppressed"] else json_number(r["estimate"])
                    for _, r in part.sort_values("year").iterrows()
                }
        return {
            "kind": "trends",
            "title": "Trends",
            "href": "trends/index.html",
            "years": self.years,
            "n": int(len(self.frame)),
            "weights": self.scheme,
            "adoption": series,
            "findings": [f["text"] for f in self.findings()],
            "toolkit_version": __version__,
        }
