"""Screening as data: the publisher's rules per year, and one harmonised cross-year screen.

Each year's codebook lists its steps (``screening.publisher`` and ``screening.quality``); the
harmonised screen is defined once in ``variables.yaml``. Steps run in order and each reports
rows in / removed / left, so reports can show the funnel. Actions:

``drop``   remove the rows matching the condition
``keep``   keep only the rows matching it
``flag``   keep everything, add a boolean column ``flag_name`` = condition (e.g. company level)
``count``  remove nothing; report how many rows match (e.g. "answered Q6")
``apply``  (harmonised screen only) run the year's ``quality`` steps
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import CodebookError
from ospo_survey.core.ids import withhold_ids
from ospo_survey.ingest import answers as A
from ospo_survey.ingest.harmonize import variables
from ospo_survey.ingest.labels import match_label
from ospo_survey.ingest.read import RawSurvey
from ospo_survey.ingest.settings import codebook_path, year_settings

FUNNEL_COLUMNS = [
    "year", "screen", "order", "step", "action", "rows_in", "removed", "rows_out", "matched", "why"
]


@dataclass
class ScreenResult:
    """Which rows a screen keeps, the flags it adds, and its funnel."""

    keep: pd.Series
    flags: dict[str, pd.Series]
    funnel: pd.DataFrame


def _labels_in(source: str, where: str, qid: str, wanted: list[str], known: list[str]) -> list[str]:
    out = []
    for w in wanted:
        hit = match_label(known, w)
        if hit is None:
            raise CodebookError(
                f"{source}: {where}: {w!r} is not an answer of {qid}"
                f" (answers: {'; '.join(known[:12])})"
            )
        out.append(hit)
    return out


RAW_LEAVES = ("ticked", "matrix", "column", "answer", "answered")


def evaluate(
    cond: dict[str, Any],
    survey: RawSurvey | None,
    harmonized: pd.DataFrame,
    where: str = "screening",
    source: str | None = None,
) -> pd.Series:
    """A boolean Series (one per respondent) for a declarative condition.

    The one interpreter of condition rules: screening steps (codebooks), the publisher's
    headline rules (``reports.yaml``, which names itself as ``source`` in errors) and the
    maturity models (``maturity.yaml``) all use it. With ``survey=None`` only conditions on
    the harmonised table (``harmonized``, ``any_true``, ``flag`` and all / any / not of them)
    can be evaluated, on any frame of harmonised rows (e.g. one from ``load_harmonized``).
    """
    idx = harmonized.index if survey is None else survey.responses.index
    src = source or (str(codebook_path(survey.year)) if survey is not None else "condition")

    def labels(qid: str, wanted: list[str], known: list[str]) -> list[str]:
        return _labels_in(src, where, qid, wanted, known)

    def sub(c: dict[str, Any]) -> pd.Series:
        return evaluate(c, survey, harmonized, where, source)

    if survey is None and any(k in cond for k in RAW_LEAVES):
        leaf = next(k for k in RAW_LEAVES if k in cond)
        raise CodebookError(
            f"{src}: {where}: {{{leaf}: ...}} reads a year's raw answers; on harmonised rows use"
            " harmonized, any_true or flag"
        )

    if "ticked" in cond:
        qid = cond["ticked"]
        frame = A.multiple(survey, qid)
        hits = labels(qid, cond["any"], list(frame.columns))
        return frame[hits].fillna(False).any(axis=1).astype(bool)
    if "all" in cond:
        out = pd.Series(True, index=idx)
        for c in cond["all"]:
            out &= sub(c)
        return out
    if "any" in cond:  # (after "ticked", whose option list is also called "any")
        out = pd.Series(False, index=idx)
        for c in cond["any"]:
            out |= sub(c)
        return out
    if "not" in cond:
        return ~sub(cond["not"])
    if "flag" in cond:
        flag = cond["flag"]
        if flag not in harmonized.columns:
            raise CodebookError(f"{src}: {where}: no sample flag {flag!r}")
        return harmonized[flag].astype(bool)
    if "matrix" in cond:
        qid = cond["matrix"]
        frame = A.matrix(survey, qid)
        row = labels(qid, [cond["row"]], list(frame.columns))[0]
        values = frame[row]
        if "in" not in cond:
            return values.notna()
        hits = labels(qid, cond["in"], [str(c) for c in values.cat.categories])
        return values.astype(object).isin(hits).fillna(False).astype(bool)
    if "column" in cond:
        col = cond["column"]
        if col not in survey.responses.columns:
            raise CodebookError(f"{src}: {where}: no column {col!r}")
        values = survey.responses[col].astype(object).map(
            lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        )
        return values.isin([str(v) for v in cond["in"]]).fillna(False).astype(bool)
    if "answer" in cond:
        qid = cond["answer"]
        values = A.single(survey, qid)
        hits = labels(qid, cond["in"], [str(c) for c in values.cat.categories])
        return values.astype(object).isin(hits).astype(bool)
    if "answered" in cond:
        return A.answered(survey, cond["answered"]).astype(bool)
    if "harmonized" in cond:
        var = cond["harmonized"]
        if var not in harmonized.columns:
            close = get_close_matches(str(var), [str(c) for c in harmonized.columns], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CodebookError(f"{src}: {where}: no harmonised variable {var!r}{hint}")
        values = harmonized[var]
        if "in" not in cond:  # answered: as {matrix: ..., row: ...} without `in`
            return values.notna().astype(bool)
        if isinstance(values.dtype, pd.CategoricalDtype):
            known = [str(c) for c in values.cat.categories]
            wrong = [str(v) for v in cond["in"] if str(v) not in known]
            if wrong:
                raise CodebookError(
                    f"{src}: {where}: {wrong[0]!r} is not a level of {var}"
                    f" (levels: {'; '.join(known)})"
                )
        return values.astype(object).isin(cond["in"]).astype(bool)
    if "any_true" in cond:
        cols = cond["any_true"]
        missing = [c for c in cols if c not in harmonized.columns]
        if missing:
            raise CodebookError(f"{src}: {where}: no harmonised column {missing[0]!r}")
        return harmonized[cols].fillna(False).astype(bool).any(axis=1)
    raise CodebookError(f"{src}: {where}: unknown condition {sorted(cond)}")


def measured(cond: dict[str, Any], harmonized: pd.DataFrame) -> bool:
    """Whether a condition can be told from these rows: its harmonised inputs were asked.

    A harmonised column that is NA in every row was not asked of them (a question or option
    missing that year, e.g. ``journey_collaborate`` in 2018). ``any`` / ``any_true`` are
    measured when one of their parts is (so one rule can name each period's variable), ``all``
    when every part is; conditions on raw answers or sample flags always are.
    """
    def asked(col: str) -> bool:
        if col not in harmonized.columns:  # absent is a typo, not "not asked" (that is NA)
            close = get_close_matches(str(col), [str(c) for c in harmonized.columns], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CodebookError(f"condition: no harmonised column {col!r}{hint}")
        return bool(harmonized[col].notna().any())

    if "ticked" in cond or "flag" in cond or any(k in cond for k in RAW_LEAVES):
        return True
    if "all" in cond:
        return all(measured(c, harmonized) for c in cond["all"])
    if "any" in cond:
        return any(measured(c, harmonized) for c in cond["any"])
    if "not" in cond:
        return measured(cond["not"], harmonized)
    if "harmonized" in cond:
        return asked(cond["harmonized"])
    if "any_true" in cond:
        return any(asked(c) for c in cond["any_true"])
    raise CodebookError(f"condition: unknown condition {sorted(cond)}")


def inputs(cond: Any) -> list[str]:
    """The harmonised columns a condition reads, in the order it names them (no repeats)."""
    out: list[str] = []
    if isinstance(cond, Mapping):
        if "harmonized" in cond:
            out.append(str(cond["harmonized"]))
        if "any_true" in cond:
            out.extend(str(c) for c in cond["any_true"])
        for key in ("all", "any"):
            if key in cond and "ticked" not in cond:
                for c in cond[key]:
                    out.extend(inputs(c))
        if "not" in cond:
            out.extend(inputs(cond["not"]))
    return list(dict.fromkeys(out))


def describe(cond: Any) -> str:
    """A readable one-line form of a condition (rule columns of tables and pages)."""
    if not isinstance(cond, Mapping):
        return str(cond)
    if "all" in cond and "ticked" not in cond:
        return " and ".join(describe(c) for c in cond["all"]) or "everyone"
    if "any" in cond and "ticked" not in cond:
        return "(" + " or ".join(describe(c) for c in cond["any"]) + ")"
    if "not" in cond:
        return f"not {describe(cond['not'])}"
    if "answered" in cond:
        return f"answered {cond['answered']}"
    if "answer" in cond:
        return f"{cond['answer']} ∈ {{{'; '.join(map(str, cond['in']))}}}"
    if "ticked" in cond:
        return f"ticked {cond['ticked']} ∈ {{{'; '.join(map(str, cond['any']))}}}"
    if "harmonized" in cond:
        if "in" not in cond:
            return f"answered {cond['harmonized']}"
        return f"{cond['harmonized']} ∈ {{{'; '.join(map(str, cond['in']))}}}"
    if "any_true" in cond:
        return "ticked any of " + ", ".join(map(str, cond["any_true"]))
    if "matrix" in cond:
        if "in" in cond:
            return f"{cond['matrix']} “{cond['row']}” ∈ {{{'; '.join(map(str, cond['in']))}}}"
        return f"answered {cond['matrix']} “{cond['row']}”"
    if "flag" in cond:
        return str(cond["flag"])
    return json.dumps(cond, sort_keys=True, ensure_ascii=False)


_ACTIONS = ("drop", "keep", "flag", "count", "apply")


def run_steps(
    steps: list[dict[str, Any]],
    survey: RawSurvey,
    harmonized: pd.DataFrame,
    screen: str,
) -> ScreenResult:
    """Apply steps in order; the funnel records what each did to the rows still in."""
    year = survey.year
    keep = pd.Series(True, index=survey.responses.index)
    flags: dict[str, pd.Series] = {}
    rows: list[dict[str, Any]] = []

    def record(name: str, action: str, rows_in: int, removed: int, matched: int, why: str):
        rows.append(
            {
                "year": year,
                "screen": screen,
                "order": len(rows) + 1,
                "step": withhold_ids(name),
                "action": action,
                "rows_in": rows_in,
                "removed": removed,
                "rows_out": rows_in - removed,
                "matched": matched,
                "why": withhold_ids(why),
            }
        )

    record("respondents in the raw file", "start", survey.n, 0, survey.n, "")
    for i, step in enumerate(steps or []):
        actions = [a for a in _ACTIONS if a in step]
        where = f"{screen} step {i + 1} ({step.get('name', '?')})"
        if len(actions) != 1:
            raise CodebookError(
                f"{codebook_path(year)}: {where}: needs exactly one of {', '.join(_ACTIONS)}"
            )
        action = actions[0]
        name = step.get("name", action)
        rows_in = int(keep.sum())
        if action == "apply":
            sub = year_settings(year).get("screening", {}).get(step["apply"], [])
            for j, inner in enumerate(sub):
                inner_where = f"{step['apply']} step {j + 1}"
                inner_action = next((a for a in ("drop", "keep") if a in inner), None)
                if inner_action is None:
                    raise CodebookError(
                        f"{codebook_path(year)}: {inner_where}: quality steps must drop or keep"
                    )
                rows_in = int(keep.sum())
                match = evaluate(inner[inner_action], survey, harmonized, inner_where)
                new_keep = keep & (~match if inner_action == "drop" else match)
                record(
                    f"{name}: {inner.get('name', inner_action)}",
                    inner_action,
                    rows_in,
                    rows_in - int(new_keep.sum()),
                    int((match & keep).sum()),
                    inner.get("why", ""),
                )
                keep = new_keep
            continue
        match = evaluate(step[action], survey, harmonized, where)
        if action == "drop":
            new_keep = keep & ~match
        elif action == "keep":
            new_keep = keep & match
        else:
            new_keep = keep
        if action == "flag":
            flag_name = step.get("flag_name")
            if not flag_name:
                raise CodebookError(f"{codebook_path(year)}: {where}: flag needs flag_name")
            flags[flag_name] = match.astype(bool)
        record(
            name,
            action,
            rows_in,
            rows_in - int(new_keep.sum()),
            int((match & keep).sum()),
            step.get("why", ""),
        )
        keep = new_keep
    return ScreenResult(keep=keep, flags=flags, funnel=pd.DataFrame(rows, columns=FUNNEL_COLUMNS))


def publisher_screen(survey: RawSurvey, harmonized: pd.DataFrame) -> ScreenResult:
    """The publisher's own analysed sample for that year."""
    steps = year_settings(survey.year).get("screening", {}).get("publisher", [])
    return run_steps(steps, survey, harmonized, "publisher")


def harmonized_screen(survey: RawSurvey, harmonized: pd.DataFrame) -> ScreenResult:
    """The same screen for every year: involved, works for an organisation, quality checks."""
    return run_steps(variables()["harmonized_screen"], survey, harmonized, "harmonized")
