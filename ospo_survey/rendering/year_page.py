"""The yearly page: headings, sentences, charts and tables made from a :class:`YearAnalysis`."""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import (
    column_label,
    config,
    drop_empty_levels,
    standardised_phrase,
    variable_words,
)
from ospo_survey.analysis.headlines import (
    STATUS_DIFFERS,
    STATUS_OTHER_DEFINITION,
    STATUS_REPRODUCED,
)
from ospo_survey.analysis.year import YearAnalysis, key_contrast_outcomes
from ospo_survey.ingest.dataset import fielding_window
from ospo_survey.ingest.harmonize import definitions
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.facts import fact
from ospo_survey.rendering.html import esc, heading, json_number, no_ids, para, years_span
from ospo_survey.rendering.labels import (
    in_words,
    level_word,
    variable_label,
    with_level_words,
    without_column_ids,
)
from ospo_survey.rendering.provenance import provenance_block
from ospo_survey.rendering.question_pages import question_links  # siteA


class YearPage:
    """One yearly report page; each method returns one fragment of it (empty when not asked).

    The page holds its year's :class:`YearAnalysis` as :attr:`analysis` and turns what it
    computes into words, charts and tables; every number comes from there.
    ``YearPage(2024, "reference", sample="publisher")`` builds the analysis (the keywords are
    the analysis's); :meth:`from_analysis` wraps one already built.
    """

    analysis: YearAnalysis

    def __init__(self, year: int, weights: str = "reference", **options: Any) -> None:
        self.analysis = YearAnalysis(year, weights, **options)

    @classmethod
    def from_analysis(cls, analysis: YearAnalysis) -> YearPage:
        """The page of an analysis already built (nothing is computed again)."""
        page = cls.__new__(cls)
        page.analysis = analysis
        return page

    def _chart(self, frame: pd.DataFrame, title: str, *, label: str = "level", sort=False,
               caption: str = "", xlabel: str = "Share of respondents (%)",
               var: str | None = None, label_header: str = "answer"
               ) -> P.Chart | P.Html | None:
        """A bar chart of ``frame``; ``var`` names the harmonised variable whose level words
        the bars show."""
        ya = self.analysis
        if frame is None or frame.empty or int(frame["n"].max()) == 0:
            return None
        if var is not None:
            frame = with_level_words(frame, var, label)
        if frame["suppressed"].astype(bool).all():
            return P.Html([para(f"<strong>{esc(title)}</strong>: too few answers to show "
                              f"(n = {int(frame['n'].max()):,}; every estimate's effective n is "
                              f"below {ya.min_n_eff:g}).", "note")], title)
        cap = (caption + " " if caption else "") + (
            f"Estimates {_weighted_phrase(ya.winfo.margins)}." if ya.winfo.weighted
            else "Estimates unweighted.")
        if self.panel_info is not None:
            cap += f" {self.panel_phrase()}"
        return P.bar_ci(frame, title=title, label=label, sort=sort, caption=cap,
                        min_n_eff=ya.min_n_eff, xlabel=xlabel, label_header=label_header)

    @cached_property
    def panel_info(self) -> dict[str, Any] | None:
        """The analysis's paid panel (:meth:`YearAnalysis.panel`), computed once per page."""
        return self.analysis.panel()

    def panel_phrase(self) -> str:
        """'Includes the 137 respondents of the paid panel (1,000+ employees).'"""
        p = self.panel_info
        return "" if p is None else (f"Includes the {p['n']:,} respondents of the paid "
                                     f"{p['label']}.")

    def topic_chart(self, key: str) -> P.Chart | P.Html | None:
        ya = self.analysis
        got = ya.topic(key)
        if got is None:
            return None
        est, meta = got
        est = est.assign(level=without_column_ids(list(est["level"].astype(str))))
        var = config()["topics"][key].get("harmonized")
        question = esc(meta.get("question", ""))
        cap = _HARMONISED if var else f"The question asked: “{question}”"
        if meta.get("kind") == "multiple":
            cap += " Share of those answering who ticked each option."
        if meta.get("top_label"):
            cap += f" Share {esc(meta['top_label'])}, per row (base: those answering the row)."
        sort = config()["topics"][key].get("sort", meta.get("sort", False))
        return self._chart(est, f"{meta['title']} ({ya.year})", sort=sort,
                           caption=cap.strip(), var=var)

    def section(self, key: str) -> P.Html:
        """One configured section (heading, intro, a chart per asked story topic), or
        nothing; its other topics are in :meth:`more_charts`."""
        spec = config()["sections"][key]
        story = spec.get("story", spec["topics"])
        charts = [self.topic_chart(t) for t in spec["topics"] if t in story]
        charts = [c for c in charts if c is not None]
        out = P.Html(label=key)
        if not charts:
            return out
        more = [t for t in spec["topics"] if t not in story and self.analysis.topic(t)]
        link = (' More charts on this in <a href="#appendix-more">the appendix</a>.'
                if more else "")
        out.add(heading(2, spec["title"], key),
                para(esc(" ".join(spec.get("intro", "").split())) + link))
        out.add(*charts)
        return out

    def more_charts(self) -> P.Html:
        """Appendix: every section's topics that are not in the story, and links to each
        section's questions across every year (kept out of the story to keep it short)."""
        out = P.Html(label="appendix-more")
        parts = []
        for spec in config()["sections"].values():
            story = spec.get("story", spec["topics"])
            charts = [self.topic_chart(t) for t in spec["topics"] if t not in story]
            charts = [c for c in charts if c is not None]
            links = question_links(self.analysis, spec["topics"])
            if charts or links:
                parts.append(heading(3, spec["title"]))
                parts += charts
                if links:
                    parts.append(links)
        if parts:
            out.add(heading(2, "Appendix: more charts", "appendix-more"))
            out.add(*parts)
        return out

    def findings(self) -> list[dict[str, Any]]:
        """Key findings: each leads with the finding in one short sentence (``text``), its
        interval, base and caveats in short sentences after it (``detail``), and the values
        used (``values``)."""
        return self._findings

    @cached_property
    def _findings(self) -> list[dict[str, Any]]:
        ya = self.analysis
        out: list[dict[str, Any]] = []
        y = ya.year
        comp = ya.comparable_adoption()
        if comp is not None and not comp["suppressed"]:
            panel = " without its paid panel" if comp["without_panel"] else ""
            out.append({
                "id": "adoption_comparable",
                "text": (f"{P.pct(comp['estimate'])} of respondents' organisations had an OSPO "
                         f"or similar initiative in {y}."),
                "detail": (f"Comparable sample{panel}, {self._weight_words()}: "
                           f"{_interval_words(comp)}, n = {comp['n']:,}."),
                "values": {"has": comp["estimate"], "n": comp["n"]},
            })
        adopt = ya.adoption()
        has = ya._level(adopt, "has") if not adopt.empty else None
        if has is not None and not has["suppressed"]:
            unw = ya._level(ya.adoption(weighted=False), "has")
            detail = (f"{_interval_words(has)}, n = {int(has['n']):,}; unweighted, as the "
                      f"publisher reports: {P.pct(unw['estimate'])}.")
            if self.panel_info is not None:
                detail += " Includes the paid panel."
            out.append({
                "id": "adoption",
                "text": (f"In the publisher's own {y} sample, {self._weighted_word()}: "
                         f"{P.pct(has['estimate'])} have an OSPO."),
                "detail": detail,
                "values": {"has": has["estimate"], "unweighted": unw["estimate"],
                           "n": int(has["n"])},
            })
        change = ya.previous_change()
        if change is not None:
            if change["tested"]:
                panel_years = [yy for yy in change.get("panel_years", [])
                               if yy in (change["from"], change["to"])]
                out.append({
                    "id": "change",
                    "text": (f"From {change['from']} to {change['to']}, the comparable share "
                             f"went from {P.pct(change['before'])} to "
                             f"{P.pct(change['after'])}."),
                    "detail": (f"{_points(change['estimate'])}, 95% interval "
                               f"{_points(change['ci_low'], unit=False)} to "
                               f"{_points(change['ci_high'])}"
                               + (f"; {', '.join(map(str, panel_years))} without the paid panel"
                                  if panel_years else "")
                               + ". Sampling noise only."),
                    "values": {k: v for k, v in change.items() if isinstance(v, float)},
                })
            else:
                out.append({
                    "id": "change",
                    "text": (f"{change['to']} is not compared with {change['from']}: "
                             f"{change['why']} lies between them."),
                    "detail": "",
                    "values": {},
                })
        p = self.panel_info
        if p is not None:
            lo, hi = p["has_ospo_without_ci"]
            out.append({
                "id": "panel",
                "text": (f"A paid {p['label']} is {P.pct(p['share_of_sample'])} of the {y} "
                         f"sample; {P.pct(p['has_ospo_panel'])} of them report an OSPO."),
                "detail": (f"Other respondents at organisations that size: "
                           f"{P.pct(p['has_ospo_same_size_rest'])}. Weighting by size cannot "
                           f"remove this. Without the panel: {P.pct(p['has_ospo_without'])} "
                           f"({P.pct(lo)}–{P.pct(hi)}, n = {p['n_without']:,})."),
                "values": {k: v for k, v in p.items() if isinstance(v, (int, float))},
            })
        large, small = ya.size_gap()
        if large is not None and small is not None and not (large["suppressed"] or
                                                            small["suppressed"]):
            out.append({
                "id": "size",
                "text": (f"{P.pct(large['estimate'])} of organisations with over 10,000 "
                         f"employees have an OSPO, against {P.pct(small['estimate'])} of those "
                         "with up to 250."),
                "detail": (f"Publisher's sample, {self._weighted_word()}; n = "
                           f"{int(large['n']):,} and {int(small['n']):,}. The largest against "
                           "the smallest, fixed in advance."),
                "values": {"large": large["estimate"], "small": small["estimate"]},
            })
        for r in ya.key_contrasts().itertuples(index=False):
            what = _practice_words(r.outcome)
            out.append({
                "id": f"contrast_{r.outcome}",
                "text": (f"{P.pct(r.has_adj)} of organisations with an OSPO {what}, against "
                         f"{P.pct(r.adj_estimate)} of those without."),
                "detail": (f"Both adjusted for {variable_words(str(r.adjusted_for).split(' + '))}"
                           f"; difference {-100 * r.diff:+.0f} points, 95% interval "
                           f"{-100 * r.diff_ci_high:+.0f} to {-100 * r.diff_ci_low:+.0f}; n = "
                           f"{int(r.has_n):,} and {int(r.base):,}. An association, not an "
                           "effect."),
                "values": {"with": r.has_adj, "without": r.adj_estimate, "diff": r.diff},
            })
        formal = ya.formal_share()
        if formal is not None and not formal["suppressed"]:
            out.append({
                "id": "formal",
                "text": (f"{P.pct(formal['estimate'])} of OSPOs whose structure is known are "
                         "formally structured."),
                "detail": f"{_interval_words(formal)}, n = {int(formal['n']):,}.",
                "values": {"formal": formal["estimate"], "n": int(formal["n"])},
            })
        for key, spec in config()["topics"].items():
            if "finding" not in spec:
                continue
            got = ya.topic(key)
            if got is None:
                continue
            est, meta = got
            ok = est[~est["suppressed"] & est["estimate"].notna()]
            ok = ok[~ok["level"].astype(str).str.startswith("Other")]
            if ok.empty:
                continue
            top = ok.sort_values("estimate", ascending=False, kind="stable").iloc[0]
            kind = question_kind(meta)
            counted = ("" if not meta.get("top_label") else
                       f"Share {meta['top_label']}; ")
            text = spec["finding"].format(label=str(top["level"]), pct=P.pct(top["estimate"]),
                                          base="those answering")
            out.append({"id": key, "text": f"{kind.capitalize()}: {text}",
                        "detail": f"{counted}n = {int(top['n']):,}.",
                        "values": {"label": str(top["level"]), "estimate": top["estimate"]}})
        return out

    def _weighted_word(self) -> str:
        return "weighted" if self.analysis.winfo.weighted else "unweighted"

    def _weight_words(self) -> str:
        return ("weighted to the common size and industry mix" if self.analysis.winfo.weighted
                else "unweighted")

    def facts(self) -> list[dict[str, Any]]:
        """The facts this page states, for ``facts.json`` (:mod:`~ospo_survey.rendering.facts`):
        one id per population, year and measure, the value the page shows."""
        ya = self.analysis
        y, w = ya.year, (ya.scheme if ya.winfo.weighted else "none")
        out = [fact("respondents", ya.sample, None, y, ya.n,
                    "respondents in the sample this page analyses"),
               fact("respondents", "all", None, y, int(ya.yd.survey.n),
                    "responses in the raw export")]
        comp = ya.comparable_adoption()
        if comp is not None and not comp["suppressed"]:
            sample = "harmonized_without_panel" if comp["without_panel"] else "harmonized"
            out.append(fact("has_ospo", sample, comp["weights"], y, comp["estimate"],
                            "share of organisations with an OSPO or similar initiative"))
            out.append(fact("answering_has_ospo", sample, None, y, comp["n"],
                            "respondents answering the OSPO question"))
        adopt = ya.adoption()
        has = ya._level(adopt, "has") if not adopt.empty else None
        if has is not None and not has["suppressed"]:
            unw = ya._level(ya.adoption(weighted=False), "has")
            what = "share of organisations with an OSPO or similar initiative"
            out.append(fact("has_ospo", ya.sample, w, y, has["estimate"], what))
            out.append(fact("has_ospo", ya.sample, "unweighted", y, unw["estimate"], what))
        large, small = ya.size_gap()
        for row, name, words in ((large, "has_ospo_over_10000", "over 10,000 employees"),
                                 (small, "has_ospo_up_to_250", "up to 250 employees")):
            if row is not None and not row["suppressed"]:
                out.append(fact(name, ya.sample, w, y, row["estimate"],
                                f"share with an OSPO among organisations with {words}"))
        formal = ya.formal_share()
        if formal is not None and not formal["suppressed"]:
            out.append(fact("formal", ya.sample, w, y, formal["estimate"],
                            "formally structured share of OSPOs of known structure"))
        p = self.panel_info
        if p is not None:
            out.append(fact("has_ospo", f"{ya.sample}_without_panel", w, y,
                            p["has_ospo_without"], "share with an OSPO"))
            out.append(fact("respondents", "paid_panel", None, y, int(p["n"]),
                            "respondents from the paid panel"))
        change = ya.previous_change()
        if change is not None and change["tested"]:
            out.append(fact("has_ospo_change", "harmonized_without_panel"
                            if change.get("panel_years") else "harmonized", w,
                            f"{change['from']}-{change['to']}", change["estimate"],
                            "change in the share with an OSPO, in proportion points"))
        return out

    def title_block(self) -> P.Html:
        ya = self.analysis
        sub = (
            f"{ya.n:,} respondents · {ya.sample} sample · estimates {ya.weight_label}"
            f" · suppression below effective n {ya.min_n_eff:g}"
            + (f" · includes a paid {self.panel_info['label']}" if self.panel_info else "")
        )
        years = available_years()
        at = years.index(ya.year) if ya.year in years else -1
        links = ['<a href="../index.html">All reports</a>',
                 f'<a href="../trends/index.html">Trends {years_span()}</a>',
                 '<a href="../benchmark/index.html">Organisations like mine</a>']
        if at > 0:
            links.append(f'<a href="../{years[at - 1]}/index.html" rel="prev">← '
                         f"{years[at - 1]} report</a>")
        if 0 <= at < len(years) - 1:
            links.append(f'<a href="../{years[at + 1]}/index.html" rel="next">'
                         f"{years[at + 1]} report →</a>")
        nav = '<nav class="crumbs" aria-label="Other reports">' + " · ".join(links) + "</nav>"
        return P.Html(
            [
                nav,
                f'<h1 class="title" id="content" tabindex="-1">The {ya.year} OSPO survey: '
                "research report</h1>",
                para(esc(sub), "subtitle"),
            ],
            "title",
        )

    def reading_guide(self) -> P.Html:
        """How to read the page, in plain words, with links to the glossary."""
        ya = self.analysis
        weighting = (f"Shares are {glossary_link('standardised', 'standardised')}: weighted to "
                     "one common mix of organisation sizes and industries, so that years can be "
                     "compared." if ya.winfo.weighted else "Shares are unweighted.")
        panel = (f" The {ya.year} sample includes a paid {esc(self.panel_info['label'])}, which "
                 "raises figures that include it." if self.panel_info else "")
        return P.Html([
            heading(2, "How to read this report", "how-to-read"),
            para("Each chart shows the share of respondents who answered a question, with a 95% "
                 f"{glossary_link('interval', 'interval')} as an error bar and the number who "
                 f"answered (n) in the caption. {weighting} Grey bars without a value had too "
                 f"few answers (an {glossary_link('effective-sample', 'effective sample')} "
                 f"below {ya.min_n_eff:g}).{panel} People chose to answer, so every figure "
                 "describes the respondents, not all organisations. The appendices hold the "
                 "methods, the publisher's own figures and a glossary."),
        ], "reading-guide")

    def key_findings(self) -> P.Html:
        """The key findings: a short sentence each, its interval and base after it, and the
        rule that chose the comparisons."""
        items = "".join(
            f"<li><strong>{esc(f['text'])}</strong>"
            + (f' <span class="detail">{esc(f["detail"])}</span>' if f.get("detail") else "")
            + "</li>" for f in self.findings())
        practices = [_practice_label(o) for o in key_contrast_outcomes()]
        rule = para(
            "Chosen in advance, the same every year: largest against smallest organisations, "
            f"and with against without an OSPO for the first two asked of: "
            f"{esc('; '.join(practices))}. Each {glossary_link('association', 'association')} "
            "is among respondents, not an effect.", "note")
        return P.Html([heading(2, "Key findings", "key-findings"),
                       f'<ul class="findings">{items}</ul>', rule], "findings")

    def fielding(self) -> str:
        ya = self.analysis
        parts = []
        window = fielding_window(ya.year, ya.sample)
        if window is not None:
            start, end = (pd.Timestamp(d) for d in window)
            parts.append(
                f"Responses in the export were collected between {start:%-d %B %Y} and "
                f"{end:%-d %B %Y} (first start and last completion)."
            )
        if not parts:
            parts.append("The export carries no response dates.")
        counts = ya.frame["channel"].value_counts(sort=False) if ya.asked("channel") else None
        if counts is not None:
            counts = counts[(counts > 0) & (counts.index.astype(str) != "unknown")]
        if counts is not None and not counts.empty:
            listed = ", ".join(f"{k} {int(v):,}" for k, v in counts.items())
            parts.append(f"Respondents by SurveyMonkey collector group: {esc(listed)}.")
        else:
            parts.append("The export does not say how respondents were reached (no collectors).")
        return " ".join(parts)

    def funnel_table(self) -> P.Html:
        from ospo_survey.ingest.dataset import funnel

        ya = self.analysis
        f = funnel([ya.year])
        f = f[f["screen"] == ya.sample] if ya.sample in set(f["screen"]) else f
        show = f[["step", "action", "rows_in", "removed", "rows_out", "matched", "why"]].rename(
            columns={"rows_in": "in", "rows_out": "left", "why": "why (from the codebook)"}
        )
        show["why (from the codebook)"] = show["why (from the codebook)"].map(no_ids)
        show["step"] = show["step"].map(no_ids)
        return P.table(show, caption=f"Screening funnel, {ya.sample} sample ({ya.year})")

    def who_answered(self) -> P.Html:
        """Who answered: respondents by organisation size (counts and shares, unweighted)
        beside the common mix the page weights to, and the paid panel when there is one."""
        ya = self.analysis
        out = P.Html(label="who-answered")
        out.add(heading(2, "Who answered", "who-answered"))
        panel = (f" {self.panel_info['n']:,} of them came from a paid "
                 f"{esc(self.panel_info['label'])}." if self.panel_info else "")
        out.add(para(f"{ya.n:,} respondents are in the publisher's {ya.year} sample.{panel} "
                     "The table shows who they are by organisation size, beside the common mix "
                     "the page weights them to." if ya.winfo.weighted else
                     f"{ya.n:,} respondents are in the publisher's {ya.year} sample.{panel}"))
        prof = ya.respondent_profile("org_size")
        if not prof.empty:
            show = pd.DataFrame({
                "organisation size (employees)": [level_word("org_size", v)
                                                  for v in prof["level"].astype(object)],
                "respondents": prof["n"].astype(int),
                "share of respondents": [P.pct(v, 1) for v in prof["unweighted_share"]],
                "common mix (weighting target)": [P.pct(v, 1) for v in prof["target"]],
            })
            out.add(P.table(show, caption=f"Who answered, by organisation size ({ya.year}; "
                            "unweighted counts and shares beside the target)"))
        return out

    def sample_section(self) -> P.Html:
        """Appendix: the screening funnel and the weighted profile charts."""
        ya = self.analysis
        out = P.Html(label="sample")
        out.add(heading(2, "Appendix: the sample", "appendix-sample"))
        raw_n = ya.yd.survey.n
        out.add(
            para(
                f"The raw export holds {raw_n:,} responses; the {ya.sample} screen keeps "
                f"{ya.n:,}. {self.fielding()}"
            )
        )
        out.add(self.funnel_table())
        out.add(heading(3, "Respondent profile, weighted"))
        out.add(para("Shares after weighting; the unweighted counts are under “Who answered” "
                     "and in the weighting table of the methods."))
        for var in ("org_size", "industry", "region", "role"):
            if not ya.asked(var):
                continue
            est = drop_empty_levels(ya.estimate(var))
            title = variable_label(var)
            out.add(self._chart(est, f"{title} ({ya.year})", caption=_HARMONISED, var=var,
                                sort=not _ordered(var), label_header=title))
        return out

    def adoption_section(self) -> P.Html:
        """OSPO adoption overall and by organisation size (the story)."""
        ya = self.analysis
        out = P.Html(label="adoption")
        if not ya.asked("ospo_status"):
            return out
        out.add(heading(2, "OSPO adoption", "adoption"))
        out.add(para("Whether the respondent's organisation has an open source program office "
                   "(OSPO) or similar initiative, overall and by organisation size; by "
                   'industry, region and journey stage in <a href="#appendix-adoption">the '
                   "appendix</a>."))
        est = drop_empty_levels(ya.estimate("ospo_status"))
        out.add(self._chart(est, f"OSPO or similar initiative ({ya.year})",
                            caption=_HARMONISED, var="ospo_status"))
        out.add(self._adoption_by_chart("org_size", "organisation size"))
        return out

    def _adoption_by_chart(self, by: str, title: str) -> P.Chart | P.Html | None:
        ya = self.analysis
        est = ya.adoption_by(by)
        if est.empty:
            return None
        return self._chart(est, f"Share with an OSPO, by {title} ({ya.year})",
                           label="label", var=by, sort=not _ordered(by),
                           label_header=variable_label(by),
                           caption="Share whose organisation has an OSPO or similar "
                                   "initiative (formal or informal), per group, among "
                                   "those answering the OSPO question.")

    def adoption_appendix(self) -> P.Html:
        """Appendix: adoption by industry, region and journey stage."""
        ya = self.analysis
        out = P.Html(label="appendix-adoption")
        if not ya.asked("ospo_status"):
            return out
        charts = [self._adoption_by_chart("industry", "industry"),
                  self._adoption_by_chart("region", "headquarters region")]
        journey = ya.journey_adoption()
        if not journey.empty:
            charts.append(self._chart(journey, f"Share with an OSPO, by open source journey "
                                      f"stage ({ya.year})", label="label",
                                      caption="Stages are not exclusive (select all that "
                                              "apply).",
                                      label_header="Open source journey stage"))
        charts = [c for c in charts if c is not None]
        if charts:
            out.add(heading(2, "Appendix: adoption by industry, region and stage",
                            "appendix-adoption"))
            out.add(*charts)
        return out

    def _adjusted_words(self, frame: pd.DataFrame) -> str:
        """'organisation size and technology industry', from the result's adjusted_for."""
        names = sorted({v.strip() for a in frame["adjusted_for"].dropna() for v in str(a)
                        .split("+") if v.strip()})
        return variable_words(names) if names else ""

    def associations_section(self) -> P.Html:
        """What goes with having an OSPO: adjusted shares with and without an OSPO (story);
        the raw shares, the model and its notes are in :meth:`associations_appendix`."""
        ya = self.analysis
        a = ya.associations()
        out = P.Html(label="associations")
        if a.empty:
            return out
        adjusted = self._adjusted_words(a)
        out.add(heading(2, "What goes with having an OSPO", "associations"))
        mix = adjusted or "organisations"
        assoc = glossary_link("association", "association")
        out.add(para(
            "How often organisations with an OSPO or similar initiative report each practice, "
            f"against those without, with both groups given the same mix of {mix}: larger "
            "organisations more often have an OSPO and more often do most of these things. "
            f"Each difference is an {assoc} among the respondents, not an effect of having an "
            "OSPO; the raw "
            'shares and how the adjustment works are in <a href="#appendix-associations">the '
            "appendix</a>."
            + (f" {self.panel_phrase()}" if self.panel_info else "")))
        rows = []
        for outcome, part in a.groupby("outcome", sort=False):
            g = part.set_index("group")
            if not {"has", "none"} <= set(g.index):
                continue
            none = g.loc["none"]
            rows.append({
                "practice": _practice_label(str(outcome)),
                "with an OSPO": _cell(g.loc["has"], "adj_"),
                "without": _cell(none, "adj_"),
                "difference (points)": _diff_cell(none),
            })
        if rows:
            out.add(P.table(pd.DataFrame(rows),
                            caption=f"Practices by OSPO status, adjusted for "
                                    f"{adjusted or 'nothing'}, with 95% intervals ({ya.year})"))
        return out

    def associations_appendix(self) -> P.Html:
        """Appendix: raw beside adjusted shares, how the adjustment works, what the models
        could not do (a short summary, not the notes), and OSPO age."""
        ya = self.analysis
        a = ya.associations()
        out = P.Html(label="appendix-associations")
        if a.empty:
            return out
        adjusted = self._adjusted_words(a)
        out.add(heading(2, "Appendix: what goes with having an OSPO, raw and adjusted",
                        "appendix-associations"))
        out.add(para(
            "First as answered (raw), then adjusted for "
            f"{adjusted or 'nothing'}: the adjusted share is what each group's share would be "
            f"if it had the whole sample's mix of {adjusted or 'those variables'} (a "
            "survey-weighted logistic model per practice, standardised over the sample). Both "
            "are associations among the survey's opt-in respondents; intervals reflect "
            "sampling noise only."))
        rows = []
        for outcome, part in a.groupby("outcome", sort=False):
            g = part.set_index("group")
            if not {"has", "none"} <= set(g.index):
                continue
            none = g.loc["none"]
            rows.append({
                "practice": _practice_label(str(outcome)),
                "with an OSPO, raw": _cell(g.loc["has"]),
                "without, raw": _cell(none),
                "with an OSPO, adjusted": _cell(g.loc["has"], "adj_"),
                "without, adjusted": _cell(none, "adj_"),
                "difference (with − without), adjusted": _diff_cell(none, unit=" pp"),
                "n (with / without)": f"{int(g.loc['has', 'base']):,} / {int(none['base']):,}",
            })
        if rows:
            out.add(P.table(pd.DataFrame(rows),
                            caption=f"Practices by OSPO status, raw and adjusted ({ya.year})"))
        summary = model_notes_summary(a.attrs.get("notes", []))
        if summary:
            out.add(para(esc(summary), "note"))
        age = ya.age_contrast()
        if not age.empty:
            out.add(heading(3, "OSPO age, criticality and benefits"))
            out.add(para("Among organisations with an OSPO, by how long ago it was set up "
                         "(shares of those answering, weighted as the rest of the page; "
                         "an association, and older OSPOs are also at larger organisations). "
                         "The bases are the OSPOs that gave their age, so they differ from the "
                         "charts above."))
            for measure, part in age.groupby("measure", sort=False):
                out.add(self._chart(part.assign(label=part["age"].astype(str)),
                                    f"{measure}, by OSPO age ({ya.year})", label="label",
                                    caption="By how long ago the OSPO was established."))
        return out

    def maturity_section(self) -> P.Html:
        """Each maturity model's stages by OSPO status, and whether its ladder nests."""
        ya = self.analysis
        got = ya.maturity()
        out = P.Html(label="maturity")
        if not got:
            return out
        out.add(heading(2, "Appendix: maturity ladders", "appendix-maturity"))
        out.add(para(
            "Where respondents' organisations stand on three published ladders of open source "
            "maturity, as the survey's questions allow them to be measured (the rules follow "
            "the tables). Each ladder claims its stages build on each other; "
            "Loevinger's H measures how far the answers form such a scale (Mokken scaling)."
            + (f" {self.panel_phrase()}" if self.panel_info else "")))
        groups = {"has": "with an OSPO", "planning": "planning one", "none": "without"}
        from ospo_survey.analysis import maturity as M  # the ladder read as a scale (maturity)
        from ospo_survey.rendering.maturity_words import scale_html, stage_rules_html

        for model, frame, _cr in got:
            out.add(heading(3, model.label))
            out.add(para(scale_html(M.scalability(ya.design, model, [ya.year]), ya.year)))
            labels = {s.name: s.label for s in model.stages}
            rows = []
            for stage, part in frame.groupby("stage", sort=False, observed=False):
                row = {"stage": labels.get(str(stage), str(stage))}
                for g, name in groups.items():
                    r = part[part["group"].astype(str) == g]
                    if r.empty:
                        continue
                    r = r.iloc[0]
                    row[name] = ("not measured" if pd.isna(r["estimate"]) else
                                 f"{P.pct(r['estimate'])} ({P.pct(r['ci_low'])}–"
                                 f"{P.pct(r['ci_high'])})")
                rows.append(row)
            bases = frame.drop_duplicates("group").set_index(
                frame.drop_duplicates("group")["group"].astype(str))["base"]
            base_txt = ", ".join(f"{name} {int(bases[g]):,}" for g, name in groups.items()
                                 if g in bases.index and pd.notna(bases[g]))
            out.add(P.table(pd.DataFrame(rows), caption=f"{model.label}: share at each stage "
                            f"by OSPO status ({ya.year}; base: {base_txt})"))
            unmeasured = [n for n in frame.attrs.get("notes", []) if "not measured" in n]
            if unmeasured:
                out.add(para(esc(_stage_words(in_words(" ".join(unmeasured)), model)), "note"))
        out.add(stage_rules_html(model for model, _, _ in got))  # the words' link target
        return out

    def headline_section(self) -> P.Html:
        ya = self.analysis
        table = ya.headlines()
        out = P.Html(label="headlines")
        out.add(heading(2, "Appendix: the publisher's headline figures", "appendix-headlines"))
        if table.empty:
            out.add(para(f"The publisher's {ya.year} README states no figure that the data can "
                       "check."))
            return out
        counts = table["status"].value_counts()
        parts = [f"{int(counts[k])} {k}" for k in (STATUS_REPRODUCED, STATUS_OTHER_DEFINITION,
                                                   STATUS_DIFFERS) if k in counts.index]
        out.add(para(f"Of the {len(table)} figures from the publisher's {ya.year} README that "
                   f"the data can check: {', '.join(parts)}. “Reproduced” means the rule shown "
                   "(unweighted, as the publisher reports) gives the published number for what "
                   "the claim says; “same number, different definition” means the number "
                   "matches but measures something other than the claim's wording; the note "
                   "says why a figure differs. The weighted column applies this report's "
                   "weights to the same rule."
                   + (f" The {ya.year} figures include the paid {self.panel_info['label']}."
                      if self.panel_info else "")))

        def fmt(v, unit):
            if v is None or not math.isfinite(v):
                return "–"
            return f"{v:,.0f}" if unit == "count" else f"{v:.1f}%"

        show = pd.DataFrame(
            {
                "claim": table["claim"],
                "published": [fmt(v, u) if u == "count" else f"{v:.0f}%"
                              for v, u in zip(table["published"], table["unit"], strict=True)],
                "ours": [fmt(v, u) for v, u in zip(table["ours"], table["unit"], strict=True)],
                "weighted": [fmt(v, u) for v, u in zip(table["weighted"], table["unit"],
                                                       strict=True)],
                "status": [f"{st} (includes the paid panel)" if self.panel_info is not None
                           and st != STATUS_DIFFERS else st for st in table["status"]],
                "rule": table["rule"].astype(str).str.replace("_", " "),  # sample names
                "why it differs / note": table["note"],
            }
        )
        out.add(P.table(show, caption=f"Publisher's figures for {ya.year}",
                        css_class="data headlines"))
        out.add(para('Whether the publisher\'s comparative claims hold on the comparable series: '
                     '<a href="../claims/index.html">Claims checked</a>.'))
        return out

    def glossary(self) -> P.Html:
        """Appendix: the few technical words the page uses, in plain language."""
        return glossary_section()

    def methods_section(self) -> P.Html:
        ya = self.analysis
        out = P.Html(label="methods")
        out.add(heading(2, "Appendix: methods", "appendix-methods"))
        out.add(heading(3, "Screening"))
        from ospo_survey.ingest.dataset import funnel

        f = funnel([ya.year])
        steps = f[(f["screen"] == ya.sample) & (f["action"] != "start")]
        if steps.empty:
            out.add(para(f"The {ya.sample} sample keeps every response of the export."))
        else:
            items = "".join(
                f"<li><strong>{esc(no_ids(s.step))}</strong> ({esc(s.action)}: "
                f"{int(s.removed):,} removed, {int(s.matched):,} matched). "
                f"{esc(no_ids(s.why))}</li>"
                for s in steps.itertuples(index=False)
            )
            out.add(f"<ul>{items}</ul>")
        out.add(heading(3, "Weighting"))
        w = ya.winfo
        if not w.weighted:
            out.add(para("Estimates are unweighted: every respondent counts once. "
                       + esc(in_words(" ".join(w.notes)))))
        else:
            out.add(
                para(
                    f"Scheme <em>{esc(w.scheme)}</em>: {esc(w.description.rstrip('.'))}. "
                    f"Estimates are {esc(w.targets_sentence)}. "
                    "Weights are raked (iterative proportional fitting) to the margins below; "
                    f"{esc(w.trim_sentence)}; respondents whose "
                    "answer is unknown keep "
                    "their own year's share in a (missing) cell. Confidence intervals are "
                    "Korn-Graubard intervals, from linearised (Taylor) variances computed as "
                    "R's survey package computes them, with the weights treated as fixed: "
                    "the targets come from the survey itself, not from known population "
                    "totals; "
                    "estimates whose effective n is below "
                    f"{ya.min_n_eff:g} are suppressed."
                )
            )
            d = w.diagnostics
            summ = d.summary() if d is not None else {}
            out.add(
                para(
                    f"Design effect due to weighting (Kish) {w.deff:.2f}; effective sample size "
                    f"{w.n_eff:,.0f} of {w.n:,}. Weights range from "
                    f"{summ.get('min', float('nan')):.2f} to {summ.get('max', float('nan')):.2f}"
                    f"; raking {'converged' if summ.get('converged') else 'did not converge'}"
                    f" (largest margin error {summ.get('max_abs_error', float('nan')):.1e})."
                )
            )
            said = w.targets_sentence
            notes = [n for n in w.notes if not (said and n.lower().startswith(said))]
            if notes:  # the targets sentence is in the paragraph above
                out.add("<ul>" + "".join(f"<li>{esc(in_words(n))}</li>" for n in notes)
                        + "</ul>")
            if d is not None:
                m = d.to_frame()
                keep = [c for c in ("variable", "level", "target", "n", "unweighted_share",
                                    "weighted_share") if c in m.columns]
                shown = m[keep].copy()
                if "level" in shown.columns:
                    shown["level"] = [level_word(v, lev) for v, lev in
                                      zip(shown["variable"], shown["level"], strict=True)]
                shown["variable"] = shown["variable"].map(variable_label)
                shown = shown.rename(columns={"unweighted_share": "unweighted",
                                              "weighted_share": "weighted"})
                pf = {c: (lambda v: P.pct(v, 1)) for c in ("target", "unweighted", "weighted")}
                out.add(P.table(shown, caption="Weighting targets and achieved shares",
                                formats=pf))
            out.add(P.weight_histogram(w.weights, title=f"Distribution of the weights "
                                       f"({ya.year})"))
        out.add(heading(3, "Limits of an opt-in survey"))
        out.add(
            para(
                "Respondents chose to take part after hearing of the survey through the TODO "
                "Group, the Linux Foundation and partners (and, in 2023, a paid panel), so they "
                "are not a probability sample of organisations: people close to open source "
                "are likely over-represented and several people may answer for one "
                "organisation. Weighting only corrects the make-up on the weighting variables; "
                "confidence intervals describe sampling noise under the assumption that the "
                "weighted sample is representative, not the selection bias, and differences "
                "between years mix real change with changes in who answered and in question "
                "wording."
            )
        )
        return out

    def provenance_section(self) -> P.Html:
        ya = self.analysis
        return provenance_block([ya.year], extra=f"; weighting scheme {esc(ya.scheme)}")

    def summary(self) -> dict[str, Any]:
        """Headline numbers for the index page (and tests): plain JSON-ready values."""
        from ospo_survey.core.meta import VERSION as __version__

        ya = self.analysis
        adopt = ya.adoption()
        unw = ya.adoption(weighted=False)

        def level(frame, lev):
            row = ya._level(frame, lev) if not frame.empty else None
            if row is None:
                return None
            return {
                "estimate": json_number(row["estimate"]),
                "ci_low": json_number(row["ci_low"]),
                "ci_high": json_number(row["ci_high"]),
                "n": int(row["n"]),
                "count": int(row["count"]) if "count" in row else None,
                "suppressed": bool(row["suppressed"]),
            }

        formal = ya.formal_share()
        heads = ya.headlines()
        return {
            "kind": "year",
            "year": ya.year,
            "title": f"{ya.year} report",
            "href": f"{ya.year}/index.html",
            "sample": ya.sample,
            "weights": ya.scheme,
            "n": ya.n,
            "n_eff": json_number(ya.winfo.n_eff, 1),
            "deff": json_number(ya.winfo.deff, 3),
            "has_ospo": level(adopt, "has"),
            "has_ospo_unweighted": level(unw, "has"),
            "planning": level(adopt, "planning"),
            "formal": None if formal is None else json_number(formal["estimate"]),
            "findings": [f["text"] for f in self.findings()],
            "comparable": None if (comp := ya.comparable_adoption()) is None else {
                k: json_number(v) for k, v in comp.items()},
            "change": None if (ch := ya.previous_change()) is None else {
                k: json_number(v) for k, v in ch.items() if not isinstance(v, list)},
            "size": {name: level_row for name, level_row in
                     (("large", _level_json(ya.size_gap()[0])),
                      ("small", _level_json(ya.size_gap()[1])))},
            "panel": None if self.panel_info is None else {
                k: json_number(v) if isinstance(v, float) else v
                for k, v in self.panel_info.items() if not isinstance(v, tuple)
            },
            "headlines_reproduced": int(heads["reproduced"].sum()) if not heads.empty else 0,
            "headlines_total": int(len(heads)),
            "toolkit_version": __version__,
        }


def _weighted_phrase(margins: Any) -> str:
    """'weighted to a common organisation size ... mix across years': the analysis's
    standardised phrase in the page's plain word (the glossary explains 'standardised')."""
    return standardised_phrase(margins).replace("standardised to", "weighted to", 1)


def _stage_words(text: str, model: Any) -> str:
    """A maturity note with the model's and its stages' labels for their keys
    ("todo5 compliance_education" -> "Five-stage ... model: Compliance and education")."""
    text = re.sub(rf"\b{re.escape(model.key)}\s+", f"{model.label}: ", text)
    for stage in model.stages:
        text = re.sub(rf"\b{re.escape(stage.name)}\b", f"“{stage.label}”", text)
    return text


def _level_json(row: Any) -> dict[str, Any] | None:
    """An estimate row as JSON-ready values (the index's summary), None without one."""
    if row is None:
        return None
    return {"estimate": json_number(row["estimate"]), "ci_low": json_number(row["ci_low"]),
            "ci_high": json_number(row["ci_high"]), "n": int(row["n"]),
            "suppressed": bool(row["suppressed"])}


_HARMONISED = "Answers grouped the same way in every survey year."


def _ordered(var: str) -> bool:
    """Whether ``var``'s levels have an order of their own (then bars keep it)."""
    return bool(definitions().get(var, {}).get("ordered", False))


#: The glossary: (anchor, term, plain words). Pages link a term to ``#glossary-<anchor>``.
GLOSSARY = (
    ("association", "Association",
     "Two things that go together among the respondents (organisations with an OSPO more "
     "often do X). It does not say that one causes the other."),
    ("effective-sample", "Effective sample",
     "How many respondents a weighted share is worth: weighting makes some answers count more "
     "than others, so the share is as uncertain as one from a smaller unweighted sample. Shares "
     "worth fewer than 30 respondents are not shown."),
    ("interval", "Interval (95%)",
     "The range a share would likely fall in if the same kind of people were asked again: it "
     "reflects sampling noise only, not who chose to answer."),
    ("standardised", "Standardised (weighted)",
     "Each year's respondents weighted to one common mix of organisation sizes and "
     "industries, taken from the surveys' own respondents, so that a change between years is "
     "not only a change in who answered. It does not make the respondents represent all "
     "organisations."),
    ("comparable", "Comparable sample",
     "The respondents screened the same way in every year (involved in open source, working "
     "for an organisation); 2023 without its paid panel. The publisher's own samples were "
     "screened differently from year to year."),
)


def glossary_link(anchor: str, words: str) -> str:
    """``words`` linked to the glossary's entry (``#glossary-<anchor>``)."""
    return f'<a href="#glossary-{esc(anchor)}">{esc(words)}</a>'


def glossary_section() -> P.Html:
    """The glossary appendix: a definition list whose entries carry ids."""
    items = "".join(f'<dt id="glossary-{esc(a)}">{esc(term)}</dt><dd>{esc(words)}</dd>'
                    for a, term, words in GLOSSARY)
    return P.Html([heading(2, "Appendix: glossary", "appendix-glossary"),
                   f'<dl class="glossary">{items}</dl>'], "glossary")


_QUESTION_KINDS = {"multiple": "select-all list", "single": "single-choice question"}
_SCALE_WORDS = (("impact", "impact rating"), ("often", "frequency scale"),
                ("frequent", "frequency scale"),
                ("critical", "criticality rating"), ("likely", "likelihood scale"))


def question_kind(meta: dict[str, Any]) -> str:
    """The kind of question a topic was asked as, in words ("select-all list", "impact
    rating", "frequency scale"): findings name it, as the same words across years may
    count different questions."""
    kind = meta.get("kind")
    if kind == "matrix" or meta.get("top_label"):
        label = str(meta.get("top_label", "")).lower()
        return next((w for key, w in _SCALE_WORDS if key in label), "rating scale")
    return _QUESTION_KINDS.get(str(kind), "question")


def _interval_words(row: Any) -> str:
    """'95% interval 42%–48%'."""
    return f"95% interval {P.pct(row['ci_low'])}–{P.pct(row['ci_high'])}"


def _points(x: float, unit: bool = True) -> str:
    """'−11 points' for a difference of proportions (-0.11)."""
    text = f"{100 * x:+.0f}".replace("-", "−")
    return f"{text} points" if unit else text


def _practice_label(outcome: str) -> str:
    """A practice's label and how it is counted: 'Contribute code upstream (frequently)'."""
    return column_label(outcome) + (
        " (frequently)" if outcome.startswith("activity_") else
        " (formal policy)" if outcome.startswith("policy_") else " (journey stage)")


def _practice_words(outcome: str) -> str:
    """The practice as a verb phrase after 'organisations with an OSPO'."""
    what = column_label(outcome)
    what = what[0].lower() + what[1:]
    if outcome.startswith("policy_"):
        return f"have a formal policy on {what}"
    if outcome.startswith("activity_"):
        return f"frequently {what}"
    return f"place themselves at the stage “{what}”"


def _cell(r: pd.Series, prefix: str = "") -> str:
    e = r[f"{prefix}estimate"]
    if e is None or not math.isfinite(e):
        return "–"
    return f"{P.pct(e)} ({P.pct(r[f'{prefix}ci_low'])}–{P.pct(r[f'{prefix}ci_high'])})"


def _diff_cell(none: pd.Series, unit: str = "") -> str:
    """With minus without (the frame's ``diff`` is without minus with), with its interval."""
    if not math.isfinite(none["diff"]):
        return "–"
    return (f"{-100 * none['diff']:+.0f}{unit} ({-100 * none['diff_ci_high']:+.0f} to "
            f"{-100 * none['diff_ci_low']:+.0f})")


_NOTE = re.compile(r"^(?:\d{4}: )?(?P<outcome>[\w]+)=(?P<level>[^:]+): (?P<what>.*)$")


def model_notes_summary(notes: list[str]) -> str:
    """The adjustment models' notes in a few plain sentences (not one line per model)."""
    one_way: list[str] = []
    separated: list[str] = []
    other: list[str] = []
    for note in notes:
        m = _NOTE.match(note)
        if m is None:
            text = re.sub(r"^\d{4}: ", "", in_words(note))
            if text not in other:
                other.append(text)
            continue
        label = _practice_label(m.group("outcome"))
        target = separated if "separation" in m.group("what") else one_way
        if label not in target:
            target.append(label)
    parts = [f"{t[0].upper()}{t[1:]}." for t in other]
    if one_way:
        parts.append(f"For {len(one_way)} practice(s) ({'; '.join(one_way)}), a small group "
                     "(usually respondents who did not give their organisation size) all gave "
                     "the same answer; they keep their own share instead of entering the model.")
    if separated:
        parts.append(f"For {'; '.join(separated)}, one group gave only one answer at some "
                     "level, so no adjusted share is estimated there.")
    return " ".join(parts)
