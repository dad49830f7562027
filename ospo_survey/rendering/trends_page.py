"""The trends page: series charts, year-over-year tables and notes from :class:`TrendsAnalysis`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import (
    WEIGHTED_LABEL,
    config,
    panel_contrast,
    standardised_phrase,
    variable_levels,
)
from ospo_survey.analysis.policy import adjust_p
from ospo_survey.analysis.trends import TrendsAnalysis
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.facts import fact
from ospo_survey.rendering.html import esc, heading, json_number, p_value, para
from ospo_survey.rendering.labels import variable_label
from ospo_survey.rendering.provenance import provenance_block


class TrendsPage:
    """The trends report page; each method returns one fragment of it.

    The page holds its :class:`TrendsAnalysis` as :attr:`analysis` and turns the series into
    words, charts and tables. ``TrendsPage("reference", sample="harmonized")`` builds the
    analysis (the keywords are the analysis's); :meth:`from_analysis` wraps one already built.
    """

    analysis: TrendsAnalysis

    def __init__(self, weights: str = "reference", **options: Any) -> None:
        self.analysis = TrendsAnalysis(weights, **options)

    @classmethod
    def from_analysis(cls, analysis: TrendsAnalysis) -> TrendsPage:
        """The page of an analysis already built (nothing is computed again)."""
        page = cls.__new__(cls)
        page.analysis = analysis
        return page

    def title_block(self) -> P.Html:
        ta = self.analysis
        years = " · ".join(f'<a href="../{y}/index.html">{y}</a>' for y in ta.years)
        nav = ('<nav class="crumbs" aria-label="Other reports"><a href="../index.html">All '
               f"reports</a> · Yearly reports: {years} · "
               '<a href="../benchmark/index.html">Organisations like mine</a> · '
               '<a href="../questions/index.html">Questions across the years</a></nav>')
        sub = (
            f"{len(ta.frame):,} respondents in {len(ta.years)} years · harmonised sample · "
            "unweighted beside weighted"
            f" · suppression below effective n {ta.min_n_eff:g}"
        )
        return P.Html([nav, f'<h1 class="title" id="content" tabindex="-1">OSPO survey trends, '
                       f"{ta.years[0]}–{ta.years[-1]}</h1>", para(esc(sub), "subtitle")],
                      "title")

    def _describe_series(self, frame: pd.DataFrame, what: str) -> str | None:
        """One sentence over the whole series: each run of years between breaks, its range."""
        ta = self.analysis
        main = frame[(frame["series"] == ta.main_label) & ~frame["suppressed"]]
        if len(main) < 2:
            return None
        runs = []
        for seg in ta.segments(main):
            ys = seg["year"].astype(int).tolist()
            vals = [P.pct(v) for v in seg["estimate"]]
            if len(ys) == 1:
                runs.append(f"{vals[0]} in {ys[0]}")
                continue
            lo, hi = P.pct(seg["estimate"].min()), P.pct(seg["estimate"].max())
            spread = f"{lo} every year" if lo == hi else f"between {lo} and {hi}"
            runs.append(f"{ys[0]}–{ys[-1]} {spread} ({vals[0]} in {ys[0]}, {vals[-1]} in "
                        f"{ys[-1]})")
        breaks = [b["text"] for b in ta._break_specs()]
        sep = f"; after {' and '.join(breaks)}, " if breaks and len(runs) > 1 else "; "
        text = f"{what} ({self.series_words(ta.main_label)}): " + sep.join(runs) + "."
        panel = frame[frame["series"] == ta.panel_label]
        for r in panel.itertuples(index=False):
            if not r.suppressed:
                text += (f" {int(r.year)} is shown without its paid panel; with it, "
                         f"{P.pct(r.estimate)}.")
        return text

    def findings(self) -> list[dict[str, Any]]:
        """The whole series of each headline indicator, run by run between the breaks."""
        ta = self.analysis
        out = []
        specs = [
            ("adoption", ta.adoption_series(), "Share of respondents' organisations with an "
             "OSPO or similar initiative"),
            ("formal", ta.series("ospo_status", "has (formal)",
                                 among=["has (formal)", "has (informal)"]),
             "Formally structured share, among OSPOs of known structure"),
        ]
        for key, frame, what in specs:
            text = self._describe_series(frame, what) if not frame.empty else None
            if text is None:
                continue
            main = frame[(frame["series"] == ta.main_label) & ~frame["suppressed"]]
            out.append({"id": key, "text": text,
                        "values": {str(int(r.year)): r.estimate
                                   for r in main.sort_values("year").itertuples(index=False)}})
        return out

    def key_findings(self) -> P.Html:
        return P.findings_block(self.findings())

    def panel_note(self) -> str:
        """Who the paid panel is and what it does to the panel years, from the data."""
        ta = self.analysis
        parts = []
        for y in ta.panel_years:
            c = panel_contrast(ta.panel_frame[ta.panel_frame["year"] == y])
            if c is None:
                continue
            parts.append(
                f"{y}: {c['n']:,} of {c['n_sample']:,} respondents "
                f"({P.pct(c['share_of_sample'])}) came from a paid {c['label']}. "
                f"{P.pct(c['has_ospo_panel'])} of them report an OSPO, against "
                f"{P.pct(c['has_ospo_same_size_rest'])} of the other respondents at "
                "organisations of that size, a difference that weighting by size cannot "
                f"remove. Every series here leaves the panel out and re-weights {y} without "
                "it; the value with the panel is the open marker beside the line."
            )
        return " ".join(parts)

    def notes(self) -> P.Html:
        ta = self.analysis
        items = [
            f"<li><strong>{', '.join(map(str, n['years']))}</strong>: "
            f"{esc(' '.join(n['text'].split()))}</li>"
            for n in config().get("trend_notes", [])
            if set(n["years"]) & set(ta.years)
        ]
        if ta.panel_years:
            items.append(f"<li><strong>{', '.join(map(str, ta.panel_years))}</strong>: "
                         f"{esc(self.panel_note())}</li>")
        out = P.Html(label="notes")
        out.add(heading(2, "What changed between years", "changes"))
        marks = " and ".join(b["text"] for b in ta._break_specs())
        out.add(para("Read every series with these breaks in mind."
                   + (f" The lines stop at {marks} (dashed)." if marks else "")))
        out.add("<ul>" + "".join(items) + "</ul>")
        return out

    def series_words(self, name: Any) -> Any:
        """How a series reads on the page: 'weighted' (not the analysis's 'standardised',
        which the glossary explains once), 'unweighted', 'weighted, with the paid panel'."""
        ta = self.analysis
        words = {WEIGHTED_LABEL: "weighted", ta.panel_label: "weighted, with the paid panel"}
        return words.get(name, name)

    def chart(self, frame: pd.DataFrame, title: str, caption: str = "",
              apart: Iterable[int] = ()) -> P.Chart | None:
        ta = self.analysis
        shown = frame.assign(series=[self.series_words(v) for v in frame["series"]])
        return P.trend_ci(shown, title=title, caption=caption, min_n_eff=ta.min_n_eff,
                          breaks=ta._breaks(), marked=[self.series_words(ta.panel_label)],
                          apart=list(apart))

    def weighting_words(self) -> str:
        """The weighting in plain words, naming the variables the targets use."""
        ta = self.analysis
        return standardised_phrase(v for w in ta.winfo.values() for v in w.margins)

    def reading_guide(self) -> P.Html:
        """How to read the page, naming the variables the years are weighted on."""
        ta = self.analysis
        weighting = (" beside the weighted share (each year weighted to one common mix of "
                     "organisation sizes and industries, taken from the surveys' own "
                     "respondents, not a known population)" if ta.weighted else "")
        panel = (f" {', '.join(map(str, ta.panel_years))} is shown without its paid panel, "
                 "and with it as an open marker." if ta.panel_years else "")
        return P.Html([
            heading(2, "How to read this report", "how-to-read"),
            para("Each chart follows one harmonised variable across the survey years: the "
                 f"unweighted share of respondents{weighting}, with 95% confidence intervals. "
                 "Years in which a question was not asked, or was asked in a form that cannot "
                 "be compared, have no point; lines stop where the screening or wording "
                 f"changed.{panel} The surveys are opt-in samples whose make-up changed from "
                 "year to year; every figure describes the respondents, and the intervals and "
                 "p-values reflect sampling noise only, not who chose to answer. The share "
                 "axis ends just above the largest interval; the numbers behind every chart "
                 "are in a table under it."),
        ], "reading-guide")

    def differences(self) -> P.Html:
        ta = self.analysis
        frames = [ta.year_over_year("has_ospo", "has", "has an OSPO"),
                  ta.year_over_year("ospo_status", "has (formal)",
                                    "formal (of known structure)",
                                    among=["has (formal)", "has (informal)"])]
        d = pd.concat(frames, ignore_index=True)
        out = P.Html(label="differences")
        if d.empty:
            return out
        rows = []
        p_col = "p-value, adjusted (sampling noise only)"
        # one table of many tests: p-values adjusted for their number (Holm)
        d = d.assign(p_adjusted=adjust_p(d["p_value"].where(d["tested"]), "holm"))
        tests = int(d["tested"].sum())
        for (ind, a, b), part in d.groupby(["indicator", "from", "to"], sort=False):
            row: dict[str, Any] = {"indicator": ind, "from": str(a), "to": str(b)}
            for r in part.itertuples(index=False):
                name = self.series_words(r.series)
                if r.tested:
                    row[f"{name} change"] = (
                        f"{100 * r.estimate:+.1f} pp ({100 * r.ci_low:+.1f} to "
                        f"{100 * r.ci_high:+.1f})")
                    row[f"{name} {p_col}"] = p_value(r.p_adjusted)
                else:
                    row[f"{name} change"] = "–"
                    row[f"{name} {p_col}"] = "–"
            row["note"] = next((w for w in part["why"] if w), "")
            rows.append(row)
        t = pd.DataFrame(rows)
        out.add(heading(2, "Year-over-year differences", "differences"))
        out.add(para(
            "Change from one survey year to the next in percentage points, with 95% confidence "
            "intervals and two-sided p-values (independent samples), adjusted for the number "
            "of comparisons in the table (Holm's method). The p-values measure "
            "sampling noise only, in an opt-in sample: they cannot tell a real change from a "
            "change in who answered."
            + (f" Changes across {' and '.join(b['text'] for b in ta._break_specs())} are "
               "not tested." if ta._break_specs() else "")
            + (f" {', '.join(map(str, ta.panel_years))} is compared without its paid panel."
               if ta.panel_years else "")))
        out.add(P.table(t, caption=f"Year-over-year changes; p-values adjusted for {tests} "
                               "comparisons (Holm)"))
        return out

    def adoption_section(self) -> P.Html:
        ta = self.analysis
        out = P.Html(label="adoption")
        s = ta.adoption_series()
        if s.empty:
            return out
        out.add(heading(2, "OSPO adoption", "adoption"))
        out.add(self.chart(s, "Organisations with an OSPO or similar initiative",
                           "Share whose organisation has an OSPO or similar initiative (formal or "
                           "informal)."))
        by = ta.series("has_ospo", "has", by="size3")
        if not by.empty:
            out.add(heading(3, "By organisation size"))
            for band, label in (("small", "up to 250 employees"), ("mid", "251–10,000"),
                                ("large", "over 10,000")):
                part = by[by["size3"].astype(str) == band]
                out.add(self.chart(part, f"With an OSPO: organisations with {label}",
                                   "Size bands grouped the same way in every survey year."))
        f = ta.series("ospo_status", "has (formal)", among=["has (formal)", "has (informal)"])
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
        ta = self.analysis
        out = P.Html(label=label)
        charts = []
        for var, level, chart_title, caption in specs:
            s = ta.series(var, level)
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

    def maturity_section(self) -> P.Html:
        """Each maturity model's stage shares across the years, and whether its ladder nests."""
        from ospo_survey.analysis import maturity as M

        ta = self.analysis
        out = P.Html(label="maturity")
        charts = []
        for key, model in M.models().items():
            s = ta.maturity_series(key)
            if s.empty:
                continue
            # the ladder read as a scale, in words; years that did not measure every stage
            # stand apart on the chart (their respondents are placed by fewer stages)
            from ospo_survey.rendering.maturity_words import scale_html, unmeasured_note

            gone = {int(y): g for y, g in M.unmeasured(ta.frame, key).items() if g}
            caption = (f"{str(self.series_words(ta.main_label)).capitalize()} share of "
                       "respondents at each stage"
                       + (f" ({', '.join(map(str, ta.panel_years))} without the paid panel)"
                          if ta.panel_years else "") + ". " + unmeasured_note(model, gone))
            chart = self.chart(s.assign(series=s["stage_label"]),
                               f"{model.label}: stages across the years", caption.strip(),
                               apart=sorted(gone))
            if chart is not None:
                latest = max(ta.years)
                charts += [para(scale_html(M.scalability(ta.design, key), rules_href=(
                    f"../{latest}/index.html#appendix-stage-rules"))), chart]
        charts = [c for c in charts if c is not None]
        if charts:
            out.add(heading(2, "Maturity across the years", "maturity"))
            out.add(para("Where respondents' organisations stand on three published ladders of "
                         "open source maturity, year by year (the yearly reports show them by "
                         "OSPO status). A stage a year's questions cannot measure has no point. "
                         "The shares describe the respondents of each year's opt-in sample."))
            out.add(*charts)
        return out

    def methods_section(self) -> P.Html:
        ta = self.analysis
        out = P.Html(label="methods")
        out.add(heading(2, "Appendix: methods", "appendix-methods"))
        rows = []
        for y in ta.years:
            w = ta.winfo[y]
            rows.append({"year": str(y), "n": w.n, "effective n": round(w.n_eff),
                         "design effect": round(w.deff, 2) if math.isfinite(w.deff) else None,
                         "weighting variables": ", ".join(map(variable_label, w.margins))
                         or "none"})
        out.add(para(
            "The harmonised sample applies one screen to every year (involved in open source, "
            "works for an organisation, the year's own quality checks)."
            + (f" The weighted series are {self.weighting_words()}: each year is raked "
               "separately to the same targets"
               f" ({esc(next(iter(ta.winfo.values())).description)}). The targets come from "
               "the surveys' own respondents, so weighting makes the years comparable in "
               "make-up; it does not make them represent all organisations."
               if ta.weighted else "")
            + (f" {', '.join(map(str, ta.panel_years))} is raked without its paid panel."
               if ta.panel_years else "")
            + " Confidence intervals are Korn-Graubard intervals (as R's survey package"
            " computes them). The limits of an opt-in survey apply to every year (see the"
            " yearly reports)."))
        out.add(P.table(pd.DataFrame(rows), caption="Sample and weighting by year"))
        return out

    def provenance_section(self) -> P.Html:
        ta = self.analysis
        return provenance_block(ta.years, roles=["responses", "responses_text", "license"])

    def comparable_series(self) -> pd.DataFrame:
        """The comparable series the front page charts, from the API: the share with an OSPO
        per year in this page's design, panel years without the paid panel
        (``Survey.without_panel``). Columns of the policy's estimate frames."""
        ta = self.analysis
        design = ta.design.without_panel() if ta.panel_years else ta.design
        est = design.proportion("has_ospo")
        return est[est["level"] == "has"].sort_values("year").reset_index(drop=True)

    def with_panel_series(self) -> pd.DataFrame:
        """The panel years' share with an OSPO with the paid panel kept (the marked value)."""
        ta = self.analysis
        if not ta.panel_years:
            return pd.DataFrame()
        est = ta.design.proportion("has_ospo")
        est = est[(est["level"] == "has") & est["year"].isin(ta.panel_years)]
        return est.sort_values("year").reset_index(drop=True)

    def facts(self) -> list[dict[str, Any]]:
        """The facts this page states (``facts.json``): the comparable series and the
        panel years' value with the panel, year by year."""
        ta = self.analysis
        w = ta.scheme if ta.weighted else "none"
        what = "share of organisations with an OSPO or similar initiative"
        out = []
        for r in self.comparable_series().itertuples(index=False):
            y = int(r.year)
            sample = "harmonized_without_panel" if y in ta.panel_years else "harmonized"
            if not r.suppressed:
                out.append(fact("has_ospo", sample, w, y, r.estimate, what))
            out.append(fact("answering_has_ospo", sample, None, y, int(r.n),
                            "respondents answering the OSPO question"))
        for r in self.with_panel_series().itertuples(index=False):
            if not r.suppressed:
                out.append(fact("has_ospo", "harmonized", w, int(r.year), r.estimate, what))
        for y in ta.years:
            sample = "harmonized_without_panel" if y in ta.panel_years else "harmonized"
            out.append(fact("respondents", sample, None, y, int(ta.winfo[y].n),
                            "respondents in the sample"))
        return out

    def summary(self) -> dict[str, Any]:
        from ospo_survey.core.meta import VERSION as __version__

        ta = self.analysis
        s = ta.adoption_series()
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
            "years": ta.years,
            "n": int(len(ta.frame)),
            "weights": ta.scheme,
            "adoption": series,
            "main_series": ta.main_label,
            "panel_series": ta.panel_label if ta.panel_years else None,
            "weighting": self.weighting_words() if ta.weighted else "unweighted",
            "findings": [f["text"] for f in self.findings()],
            "comparable": [_row_json(r) | {"without_panel": int(r["year"]) in ta.panel_years}
                           for _, r in self.comparable_series().iterrows()],
            "with_panel": [_row_json(r) for _, r in self.with_panel_series().iterrows()],
            "breaks": [{"after": int(b["after"]), "before": int(b["before"]),
                        "label": str(b["label"]), "text": " ".join(str(b["text"]).split())}
                       for b in ta._break_specs()],
            "toolkit_version": __version__,
        }


def _row_json(r: Any) -> dict[str, Any]:
    """An estimate row as JSON-ready values: year, estimate, interval, base, suppressed (10
    digits: the front page rounds them itself, and a value rounded twice can differ)."""
    return {"year": int(r["year"]), "estimate": json_number(r["estimate"], 10),
            "ci_low": json_number(r["ci_low"], 10), "ci_high": json_number(r["ci_high"], 10),
            "n": int(r["n"]), "suppressed": bool(r["suppressed"])}
