"""One page per harmonised question: every year's results side by side, each year flagged.

``reports/questions/<variable>/index.html`` shows, for one variable of ``variables.yaml``, the
question as each year asked it, a flag saying how it compares with the last year that asked it
(same wording, reworded, different scale or options, not asked: read from the codebooks'
question texts and answer lists, never from the year), the estimates of every year in one table
and a chart per year. Estimates come from one :func:`ospo_survey.survey` design of every year
(harmonised sample, reference weights), built once for all pages; years that include a paid
panel are also shown without it (:meth:`Survey.without_panel`, re-weighted).
``reports/questions/index.html`` lists the pages (the no-JavaScript fallback of the search box).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from ospo_survey.analysis.design import Survey, survey
from ospo_survey.ingest.dataset import codebook
from ospo_survey.ingest.harmonize import definitions, output_columns
from ospo_survey.ingest.processed import table as processed_table
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.html import esc, heading, para

QUESTIONS_DIR = "questions"
NOT_ASKED = "not asked"
FIRST_ASKED = "first asked"
SAME = "same wording"
REWORDED = "reworded"
OTHER_OPTIONS = "different scale or options"
#: sources that are not questions (how a respondent was reached): no question page
_META_SOURCES = {"collector", "collector_id", ""}
_INSTRUCTION = re.compile(r"\((?:select|check|choose|please)[^)]*\)", re.IGNORECASE)


def question_href(variable: str, root: str = "../") -> str:
    """The link to a variable's question page from a page ``root`` below the reports folder."""
    return f"{root}{QUESTIONS_DIR}/{variable}/index.html"


_SMALL_WORDS = {"a", "an", "the", "and", "or", "of", "to", "in", "for"}


def _norm(text: Any) -> str:
    """Wording to compare: instructions such as "(select one)", question numbers ("Q5"), case,
    spacing, punctuation and small words left out (an export's own formatting is not a
    rewording); any "Other ..." answer is "other"."""
    text = _INSTRUCTION.sub(" ", str(text or ""))
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower().replace("’", "'"))
             if w not in _SMALL_WORDS and not re.fullmatch(r"q\d+", w)]
    return "other" if words[:1] == ["other"] else " ".join(words)


@dataclass(frozen=True)
class Asked:
    """How one year asked a variable's question: its texts and answers, or not at all."""

    year: int
    questions: tuple[str, ...]  # as asked (one per source question or grid row)
    answers: tuple[str, ...]
    note: str = ""

    @property
    def asked(self) -> bool:
        return bool(self.questions)

    def wording(self) -> frozenset[str]:
        return frozenset(_norm(q) for q in self.questions)

    def options(self) -> frozenset[str]:
        return frozenset(_norm(a) for a in self.answers)


def source_variable(variable: str) -> str:
    """The variable whose questions feed ``variable`` (a derived one's source)."""
    spec = definitions()[variable]
    return str(spec["from"]) if spec["type"] == "derived" else variable


def asked_by_year(variable: str, years: Iterable[int] | None = None) -> list[Asked]:
    """Year by year, the questions and answers feeding ``variable`` (from the codebooks)."""
    return list(_asked_by_year(variable, tuple(int(y) for y in (years or available_years()))))


@cache
def _asked_by_year(variable: str, years: tuple[int, ...]) -> tuple[Asked, ...]:
    summary = processed_table("codebook")
    summary = summary[summary["variable"] == variable].set_index("year")
    src = source_variable(variable)
    out = []
    for year in years:
        asked = bool(summary.at[year, "asked"]) if year in summary.index else False
        note = str(summary.at[year, "note"] or "") if year in summary.index else ""
        rows = codebook(int(year), src) if asked else pd.DataFrame()
        if rows.empty:
            out.append(Asked(int(year), (), (), note))
            continue
        qs = tuple(dict.fromkeys(" ".join(str(q).split()) for q in rows["question"]))
        ans = tuple(dict.fromkeys(" ".join(str(a).split()) for a in rows["answer"]))
        out.append(Asked(int(year), qs, ans, note))
    return tuple(out)


def flags(asked: list[Asked]) -> dict[int, str]:
    """Each year's flag against the last earlier year that asked the question."""
    out: dict[int, str] = {}
    last: Asked | None = None
    for a in asked:
        if not a.asked:
            out[a.year] = NOT_ASKED
            continue
        if last is None:
            out[a.year] = FIRST_ASKED
        else:
            words = [REWORDED] if a.wording() != last.wording() else []
            if a.options() != last.options():
                words.append(OTHER_OPTIONS)
            out[a.year] = "; ".join(words) or SAME
        last = a
    return out


def topic_stem(variable: str) -> str:
    """A variable's topic when its answer list changed over the years and it was split by
    years: ``topic_stem("benefits_2018_2022") == topic_stem("benefits_2023") == "benefits"``;
    any other variable is its own topic."""
    return _SPLIT_BY_YEARS.sub("", variable)


_SPLIT_BY_YEARS = re.compile(r"_(?:top\d+_)?\d{4}(?:_\d{4})?$")


@cache
def question_variables() -> tuple[str, ...]:
    """Variables that have a question page: every harmonised variable fed by a question.

    >>> "ospo_status" in question_variables(), "channel" in question_variables()
    (True, False)
    """
    summary = processed_table("codebook")
    out = []
    for name in definitions():
        sources = set(summary.loc[summary["variable"] == name, "source"].fillna("").astype(str))
        if sources and sources <= _META_SOURCES:
            continue
        out.append(name)
    return tuple(out)


class QuestionSite:
    """The question pages, sharing one survey design of every year (and one without the
    paid panel), so that the pages cost one load however many there are."""

    def __init__(self, weights: str = "reference") -> None:
        self.years = [int(y) for y in available_years()]
        self.design: Survey = survey(self.years, "harmonized", weights)
        everyone = self.design.without_panel()
        self.panel_years = sorted(y for y, k in everyone.excluded.items() if k)
        # a year's estimates are the same whatever other years a design holds: the panel
        # years alone are enough (and cost a seventh of every year)
        self.without: Survey | None = (survey(self.panel_years, "harmonized", weights)
                                       .without_panel() if self.panel_years else None)
        self._without_estimates: dict[str, pd.DataFrame] = {}
        self.weighting = ("Reference weights (the harmonised sample raked to the common "
                          "reference margins)" if self.design.weighted else "Unweighted")

    # ------------------------------------------------------------------ estimates

    def estimates(self, variable: str, design: Survey | None = None) -> pd.DataFrame:
        """Every year's estimates of ``variable`` (API rows; a grid: one block per row, with
        the row in ``group``)."""
        d = design or self.design
        kind = definitions()[variable]["type"]
        if kind == "multi":
            return d.proportions(variable)
        if kind == "matrix":
            parts = []
            rows = definitions()[variable].get("rows", {})
            for col in output_columns(variable):
                if col not in d.frame.columns:
                    continue
                est = d.proportion(col)
                label = str(rows.get(col[len(variable) + 1:], col))
                parts.append(est.assign(group=label))
            return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return d.proportion(variable)

    # ------------------------------------------------------------------ page

    def page(self, variable: str) -> tuple[str, str]:
        """(title, main HTML) of one question page."""
        spec = definitions()[variable]
        label = str(spec.get("label", variable))
        asked = asked_by_year(variable, self.years)
        flag = flags(asked)
        est = self.estimates(variable)
        parts = ['<nav class="crumbs" aria-label="Other pages"><a href="../../index.html">'
                 'All reports</a> · <a href="../index.html">All questions</a> · '
                 f'<a href="../../codebook/index.html#var-{esc(variable)}">Codebook entry</a>'
                 "</nav>",
                 f'<h1 class="title">{esc(label)}</h1>',
                 para(f"Harmonised variable <code>{esc(variable)}</code>, every survey year side "
                      "by side: how each year asked it, then its estimates "
                      f"({esc(self.weighting.lower())}; 95% confidence intervals, sampling "
                      "noise only, in an opt-in sample that describes its respondents).",
                      "subtitle")]
        if spec.get("description"):
            parts.append(para(esc(" ".join(str(spec["description"]).split()))))
        related = [v for v in question_variables()
                   if v != variable and topic_stem(v) == topic_stem(variable) != variable]
        if related:
            links = " · ".join(f'<a href="../{esc(v)}/index.html">'
                               f'{esc(definitions()[v].get("label", v))}</a>' for v in related)
            parts.append(para(f"The same topic asked another way in other years: {links}."))
        parts.append(heading(2, "How each year asked it", "asked"))
        rows = []
        for a in asked:
            rows.append({
                "year": str(a.year),
                "flag": flag[a.year],
                "question as asked": " / ".join(a.questions) if a.asked else (a.note or "–"),
                "answers": len(a.answers) if a.asked else 0,
            })
        parts.append(P.table(pd.DataFrame(rows), caption=f"{label}: the question by year",
                             css_class="data question-flags", row_headers=True).html)
        parts.append(para("Flags compare a year with the last earlier year that asked: "
                          f"“{SAME}”, “{REWORDED}” (the question's words changed), "
                          f"“{OTHER_OPTIONS}” (the answers offered changed) or “{NOT_ASKED}”. "
                          "Differences between years mix real change with changes in wording "
                          "and in who answered.", "note"))
        if not est.empty:
            parts.append(heading(2, "Every year side by side", "side-by-side"))
            parts.append(self._side_by_side(est, label).html)
            if spec["type"] == "matrix":  # a chart per row and year would be dozens: the table
                parts.append(para("A grid question: the table above gives every row's answers "
                                  "in every year.", "note"))
            else:
                parts.append(heading(2, "Each year's chart", "charts"))
                questions = {a.year: " / ".join(a.questions) for a in asked}
                for year in sorted(est["year"].unique()):
                    parts.extend(self._year_charts(variable, label, est, int(year), questions))
        return label, "\n".join(parts)

    def _side_by_side(self, est: pd.DataFrame, label: str) -> P.Html:
        """Levels as rows, years as columns ("41% (37–45%)"; a missing level says why)."""
        est = est.copy()
        est["row"] = [f"{g}: {lv}" if g else str(lv)
                      for g, lv in zip(est["group"].fillna(""), est["level"], strict=True)]
        cells: dict[str, dict[str, str]] = {}
        for r in est.itertuples(index=False):
            if r.suppressed:
                text = "suppressed"
            elif pd.isna(r.estimate):
                text = str(r.reason or "–")
            else:
                text = f"{P.pct(r.estimate)} ({P.pct(r.ci_low)}–{P.pct(r.ci_high)})"
            cells.setdefault(str(r.row), {})[str(int(r.year))] = text
        years = [str(y) for y in sorted(est["year"].unique())]
        frame = pd.DataFrame([{"answer": row, **{y: c.get(y, "–") for y in years}}
                              for row, c in cells.items()])
        return P.table(frame, caption=f"{label}: share (95% CI) by year", row_headers=True)

    def _year_charts(self, variable: str, label: str, est: pd.DataFrame, year: int,
                     questions: dict[int, str]) -> list[str]:
        out = []
        part = est[est["year"] == year]
        designs = [("", part, self.design)]
        if year in self.panel_years and self.without is not None:
            if variable not in self._without_estimates:
                self._without_estimates[variable] = self.estimates(variable, self.without)
            alone = self._without_estimates[variable]
            designs.append((" without the paid panel", alone[alone["year"] == year],
                            self.without))
        for suffix, frame, _ in designs:
            title = f"{label} ({year}{suffix})"
            for group, rows in (frame.groupby("group", sort=False) if
                                frame["group"].fillna("").astype(bool).any() else [("", frame)]):
                shown = rows[rows["estimate"].notna() | rows["suppressed"].astype(bool)]
                if shown.empty:
                    continue
                chart = P.bar_ci(
                    shown, title=f"{group}: {title}" if group else title,
                    sort=definitions()[variable]["type"] == "multi",
                    caption=(f"{self.weighting}." + (" Includes the paid panel's respondents."
                                                     if year in self.panel_years and not suffix
                                                     else "")),
                    key=f"{variable}-{group}-{year}{suffix}" if group else
                    f"{variable}-{year}{suffix}",
                    question=questions.get(year, ""), weighting=self.weighting, year=year)
                if chart is not None:
                    out.append(chart.html)
        return out


def index_main(entries: list[tuple[str, str, str, str]]) -> str:
    """The list of question pages: (variable, label, years asked, description)."""
    items = "".join(
        f'<li><a href="{esc(var)}/index.html">{esc(label)}</a> <span class="years">'
        f"({esc(years)})</span>" + (f"<br><span class=\"note\">{esc(desc)}</span>" if desc else "")
        + "</li>"
        for var, label, years, desc in entries)
    return ('<nav class="crumbs" aria-label="Other pages"><a href="../index.html">All reports'
            '</a> · <a href="../codebook/index.html">Codebook</a></nav>'
            '<h1 class="title">Questions across the years</h1>'
            + para("Every harmonised question of the survey, one page each: how each year "
                   "asked it (with a flag when the wording or the answers changed) and every "
                   "year's results side by side.", "subtitle")
            + f'<ul class="questions">{items}</ul>')


def years_asked(variable: str) -> str:
    """'2018–2021, 2023' style list of the years that asked the question."""
    years = [a.year for a in asked_by_year(variable) if a.asked]
    return ", ".join(str(y) for y in years) or "not asked"


def question_links(analysis: Any, topics: Iterable[str], root: str = "../") -> str:
    """For a year page's section: links to the question pages of the harmonised variables its
    topics' questions feed (from the codebook's sources for that year); empty when none."""
    year = int(analysis.year)
    summary = processed_table("codebook")
    summary = summary[(summary["year"] == year) & summary["asked"].astype(bool)]
    by_source: dict[str, str] = {}
    for r in summary.itertuples(index=False):
        for src in str(r.source or "").split(","):
            by_source.setdefault(src.strip().lower(), str(r.variable))
    defs = definitions()
    found = []
    for key in topics:
        got = analysis.topic(key)
        if got is None:
            continue
        qid = str(got[1].get("qid", "")).lower()
        var = qid if qid in defs else by_source.get(qid)
        if var and var not in found and defs[var]["type"] != "derived":
            found.append(var)
    if not found:
        return ""
    links = " · ".join(f'<a href="{question_href(v, root)}">{esc(defs[v].get("label", v))}</a>'
                      for v in found)
    return para(f"This section's questions across every year: {links}.", "question-links")
