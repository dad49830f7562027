"""The yearly page: headings, sentences, charts and tables made from a :class:`YearAnalysis`."""

from __future__ import annotations

import math
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
from ospo_survey.analysis.year import YearAnalysis
from ospo_survey.ingest.dataset import fielding_window
from ospo_survey.ingest.harmonize import definitions
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering import plotting as P
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
            f"Estimates {standardised_phrase(ya.winfo.margins)}." if ya.winfo.weighted
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
        """One configured section (heading, intro, a chart per asked topic), or nothing."""
        spec = config()["sections"][key]
        charts = [self.topic_chart(t) for t in spec["topics"]]
        charts = [c for c in charts if c is not None]
        out = P.Html(label=key)
        if not charts:
            return out
        out.add(heading(2, spec["title"], key), para(esc(" ".join(spec.get("intro", "").split()))))
        out.add(*charts)
        out.add(question_links(self.analysis, spec["topics"]))  # siteA: across the years
        return out

    def findings(self) -> list[dict[str, Any]]:
        """Key findings as sentences whose numbers come from the data, with the values used."""
        return self._findings

    @cached_property
    def _findings(self) -> list[dict[str, Any]]:
        ya = self.analysis
        out: list[dict[str, Any]] = []
        y = ya.year
        weighted_note = "weighted" if ya.winfo.weighted else "unweighted"
        out.append(
            {
                "id": "sample",
                "text": (
                    f"The {y} analysis covers {ya.n:,} respondents ({ya.sample} sample)"
                    + (
                        f"; weighting ({standardised_phrase(ya.winfo.margins)}) leaves an "
                        "effective sample size "
                        f"of {ya.winfo.n_eff:,.0f} (design effect {ya.winfo.deff:.2f})."
                        if ya.winfo.weighted
                        else "; estimates are unweighted."
                    )
                ),
                "values": {"n": ya.n, "n_eff": ya.winfo.n_eff},
            }
        )
        adopt = ya.adoption()
        has = ya._level(adopt, "has") if not adopt.empty else None
        if has is not None and not has["suppressed"]:
            plan = ya._level(adopt, "planning")
            unw = ya._level(ya.adoption(weighted=False), "has")
            text = (
                f"{P.pct(has['estimate'])} of organisations in the {y} sample have an OSPO or "
                f"similar open source initiative (95% CI {P.pct(has['ci_low'])}–"
                f"{P.pct(has['ci_high'])}, {weighted_note}"
                + (f"; unweighted {P.pct(unw['estimate'])}" if ya.winfo.weighted else "")
                + f", n = {int(has['n']):,})"
            )
            if plan is not None and not plan["suppressed"]:
                text += f", and a further {P.pct(plan['estimate'])} are planning one"
            if self.panel_info is not None:
                text += " (including the paid panel)"
            out.append({"id": "adoption", "text": text + ".",
                        "values": {"has": has["estimate"], "unweighted": unw["estimate"],
                                   "n": int(has["n"])}})
        p = self.panel_info
        if p is not None:
            lo, hi = p["has_ospo_without_ci"]
            out.append({
                "id": "panel",
                "text": (
                    f"The {y} sample includes {p['n']:,} respondents "
                    f"({P.pct(p['share_of_sample'])}) from a paid {p['label']}. "
                    f"{P.pct(p['has_ospo_panel'])} of them report an OSPO, against "
                    f"{P.pct(p['has_ospo_same_size_rest'])} of the other respondents at "
                    "organisations of that size, so every "
                    f"{y} figure here that includes them runs high, and weighting by size "
                    f"cannot remove it. Without the panel (re-weighted), "
                    f"{P.pct(p['has_ospo_without'])} have an OSPO (95% CI {P.pct(lo)}–"
                    f"{P.pct(hi)}, n = {p['n_without']:,})."
                ),
                "values": {k: v for k, v in p.items() if isinstance(v, (int, float))},
            })
        change = ya.previous_change()
        if change is not None:
            if change["tested"]:
                text = (
                    f"On the harmonised series ({change['series']}), the share with an OSPO "
                    f"went from {P.pct(change['before'])} in {change['from']} to "
                    f"{P.pct(change['after'])} in {change['to']} ({100 * change['estimate']:+.1f}"
                    f" points, 95% CI {100 * change['ci_low']:+.1f} to "
                    f"{100 * change['ci_high']:+.1f}; sampling noise only, in an opt-in sample"
                    + (f"; {change['why']}" if change["why"] else "") + ")."
                )
            else:
                text = (f"{change['to']} is not compared with {change['from']}: {change['why']} "
                        "lies between them.")
            out.append({"id": "change", "text": text, "values": {
                k: v for k, v in change.items() if isinstance(v, float)}})
        for r in ya.strongest_contrasts().itertuples(index=False):
            kind = ("frequently " if r.outcome.startswith("activity_") else "")
            what = column_label(r.outcome)
            what = (f"have a formal policy on {what[0].lower()}{what[1:]}"
                    if r.outcome.startswith("policy_") else f"{kind}{what[0].lower()}{what[1:]}")
            out.append({
                "id": f"contrast_{r.outcome}",
                "text": (
                    f"Adjusted for {variable_words(str(r.adjusted_for).split(' + '))}, "
                    f"{P.pct(r.has_adj)} of organisations with an OSPO {what}, against "
                    f"{P.pct(r.adj_estimate)} of those without ({-100 * r.diff:+.0f} points, "
                    f"95% CI {-100 * r.diff_ci_high:+.0f} to {-100 * r.diff_ci_low:+.0f}; "
                    f"n = {int(r.has_n):,} and {int(r.base):,}): an association among "
                    "respondents, not an effect."
                ),
                "values": {"with": r.has_adj, "without": r.adj_estimate, "diff": r.diff},
            })
        formal = ya.formal_share()
        if formal is not None and not formal["suppressed"]:
            out.append(
                {
                    "id": "formal",
                    "text": (
                        f"Of those with an OSPO whose structure is known, "
                        f"{P.pct(formal['estimate'])} describe it as formally structured "
                        f"(95% CI {P.pct(formal['ci_low'])}–{P.pct(formal['ci_high'])}, "
                        f"n = {int(formal['n']):,})."
                    ),
                    "values": {"formal": formal["estimate"], "n": int(formal["n"])},
                }
            )
        large, small = ya.size_gap()
        if large is not None and small is not None and not (large["suppressed"] or
                                                            small["suppressed"]):
            ratio = large["estimate"] / small["estimate"] if small["estimate"] > 0 else math.nan
            rtxt = f", {ratio:.1f} times the rate" if math.isfinite(ratio) else ""
            out.append(
                {
                    "id": "size",
                    "text": (
                        f"{P.pct(large['estimate'])} of organisations with more than 10,000 "
                        f"employees have an OSPO, against {P.pct(small['estimate'])} of those "
                        f"with up to 250{rtxt} (n = {int(large['n']):,} and "
                        f"{int(small['n']):,})."
                    ),
                    "values": {"large": large["estimate"], "small": small["estimate"]},
                }
            )
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
            base = "those answering" if not meta.get("top_label") else (
                f"those {meta['top_label']}"
            )
            text = spec["finding"].format(
                label=str(top["level"]), pct=P.pct(top["estimate"]),
                base=f"{base}, n = {int(top['n']):,}",
            )
            out.append({"id": key, "text": text,
                        "values": {"label": str(top["level"]), "estimate": top["estimate"]}})
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
        """How to read the page: bases, intervals, suppression, the weighting in plain words."""
        ya = self.analysis
        weighting = (
            f"Estimates are {standardised_phrase(ya.winfo.margins)} (the common mix comes "
            "from the surveys' own respondents, not from known population totals; the methods "
            "appendix gives it)." if ya.winfo.weighted else "Estimates are unweighted."
        )
        panel = (f" The {ya.year} sample includes a paid {self.panel_info['label']}, which "
                 "raises figures that include it; the key findings give adoption without it."
                 if self.panel_info else "")
        return P.Html([
            heading(2, "How to read this report", "how-to-read"),
            para("Every chart shows shares of the respondents who answered the question, with "
                 f"95% confidence intervals as error bars and the base (n) in the caption. "
                 f"{weighting} Estimates whose effective sample size is below "
                 f"{ya.min_n_eff:g} are too uncertain to show: their bars are grey, without "
                 "a value. Questions the "
                 f"survey did not ask this year are left out.{panel} The respondents opted in "
                 "to the survey, so read every figure as describing them, not all "
                 "organisations; intervals reflect sampling noise only."),
        ], "reading-guide")

    def key_findings(self) -> P.Html:
        return P.findings_block(self.findings())

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

    def sample_section(self) -> P.Html:
        ya = self.analysis
        out = P.Html(label="sample")
        out.add(heading(2, "The sample", "sample"))
        raw_n = ya.yd.survey.n
        out.add(
            para(
                f"The raw export holds {raw_n:,} responses; the {ya.sample} screen keeps "
                f"{ya.n:,}. {self.fielding()}"
            )
        )
        out.add(self.funnel_table())
        out.add(heading(3, "Respondent profile"))
        for var in ("org_size", "industry", "region", "role"):
            if not ya.asked(var):
                continue
            est = drop_empty_levels(ya.estimate(var))
            title = variable_label(var)
            out.add(self._chart(est, f"{title} ({ya.year})", caption=_HARMONISED, var=var,
                                sort=not _ordered(var), label_header=title))
        return out

    def adoption_section(self) -> P.Html:
        ya = self.analysis
        out = P.Html(label="adoption")
        if not ya.asked("ospo_status"):
            return out
        out.add(heading(2, "OSPO adoption", "adoption"))
        out.add(para("Whether the respondent's organisation has an open source program office "
                   "(OSPO) or similar initiative, overall and by organisation size, industry, "
                   "region and open source journey stage."))
        est = drop_empty_levels(ya.estimate("ospo_status"))
        out.add(self._chart(est, f"OSPO or similar initiative ({ya.year})",
                            caption=_HARMONISED, var="ospo_status"))
        for by, title in (
            ("org_size", "organisation size"),
            ("industry", "industry"),
            ("region", "headquarters region"),
        ):
            est = ya.adoption_by(by)
            if est.empty:
                continue
            out.add(self._chart(est, f"Share with an OSPO, by {title} ({ya.year})",
                                label="label", var=by, sort=not _ordered(by),
                                label_header=variable_label(by),
                                caption="Share whose organisation has an OSPO or similar "
                                        "initiative (formal or informal), per group, among "
                                        "those answering the OSPO question."))
        journey = ya.journey_adoption()
        if not journey.empty:
            out.add(self._chart(journey, f"Share with an OSPO, by open source journey stage "
                                f"({ya.year})", label="label",
                                caption="Stages are not exclusive (select all that apply).",
                                label_header="Open source journey stage"))
        return out

    def _adjusted_words(self, frame: pd.DataFrame) -> str:
        """'organisation size and technology industry', from the result's adjusted_for."""
        names = sorted({v.strip() for a in frame["adjusted_for"].dropna() for v in str(a)
                        .split("+") if v.strip()})
        return variable_words(names) if names else ""

    def associations_section(self) -> P.Html:
        """Raw beside adjusted shares for organisations with and without an OSPO."""
        ya = self.analysis
        a = ya.associations()
        out = P.Html(label="associations")
        if a.empty:
            return out
        adjusted = self._adjusted_words(a)
        out.add(heading(2, "What goes with having an OSPO", "associations"))
        out.add(para(
            "How often organisations with an OSPO or similar initiative report each practice, "
            "against those planning one and those without, first as answered (raw) and then "
            f"adjusted for {adjusted or 'nothing'}: the adjusted share is what each group's "
            "share would be if it had the whole sample's mix of "
            f"{adjusted or 'those variables'} (a survey-weighted logistic model per practice, "
            "standardised over the sample). Larger organisations more often have an OSPO and "
            "more often do most of these things, so the raw gap mixes the two. Both are "
            "associations among the survey's opt-in respondents, not effects of having an "
            "OSPO; intervals reflect sampling noise only."
            + (f" {self.panel_phrase()}" if self.panel_info else "")))
        rows = []
        for outcome, part in a.groupby("outcome", sort=False):
            g = part.set_index("group")
            if not {"has", "none"} <= set(g.index):
                continue

            def cell(r: pd.Series, prefix: str = "") -> str:
                e = r[f"{prefix}estimate"]
                if e is None or not math.isfinite(e):
                    return "–"
                return (f"{P.pct(e)} ({P.pct(r[f'{prefix}ci_low'])}–"
                        f"{P.pct(r[f'{prefix}ci_high'])})")

            none = g.loc["none"]
            diff = ("–" if not math.isfinite(none["diff"]) else  # with minus without
                    f"{-100 * none['diff']:+.0f} pp ({-100 * none['diff_ci_high']:+.0f} to "
                    f"{-100 * none['diff_ci_low']:+.0f})")
            rows.append({
                "practice": column_label(outcome) + (
                    " (frequently)" if outcome.startswith("activity_") else
                    " (formal policy)" if outcome.startswith("policy_") else " (journey stage)"),
                "with an OSPO, raw": cell(g.loc["has"]),
                "without, raw": cell(none),
                "with an OSPO, adjusted": cell(g.loc["has"], "adj_"),
                "without, adjusted": cell(none, "adj_"),
                "difference (with − without), adjusted": diff,
                "n (with / without)": f"{int(g.loc['has', 'base']):,} / {int(none['base']):,}",
            })
        if rows:
            out.add(P.table(pd.DataFrame(rows),
                            caption=f"Practices by OSPO status, raw and adjusted ({ya.year})"))
        notes = a.attrs.get("notes", [])
        if notes:
            out.add(para(esc(in_words(" ".join(notes))), "note"))
        age = ya.age_contrast()
        if not age.empty:
            out.add(heading(3, "OSPO age, criticality and benefits"))
            out.add(para("Among organisations with an OSPO, by how long ago it was set up "
                         "(raw shares of those answering, weighted as the rest of the page; "
                         "an association, and older OSPOs are also at larger organisations)."))
            for measure, part in age.groupby("measure", sort=False):
                out.add(self._chart(part.assign(label=part["age"].astype(str)),
                                    f"{measure} ({ya.year})", label="label",
                                    caption="By how long ago the OSPO was established."))
        return out

    def maturity_section(self) -> P.Html:
        """Each maturity model's stages by OSPO status, and whether its ladder nests."""
        ya = self.analysis
        got = ya.maturity()
        out = P.Html(label="maturity")
        if not got:
            return out
        out.add(heading(2, "Maturity", "maturity"))
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
                out.add(para(esc(in_words(" ".join(unmeasured))), "note"))
        out.add(stage_rules_html(model for model, _, _ in got))  # the words' link target
        return out

    def headline_section(self) -> P.Html:
        ya = self.analysis
        table = ya.headlines()
        out = P.Html(label="headlines")
        out.add(heading(2, "The publisher's headline figures", "headlines"))
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
                "status": table["status"],
                "rule": table["rule"].astype(str).str.replace("_", " "),  # sample names
                "why it differs / note": table["note"],
            }
        )
        out.add(P.table(show, caption=f"Publisher's figures for {ya.year}",
                        css_class="data headlines"))
        return out

    def methods_section(self) -> P.Html:
        ya = self.analysis
        out = P.Html(label="methods")
        out.add(heading(2, "Methods", "methods"))
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
            "panel": None if self.panel_info is None else {
                k: json_number(v) if isinstance(v, float) else v
                for k, v in self.panel_info.items() if not isinstance(v, tuple)
            },
            "headlines_reproduced": int(heads["reproduced"].sum()) if not heads.empty else 0,
            "headlines_total": int(len(heads)),
            "toolkit_version": __version__,
        }


_HARMONISED = "Answers grouped the same way in every survey year."


def _ordered(var: str) -> bool:
    """Whether ``var``'s levels have an order of their own (then bars keep it)."""
    return bool(definitions().get(var, {}).get("ordered", False))
