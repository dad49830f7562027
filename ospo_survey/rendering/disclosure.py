"""The methods appendix's disclosure list: the AAPOR Transparency Initiative elements, in words.

Every element is one ``<dt>``/``<dd>`` pair (``data-aapor`` names it) filled from
:func:`ospo_survey.analysis.disclosure.disclosure`: the codebook's ``fieldwork:`` block for
declared facts, the data for counts. The wording on the opt-in sample follows the AAPOR Code's
rule that a margin of sampling error is not reported for a non-probability sample without
saying on what model any precision measure rests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ospo_survey.analysis.common import config
from ospo_survey.analysis.disclosure import Disclosure, channel_counts, disclosure, panel_count
from ospo_survey.analysis.questions import closed_questions
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.all_questions import ANCHOR as QUESTIONS_ANCHOR
from ospo_survey.rendering.html import esc, heading, no_ids, para, years_span

if TYPE_CHECKING:
    from ospo_survey.analysis.year import YearAnalysis

ANCHOR = "disclosure"
# (key, the element's name as the AAPOR Transparency Initiative lists it)
ELEMENTS = (
    ("strategy", "Data collection strategy"),
    ("sponsor", "Sponsor and who conducted the survey"),
    ("wording", "Question wording"),
    ("population", "Population studied"),
    ("recruitment", "Recruitment and screening of respondents"),
    ("mode", "Mode of data collection"),
    ("dates", "Dates of data collection"),
    ("precision", "Sample sizes and precision"),
    ("weighting", "Weighting"),
    ("processing", "Processing and quality checks"),
    ("limitations", "Limitations"),
)
NON_PROBABILITY = (
    "This survey used a non-probability (opt-in) sample: respondents were not selected at "
    "random from a known list, so no response rate can be computed and a margin of sampling "
    "error in the usual sense does not apply. The 95% intervals shown are model-based: they "
    "reflect sampling variability only, under the assumption that the weighted respondents "
    "resemble the population studied, and do not include coverage, self-selection, "
    "nonresponse or measurement error."
)


def _date(iso: str) -> str:
    return f"{pd.Timestamp(iso):%-d %B %Y}"


def _screening(d: Disclosure) -> str:
    parts = []
    for s in d.steps.itertuples(index=False):
        name = esc(no_ids(s.step))
        if s.action == "start":
            parts.append(f"{name}: {int(s.rows_out):,}")
        elif s.action == "count":
            parts.append(f"{name}: {int(s.matched):,} (counted, not removed)")
        else:
            parts.append(f"{name}: {int(s.removed):,} removed")
    if len(parts) == 1:
        parts.append("no screening step applies to this year's export")
    steps = "; ".join(parts)
    return (f"Screening for the {esc(d.sample)} sample, with the codebook's rules and counts "
            f"from the data: {steps}. The page analyses the {d.n:,} respondents left "
            "(the full funnel is under The sample and Screening above).")


def _recruitment(d: Disclosure) -> str:
    text = esc(d.fieldwork["recruitment"])
    counts = channel_counts(d)
    if counts:
        listed = ", ".join(f"{esc(k)} {v:,}" for k, v in counts)
        text += f" Respondents of the {esc(d.sample)} sample by collector group: {listed}."
    panel = panel_count(d)
    if panel:
        text += (f" {panel:,} of the {d.n:,} came through the paid panel of organisations with "
                 f"1,000+ employees (collector group “{esc(d.panel_level)}”).")
    return text + " " + _screening(d)


def _dates(d: Disclosure) -> str:
    if d.window is None:
        return ("Not recorded: the export carries no response dates and the published files "
                "do not state the fieldwork period.")
    start, end = (_date(x) for x in d.window)
    return (f"{start} to {end}: the first start and the last completion among the "
            f"{esc(d.sample)} sample's responses (the export's timestamps).")


def _precision(d: Disclosure) -> str:
    text = f"{d.raw_n:,} responses in the export; {d.n:,} in the {esc(d.sample)} sample."
    if d.weighted:
        text += (f" Weighting leaves an effective sample size of {d.n_eff:,.0f} (design effect "
                 f"{d.deff:.2f}).")
    text += (" Every estimate is shown with its base n (respondents answering) and a 95% "
             f"Korn-Graubard interval; estimates whose effective n is below {d.min_n_eff:g} are "
             "suppressed. ")
    return text + NON_PROBABILITY


def _weighting(d: Disclosure) -> str:
    if not d.weighted:
        return "None: every respondent counts once (unweighted estimates)."
    return (f"Scheme “{esc(d.scheme)}”: estimates are {esc(d.weighting_phrase)}. Each year's "
            "respondents are raked (iterative proportional fitting) to the composition of the "
            f"surveys' own respondents {esc(d.targets_pool) or 'pooled over ' + years_span()},"
            " not to known population "
            "totals. The targets, achieved shares, weight cap and weight distribution are under "
            "Weighting above.")


def _processing(d: Disclosure) -> str:
    checks = ", ".join(f"“{esc(q)}”" for q in d.quality_steps)
    quality = (f"The year's quality checks ({checks}) are part of the screening above."
               if checks else "The codebook lists no quality check beyond the screening above.")
    return ("The raw export is checked against its recorded sha256 (see the provenance "
            "footer) and decoded with the year's codebook: answers are identified by their "
            "label, not their position, and known damage in the export (Excel dates, "
            "mislabelled columns) is repaired by declared rules. Identifying fields (ids, IP "
            "addresses, names, e-mail addresses, free text) are dropped before any table is "
            f"written; open answers count only as written or not. {quality}")


def _limitations(d: Disclosure) -> str:
    text = ("Respondents opted in, so people close to open source are likely over-represented "
            "and several people may answer for one organisation; the figures describe the "
            "respondents, and associations between answers are not causal. Weighting corrects "
            "the make-up on its variables only.")
    panel = panel_count(d)
    if panel:
        text += (f" The {panel:,} paid-panel respondents change the year's make-up; weighting "
                 "balances their organisation size but not other ways in which panel members "
                 "differ from volunteers.")
    for b in config().get("trend_breaks", []):
        if d.year in (int(b["after"]), int(b["before"])):
            text += (f" Comparisons between {int(b['after'])} and {int(b['before'])} cross "
                     f"{esc(b['text'])}.")
    return text


def disclosure_values(ya: YearAnalysis) -> dict[str, str]:
    """key -> the element's HTML text, for every AAPOR element (none empty)."""
    d = disclosure(ya)
    fw = {k: esc(v) for k, v in d.fieldwork.items()}
    n_closed = len(closed_questions(ya.yd.survey))
    return {
        "strategy": ("A cross-sectional, self-administered online survey of an opt-in "
                     "(non-probability) sample recruited by open invitation; no sampling frame "
                     "was drawn."),
        "sponsor": (f"Sponsor: {fw['sponsor']} Conducted by: {fw['conducted_by']} "
                    f"(Sources: {fw['source']})"),
        "wording": (f"The wording of each of the {n_closed:,} closed questions as asked, with "
                    f'its id and results, is in <a href="#{QUESTIONS_ANCHOR}">All questions</a>; '
                    "open-ended questions are not shown (their answers are not published)."),
        "population": (f"{fw['population']} This page analyses the {esc(d.sample)} "
                       "sample."),
        "recruitment": _recruitment(d),
        "mode": fw["mode"],
        "dates": _dates(d),
        "precision": _precision(d),
        "weighting": _weighting(d),
        "processing": _processing(d),
        "limitations": _limitations(d),
    }


def disclosure_section(ya: YearAnalysis) -> P.Html:
    """The disclosure list, a sub-section of the methods appendix."""
    values = disclosure_values(ya)
    out = P.Html(label=ANCHOR)
    out.add(heading(3, "Disclosure (AAPOR Transparency Initiative)", ANCHOR))
    out.add(para("The elements the AAPOR Transparency Initiative asks every survey report to "
                 f"disclose, for the {ya.year} survey as this page analyses it."))
    items = "".join(
        f'<div data-aapor="{key}"><dt>{esc(name)}</dt><dd>{values[key]}</dd></div>'
        for key, name in ELEMENTS
    )
    out.add(f'<dl class="disclosure">{items}</dl>')
    return out
