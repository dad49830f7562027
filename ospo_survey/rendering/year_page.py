"""The yearly page: headings, sentences, charts and tables made from :class:`YearAnalysis`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import config, drop_empty_levels
from ospo_survey.analysis.year import YearAnalysis
from ospo_survey.ingest.dataset import fielding_window
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


class YearPage(YearAnalysis):
    """One yearly report page; each method returns one fragment of it (empty when not asked)."""

    def _chart(self, frame: pd.DataFrame, title: str, *, label: str = "level", sort=False,
               caption: str = "", xlabel: str = "Share of respondents (%)",
               var: str | None = None, label_header: str = "Answer"
               ) -> P.Chart | P.Html | None:
        """A bar chart of ``frame``; ``var`` names the harmonised variable whose level words
        the bars show."""
        if frame is None or frame.empty or int(frame["n"].max()) == 0:
            return None
        if var is not None:
            frame = with_level_words(frame, var, label)
        if frame["suppressed"].astype(bool).all():
            return P.Html([para(f"<strong>{esc(title)}</strong>: too few answers to show "
                              f"(n = {int(frame['n'].max()):,}; every estimate's effective n is "
                              f"below {self.min_n_eff:g}).", "note")], title)
        cap = (caption + " " if caption else "") + f"Estimates {self.weight_label}."
        return P.bar_ci(frame, title=title, label=label, sort=sort, caption=cap,
                        min_n_eff=self.min_n_eff, xlabel=xlabel, label_header=label_header)

    def topic_chart(self, key: str) -> P.Chart | P.Html | None:
        got = self.topic(key)
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
        return self._chart(est, f"{meta['title']} ({self.year})", sort=sort,
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
        return out

    def findings(self) -> list[dict[str, Any]]:
        """Key findings as sentences whose numbers come from the data, with the values used."""
        if self._findings is None:
            self._findings = self._compute_findings()
        return self._findings

    def _compute_findings(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        y = self.year
        weighted_note = "weighted" if self.winfo.weighted else "unweighted"
        out.append(
            {
                "id": "sample",
                "text": (
                    f"The {y} analysis covers {self.n:,} respondents ({self.sample} sample)"
                    + (
                        f"; weighting to the reference targets leaves an effective sample size "
                        f"of {self.winfo.n_eff:,.0f} (design effect {self.winfo.deff:.2f})."
                        if self.winfo.weighted
                        else "; estimates are unweighted."
                    )
                ),
                "values": {"n": self.n, "n_eff": self.winfo.n_eff},
            }
        )
        adopt = self.adoption()
        has = self._level(adopt, "has") if not adopt.empty else None
        if has is not None and not has["suppressed"]:
            plan = self._level(adopt, "planning")
            unw = self._level(self.adoption(weighted=False), "has")
            text = (
                f"{P.pct(has['estimate'])} of organisations in the {y} sample have an OSPO or "
                f"similar open source initiative (95% CI {P.pct(has['ci_low'])}–"
                f"{P.pct(has['ci_high'])}, {weighted_note}"
                + (f"; unweighted {P.pct(unw['estimate'])}" if self.winfo.weighted else "")
                + f", n = {int(has['n']):,})"
            )
            if plan is not None and not plan["suppressed"]:
                text += f", and a further {P.pct(plan['estimate'])} are planning one"
            out.append({"id": "adoption", "text": text + ".",
                        "values": {"has": has["estimate"], "unweighted": unw["estimate"],
                                   "n": int(has["n"])}})
        formal = self.formal_share()
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
        large, small = self.size_gap()
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
            got = self.topic(key)
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
        sub = (
            f"{self.n:,} respondents · {self.sample} sample · estimates {self.weight_label}"
            f" · suppression below effective n {self.min_n_eff:g}"
        )
        years = available_years()
        at = years.index(self.year) if self.year in years else -1
        links = ['<a href="../index.html">All reports</a>',
                 f'<a href="../trends/index.html">Trends {years_span()}</a>']
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
                f'<h1 class="title" id="content" tabindex="-1">The {self.year} OSPO survey: '
                "research report</h1>",
                para(esc(sub), "subtitle"),
            ],
            "title",
        )

    def key_findings(self) -> P.Html:
        return P.findings_block(self.findings())

    def fielding(self) -> str:
        parts = []
        window = fielding_window(self.year, self.sample)
        if window is not None:
            start, end = (pd.Timestamp(d) for d in window)
            parts.append(
                f"Responses in the export were collected between {start:%-d %B %Y} and "
                f"{end:%-d %B %Y} (first start and last completion)."
            )
        if not parts:
            parts.append("The export carries no response dates.")
        counts = self.frame["channel"].value_counts(sort=False) if self.asked("channel") else None
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

        f = funnel([self.year])
        f = f[f["screen"] == self.sample] if self.sample in set(f["screen"]) else f
        show = f[["step", "action", "rows_in", "removed", "rows_out", "matched", "why"]].rename(
            columns={"rows_in": "in", "rows_out": "left", "why": "why (from the codebook)"}
        )
        show["why (from the codebook)"] = show["why (from the codebook)"].map(no_ids)
        show["step"] = show["step"].map(no_ids)
        return P.table(show, caption=f"Screening funnel, {self.sample} sample ({self.year})")

    def sample_section(self) -> P.Html:
        out = P.Html(label="sample")
        out.add(heading(2, "The sample", "sample"))
        raw_n = self.yd.survey.n
        out.add(
            para(
                f"The raw export holds {raw_n:,} responses; the {self.sample} screen keeps "
                f"{self.n:,}. {self.fielding()}"
            )
        )
        out.add(self.funnel_table())
        out.add(heading(3, "Respondent profile"))
        for var in ("org_size", "industry", "region", "role"):
            if not self.asked(var):
                continue
            est = drop_empty_levels(self.estimate(var))
            title = variable_label(var)
            out.add(self._chart(est, f"{title} ({self.year})", caption=_HARMONISED, var=var,
                                sort=not _ordered(var), label_header=title))
        return out

    def adoption_section(self) -> P.Html:
        out = P.Html(label="adoption")
        if not self.asked("ospo_status"):
            return out
        out.add(heading(2, "OSPO adoption", "adoption"))
        out.add(para("Whether the respondent's organisation has an open source program office "
                   "(OSPO) or similar initiative, overall and by organisation size, industry, "
                   "region and open source journey stage."))
        est = drop_empty_levels(self.estimate("ospo_status"))
        out.add(self._chart(est, f"OSPO or similar initiative ({self.year})",
                            caption=_HARMONISED, var="ospo_status"))
        for by, title in (
            ("org_size", "organisation size"),
            ("industry", "industry"),
            ("region", "headquarters region"),
        ):
            est = self.adoption_by(by)
            if est.empty:
                continue
            out.add(self._chart(est, f"Share with an OSPO, by {title} ({self.year})",
                                label="label", var=by, sort=not _ordered(by),
                                label_header=variable_label(by),
                                caption="Share whose organisation has an OSPO or similar "
                                        "initiative (formal or informal), per group, among "
                                        "those answering the OSPO question."))
        journey = self.journey_adoption()
        if not journey.empty:
            out.add(self._chart(journey, f"Share with an OSPO, by open source journey stage "
                                f"({self.year})", label="label",
                                caption="Stages are not exclusive (select all that apply).",
                                label_header="Open source journey stage"))
        return out

    def headline_section(self) -> P.Html:
        table = self.headlines()
        out = P.Html(label="headlines")
        out.add(heading(2, "The publisher's headline figures", "headlines"))
        if table.empty:
            out.add(para(f"The publisher's {self.year} README states no figure that the data can "
                       "check."))
            return out
        ok = int(table["reproduced"].sum())
        out.add(para(f"{ok} of {len(table)} figures from the publisher's {self.year} README are "
                   "reproduced by the rule shown (unweighted, as the publisher reports); the "
                   "note says why the others differ. The weighted column applies this report's "
                   "weights to the same rule."))

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
                "reproduced": ["yes" if r else "no" for r in table["reproduced"]],
                "rule": table["rule"].astype(str).str.replace("_", " "),  # sample names
                "why it differs / note": table["note"],
            }
        )
        out.add(P.table(show, caption=f"Publisher's figures for {self.year}",
                        css_class="data headlines"))
        return out

    def methods_section(self) -> P.Html:
        out = P.Html(label="methods")
        out.add(heading(2, "Methods", "methods"))
        out.add(heading(3, "Screening"))
        from ospo_survey.ingest.dataset import funnel

        f = funnel([self.year])
        steps = f[(f["screen"] == self.sample) & (f["action"] != "start")]
        if steps.empty:
            out.add(para(f"The {self.sample} sample keeps every response of the export."))
        else:
            items = "".join(
                f"<li><strong>{esc(no_ids(s.step))}</strong> ({esc(s.action)}: "
                f"{int(s.removed):,} removed, {int(s.matched):,} matched). "
                f"{esc(no_ids(s.why))}</li>"
                for s in steps.itertuples(index=False)
            )
            out.add(f"<ul>{items}</ul>")
        out.add(heading(3, "Weighting"))
        w = self.winfo
        if not w.weighted:
            out.add(para("Estimates are unweighted: every respondent counts once. "
                       + esc(in_words(" ".join(w.notes)))))
        else:
            out.add(
                para(
                    f"Scheme <em>{esc(w.scheme)}</em>: {esc(w.description.rstrip('.'))}. "
                    "Weights are raked (iterative proportional fitting) to the margins below and "
                    f"trimmed at {w.trim['max_ratio']:g} times the mean; respondents whose "
                    "answer is unknown keep "
                    "their own year's share in a (missing) cell. Confidence intervals are "
                    "Wilson intervals at each estimate's effective sample size, from "
                    "linearised (Taylor) variances; estimates whose effective n is below "
                    f"{self.min_n_eff:g} are suppressed."
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
            if w.notes:
                out.add("<ul>" + "".join(f"<li>{esc(in_words(n))}</li>" for n in w.notes)
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
                                       f"({self.year})"))
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
        return provenance_block([self.year], extra=f"; weighting scheme {esc(self.scheme)}")

    def summary(self) -> dict[str, Any]:
        """Headline numbers for the index page (and tests): plain JSON-ready values."""
        from ospo_survey.core.meta import VERSION as __version__

        adopt = self.adoption()
        unw = self.adoption(weighted=False)

        def level(frame, lev):
            row = self._level(frame, lev) if not frame.empty else None
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

        formal = self.formal_share()
        heads = self.headlines()
        return {
            "kind": "year",
            "year": self.year,
            "title": f"{self.year} report",
            "href": f"{self.year}/index.html",
            "sample": self.sample,
            "weights": self.scheme,
            "n": self.n,
            "n_eff": json_number(self.winfo.n_eff, 1),
            "deff": json_number(self.winfo.deff, 3),
            "has_ospo": level(adopt, "has"),
            "has_ospo_unweighted": level(unw, "has"),
            "planning": level(adopt, "planning"),
            "formal": None if formal is None else json_number(formal["estimate"]),
            "findings": [f["text"] for f in self.findings()],
            "headlines_reproduced": int(heads["reproduced"].sum()) if not heads.empty else 0,
            "headlines_total": int(len(heads)),
            "toolkit_version": __version__,
        }


_HARMONISED = "Answers grouped the same way in every survey year."


def _ordered(var: str) -> bool:
    """Whether ``var``'s levels have an order of their own (then bars keep it)."""
    from ospo_survey.ingest.harmonize import definitions

    return bool(definitions().get(var, {}).get("ordered", False))
