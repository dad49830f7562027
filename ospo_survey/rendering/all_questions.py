"""The "All questions" appendix: every closed question of a year as a compact table.

One ``<details>`` per question (closed by default, so the page stays short), summarised by its
id and wording as asked; inside, shares with 95% intervals and the base n, from
:func:`ospo_survey.analysis.questions.all_questions`. Cells the suppression rule blanks say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ospo_survey.analysis.common import config, standardised_phrase
from ospo_survey.analysis.questions import QuestionEstimates, all_questions
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.formats import fmt_int, pct
from ospo_survey.rendering.html import esc, heading, para

if TYPE_CHECKING:
    from ospo_survey.analysis.year import YearAnalysis

ANCHOR = "all-questions"
SUPPRESSED = "suppressed"
KIND_WORDS = {"single": "single choice", "multiple": "multiple choice", "matrix": "matrix"}


def question_anchor(qid: str) -> str:
    return f"{ANCHOR}-{qid}"


def _interval(row) -> str:
    return f"{pct(row.ci_low)}–{pct(row.ci_high)}"


def _list_table(q: QuestionEstimates) -> str:
    """Answer | share | 95% interval, one row per answer (single or multiple choice)."""
    head = ('<thead><tr><th scope="col">Answer</th><th scope="col">Share</th>'
            '<th scope="col">95% interval</th></tr></thead>')
    body = []
    for r in q.frame.itertuples(index=False):
        cells = ((f'<td colspan="2">{SUPPRESSED}</td>') if r.suppressed else
                 f'<td class="num">{pct(r.estimate)}</td><td class="num">{_interval(r)}</td>')
        body.append(f'<tr><th scope="row">{esc(r.level)}</th>{cells}</tr>')
    return f'<table class="data compact">{head}<tbody>{"".join(body)}</tbody></table>'


def _matrix_table(q: QuestionEstimates) -> str:
    """Rows × answer levels: 'share (interval)' per cell, and each row's base n."""
    f = q.frame
    levels = list(dict.fromkeys(f["level"]))
    head = ('<thead><tr><th scope="col">Row</th>'
            + "".join(f'<th scope="col">{esc(lev)}</th>' for lev in levels)
            + '<th scope="col">n</th></tr></thead>')
    body = []
    for row, part in f.groupby("row", sort=False):
        cells = []
        for r in part.itertuples(index=False):
            text = SUPPRESSED if r.suppressed else f"{pct(r.estimate)} ({_interval(r)})"
            cells.append(f'<td class="num">{text}</td>')
        n = int(part["n"].iloc[0]) if len(part) else 0
        body.append(f'<tr><th scope="row">{esc(row)}</th>{"".join(cells)}'
                    f'<td class="num">{fmt_int(n)}</td></tr>')
    return f'<table class="data compact">{head}<tbody>{"".join(body)}</tbody></table>'


def _base(q: QuestionEstimates) -> str:
    if q.kind == "matrix":
        return "Base: respondents answering each row (n per row)."
    who = "ticked at least one option" if q.kind == "multiple" else "answered"
    return f"Base: the {fmt_int(q.answered)} respondents who {who}."


def question_block(q: QuestionEstimates) -> str:
    """One question as ``<details>``: id and wording in the summary, the table inside."""
    n = fmt_int(q.answered) if q.fewest == q.answered else (
        f"{fmt_int(q.fewest)}–{fmt_int(q.answered)} per row")
    summary = (f'<summary><strong>{esc(q.qid)}</strong> {esc(q.question)} '
               f'<span class="note">({KIND_WORDS[q.kind]}; n = {n})</span></summary>')
    parts = [summary]
    if q.section:
        title = config()["sections"][q.section]["title"]
        parts.append(para(f'Also charted in <a href="#{esc(q.section)}">{esc(title)}</a>.',
                          "note"))
    if q.answered == 0:
        parts.append(para("No respondent of this sample answered it.", "note"))
    else:
        table = _matrix_table(q) if q.kind == "matrix" else _list_table(q)
        parts.append(f'<div class="table-scroll">{table}</div>')
        parts.append(para(esc(_base(q)), "note"))
    return (f'<details class="question" id="{esc(question_anchor(q.qid))}">'
            + "".join(parts) + "</details>")


def all_questions_section(ya: YearAnalysis) -> P.Html:
    """The appendix: an introduction, then every closed question of the year in file order."""
    questions = all_questions(ya)
    out = P.Html(label=ANCHOR)
    if not questions:
        return out
    charted = sum(1 for q in questions if q.section)
    kinds = pd.Series([q.kind for q in questions]).value_counts()
    counts = ", ".join(f"{int(kinds.get(k, 0)):,} {w}" for k, w in KIND_WORDS.items())
    weighting = ("estimates " + standardised_phrase(ya.winfo.margins) if ya.winfo.weighted
                 else "unweighted estimates")
    out.add(heading(2, "All questions", ANCHOR))
    out.add(para(
        f"Every closed question of the {ya.year} questionnaire ({len(questions):,}: {counts}), "
        "in questionnaire order, with its id and its wording as asked; open the question to "
        f"see its table. {charted:,} of them are also charted in a section above. Shares are "
        f"of the {esc(ya.sample)} sample's respondents who answered the question (for a "
        "multiple-choice question: who ticked at least one option; for a matrix: who answered "
        f"the row), {esc(weighting)}, with 95% Korn-Graubard intervals; n is the number of "
        "respondents answering (unweighted). Options of a multiple-choice question are not "
        "exclusive, so their shares need not add up to 100%. Following the package's "
        "suppression rule, an "
        f"estimate whose effective sample size is below {ya.min_n_eff:g} is not shown "
        f"(“{SUPPRESSED}”); its base n still is. The intervals reflect sampling variability "
        "only, not the opt-in selection of respondents."
    ))
    out.add(*(question_block(q) for q in questions))
    return out
