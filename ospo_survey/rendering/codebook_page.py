"""The codebook page: every harmonised variable, its levels, and the questions and answers
that feed it in each year, from ``variables.yaml``, the codebooks and the processed answer map.

No notebook and no kernel: the page is a few tables written straight from the processed
``answer_map`` and ``codebook`` tables (:func:`ospo_survey.ingest.dataset.codebook`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ospo_survey.analysis.common import config
from ospo_survey.ingest.dataset import codebook
from ospo_survey.ingest.harmonize import definitions
from ospo_survey.ingest.processed import table as processed_table
from ospo_survey.rendering.html import esc, heading, para
from ospo_survey.rendering.question_pages import question_href, question_variables

KIND_WORDS = {
    "categorical": "one answer per respondent",
    "derived": "computed from another harmonised variable, the same way every year",
    "multi": "select all that apply: one yes/no column per option",
    "matrix": "one answer per row of a grid question",
}


def _words(text: Any) -> str:
    return " ".join(str(text or "").split())


def _levels(spec: dict[str, Any]) -> str:
    if spec["type"] == "multi":
        items = "".join(f"<li><strong>{esc(label)}</strong></li>"
                        for label in spec.get("options", {}).values())
        return f"<p>Options:</p><ul>{items}</ul>"
    levels = "".join(f"<li>{esc(lv)}</li>" for lv in spec.get("levels", []))
    tag = "ol" if spec.get("ordered") else "ul"
    intro = "Levels, in order:" if spec.get("ordered") else "Levels:"
    out = f"<p>{intro}</p><{tag}>{levels}</{tag}>"
    if spec["type"] == "matrix":
        rows = "".join(f"<li>{esc(label)}</li>" for label in spec.get("rows", {}).values())
        out = f"<p>Rows of the grid:</p><ul>{rows}</ul>" + out
    return out


def _answer_table(rows: pd.DataFrame, option_labels: dict[str, str]) -> str:
    body = []
    for r in rows.itertuples(index=False):
        level = r.level
        if level is None or (isinstance(level, float) and pd.isna(level)):
            shown = "<em>left out (counted as not answered)</em>"
        else:
            shown = esc(option_labels.get(str(level), str(level)))
        body.append(f"<tr><td>{esc(r.answer)}</td><td>{shown}</td></tr>")
    return ('<div class="table-scroll"><table class="data"><thead><tr>'
            '<th scope="col">answer as asked</th><th scope="col">harmonised level</th>'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def variable_section(name: str, spec: dict[str, Any], summary: pd.DataFrame) -> str:
    """One variable: what it is, its levels, and year by year the question that feeds it."""
    parts = [heading(2, str(spec.get("label", name)), f"var-{name}")]
    parts.append(para(f"Variable <code>{esc(name)}</code>: {esc(KIND_WORDS[spec['type']])}"
                      + (f" (from <code>{esc(spec['from'])}</code>)" if spec.get("from") else "")
                      + "."))
    if spec.get("description"):
        parts.append(para(esc(_words(spec["description"]))))
    if name in question_variables():  # siteA: the question's page, every year side by side
        parts.append(para(f'<a href="{question_href(name)}">Every year\'s results for this '
                          "question, side by side</a>."))
    parts.append(_levels(spec))
    options = {str(k): str(v) for k, v in spec.get("options", {}).items()}
    mine = summary[summary["variable"] == name]
    not_asked = []
    for row in mine.itertuples(index=False):
        year = int(row.year)
        if not row.asked:
            not_asked.append(f"{year}" + (f" ({_words(row.note)})" if row.note else ""))
            continue
        answers = codebook(year, name)
        if answers.empty:
            not_asked.append(str(year))
            continue
        blocks = []
        for (qid, question), part in answers.groupby(["qid", "question"], sort=False):
            blocks.append(
                f"<details><summary><strong>{year}</strong> · {esc(qid)}: "
                f"“{esc(_words(question))}”</summary>{_answer_table(part, options)}</details>"
            )
        parts.append("".join(blocks))
    if not_asked:
        parts.append(para("Not asked, or not harmonised: " + esc("; ".join(not_asked)) + "."))
    return f'<section class="variable" id="section-{esc(name)}">{"".join(parts)}</section>'


def codebook_body() -> str:
    """The page's main content (title, how to read, contents, one section per variable)."""
    defs = definitions()
    summary = processed_table("codebook")
    breaks = "; ".join(_words(b["text"]) for b in config().get("trend_breaks", []))
    toc = "".join(f'<li><a href="#var-{esc(n)}">{esc(s.get("label", n))}</a></li>'
                  for n, s in defs.items())
    intro = para(
        "Each survey year asked its questions in its own words and with its own answer lists. "
        "The harmonised variables below put them on one footing: for each variable, its "
        "levels, what it means, and in each year the question as asked, with every answer and "
        "the level it becomes. Answers mapped to no level count as not answered. Where the "
        "wording or the screening changed, the description says so"
        + (f"; the main series break is {esc(breaks)}." if breaks else ".")
        + " The same mapping is in the data release and in "
        "<code>ospo_survey.codebook(year, variable)</code>."
    )
    sections = "".join(variable_section(n, s, summary) for n, s in defs.items())
    return (
        '<h1 class="title" id="top">Codebook: the harmonised variables</h1>'
        f"{intro}"
        f'<nav class="toc" aria-label="Variables"><h2 id="contents">Contents</h2><ul>{toc}</ul>'
        "</nav>"
        f"{sections}"
    )
