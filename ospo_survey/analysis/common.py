"""What the pages share: the page configuration (``reports.yaml``) and tidy estimates.

Every estimate here is a frame with the columns of
:func:`ospo_survey.inference.estimate.proportions`; nothing in this layer writes HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.core.yamlio import load_yaml
from ospo_survey.inference import estimate as E
from ospo_survey.ingest import answers as A
from ospo_survey.ingest.dataset import year_data
from ospo_survey.ingest.harmonize import definitions

CONFIG_PATH = PACKAGE_DIR / "reports.yaml"
MIN_N_EFF = 30
HAS_LEVELS = ("has (formal)", "has (informal)", "has (formality unknown)")
UNWEIGHTED_LABEL = "unweighted"
WEIGHTED_LABEL = "standardised"   # weighted to the reference targets: a common mix


@cache
def config() -> dict[str, Any]:
    """Sections, topics, trend notes and publisher headlines (``reports.yaml``)."""
    return load_yaml(CONFIG_PATH)


def shares(
    df: pd.DataFrame,
    variable: str,
    *,
    weights: str | None,
    by: str | None = None,
    levels: list[Any] | None = None,
    min_n_eff: float = MIN_N_EFF,
    strata: str | None = None,
    design_sizes: Mapping[Any, int] | int | None = None,
) -> pd.DataFrame:
    """A page's shares: :func:`~ospo_survey.inference.estimate.proportions` with R's variance
    (``strata`` the year column when ``df`` holds several years; ``design_sizes`` the rows of
    the design ``df`` was cut from, when it is a subset)."""
    return E.proportions(
        df, variable, weights=weights, by=by, levels=levels, min_n_eff=min_n_eff,
        strata=strata, design_sizes=design_sizes,
    )


def multi_shares(
    df: pd.DataFrame, columns: Mapping[str, str], *, weights: str | None, name: str,
    min_n_eff: float = MIN_N_EFF,
) -> pd.DataFrame:
    return E.multi_proportions(
        df, dict(columns), name=name, weights=weights, min_n_eff=min_n_eff
    )


def flag_series(values: pd.Series, hit: pd.Series) -> pd.Series:
    """A yes/no categorical: yes where ``hit``, no where answered otherwise, NaN unanswered."""
    out = np.where(values.isna(), None, np.where(hit.fillna(False), "yes", "no"))
    return pd.Series(pd.Categorical(out, categories=["yes", "no"]), index=values.index)

_ANSWERS: dict[tuple[int, str, str], tuple[Any, Any]] = {}


def answers_of(survey: Any, qid: str, how: str) -> Any:
    """``answers.single / multiple / matrix`` of one question of ``survey`` (a year's
    ``YearData.survey``), computed once per survey object: the one-hot decoding is the slowest
    step of a page. Keyed by the survey itself, not its year, so the answers always share the
    index of the rows they are read with (the raw export and the processed tables order the
    same respondents differently). Multiple choice follows the one write-in rule
    (:func:`merged_write_ins`)."""
    key = (id(survey), str(qid), how)
    hit = _ANSWERS.get(key)
    if hit is not None and hit[0] is survey:
        return hit[1]
    if how == "multiple":
        value = merged_write_ins(survey, qid, A.multiple(survey, qid))
    else:
        value = {"single": A.single, "matrix": A.matrix}[how](survey, qid)
    _ANSWERS[key] = (survey, value)
    return value


def question_shares(
    survey: Any, qid: str, kind: str, weights: pd.Series, *, weighted: bool,
    min_n_eff: float = MIN_N_EFF,
) -> pd.DataFrame:
    """Shares of every answer of one closed question of ``survey`` (the ``YearData.survey``
    whose rows ``weights`` is indexed by) among the respondents of ``weights``, written once
    for every page table that shows a question: single choice (base: those answering),
    multiple choice (base: those ticking an option; the write-in rule applied), matrix (each
    row on its own base). ``row`` is the matrix row, '' otherwise; ``weighted`` False counts
    every respondent once."""
    from ospo_survey.core.errors import CodebookError

    wcol = "_w" if weighted else None
    if kind == "single":
        base = pd.DataFrame({"_w": weights,
                             "_v": answers_of(survey, qid, "single").reindex(weights.index)})
        est = shares(base, "_v", weights=wcol, min_n_eff=min_n_eff)
        est["row"] = ""
    elif kind == "multiple":
        m = answers_of(survey, qid, "multiple").reindex(weights.index)
        cols = {str(opt): f"_o{i}" for i, opt in enumerate(m.columns)}
        base = pd.DataFrame({"_w": weights, **{cols[str(opt)]: m[opt] for opt in m.columns}})
        est = multi_shares(base, cols, weights=wcol, name=qid, min_n_eff=min_n_eff)
        est["row"] = ""
    elif kind == "matrix":
        m = answers_of(survey, qid, "matrix").reindex(weights.index)
        parts, rows = [], []
        for row in m.columns:
            base = pd.DataFrame({"_w": weights, "_v": m[row]})
            parts.append(shares(base, "_v", weights=wcol, min_n_eff=min_n_eff))
            rows += [str(row)] * len(parts[-1])
        est = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["level", "estimate", "ci_low", "ci_high", "n", "n_eff", "suppressed"])
        est["row"] = rows
    else:
        raise CodebookError(f"{survey.year} {qid}: kind {kind!r} is not single, multiple or matrix;"
                            " pick a closed question")
    return est


def merged_write_ins(survey: Any, qid: str, ticks: pd.DataFrame) -> pd.DataFrame:
    """The write-in rule: a write-in box whose label repeats an option's ("Other (please
    specify)" beside the option "Other (please specify)"; ``answers.multiple`` names it
    "<label> (<column>)") counts as ticking that option, so every chart and table of a page
    shows one bar for it."""
    q = survey.question(qid)
    texts = q[q["kind"] == "text"]
    out = ticks
    for col, opt in zip(texts["column"], texts["option"], strict=True):
        dup = f"{opt} ({col})"
        if dup in out.columns and opt in out.columns:
            out = out.copy() if out is ticks else out
            out[opt] = (out[opt].fillna(False) | out[dup].fillna(False)).where(
                out[opt].notna() | out[dup].notna(), pd.NA)
            out = out.drop(columns=dup)
    return out

def find_question(year: int, patterns: Iterable[str]) -> str | None:
    """The first non-text question of ``year`` whose wording matches one of ``patterns``."""
    survey = year_data(year).survey
    q = survey.questions
    q = q[(q["kind"] != "meta") & (q["qid"].astype(str) != "")]
    pats = [re.compile(p, re.IGNORECASE) for p in patterns]
    for qid, text in q.drop_duplicates("qid")[["qid", "question"]].itertuples(index=False):
        if any(p.search(str(text)) for p in pats) and A.kind(survey, qid) != "text":
            return qid
    return None

def question_text(year: int, qid: str) -> str:
    q = year_data(year).survey.question(qid)
    return str(q["question"].iloc[0])

def variable_levels(var: str) -> dict[str, str]:
    """Labels of a harmonised multi variable's options (journey stages)."""
    spec = definitions()[var]
    return dict(spec.get("options", {}))

def drop_empty_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """Leave out levels nobody chose (e.g. 'don't know' in a year that did not offer it)."""
    if "count" in frame.columns:
        return frame[frame["count"] > 0].reset_index(drop=True)
    return frame


def panel_contrast(frame: pd.DataFrame) -> dict[str, Any] | None:
    """How the paid panel in ``frame`` (one year's rows) differs from the other respondents:
    its size, its share of the rows, and the share reporting an OSPO in the panel against the
    other respondents at organisations of the panel's size. None without panel rows."""
    from ospo_survey.ingest.harmonize import panel_level, panel_sizes

    if "channel" not in frame.columns or "has_ospo" not in frame.columns:
        return None
    in_panel = frame["channel"].astype(object) == panel_level()
    if not in_panel.any():
        return None
    same_size = frame["org_size"].astype(object).isin(panel_sizes())
    has = frame["has_ospo"].astype(object)

    def share(mask: pd.Series) -> float:
        known = has[mask].dropna()
        return float((known == "has").mean()) if len(known) else float("nan")

    return {
        "label": panel_level(),
        "n": int(in_panel.sum()),
        "n_sample": int(len(frame)),
        "share_of_sample": float(in_panel.mean()),
        "has_ospo_panel": share(in_panel),
        "has_ospo_same_size_rest": share(same_size & ~in_panel),
    }


def standardised_phrase(variables: Iterable[str]) -> str:
    """'standardised to a common organisation size and technology industry mix across years',
    naming the weighting variables by their labels in variables.yaml (targets order kept)."""
    used = sorted(set(variables), key=list(definitions()).index)
    return f"standardised to a common {variable_words(used)} mix across years"


def column_label(column: str) -> str:
    """A harmonised column in words: a variable's label, or a matrix row's / multi option's
    label from variables.yaml (``activity_contribute`` -> "Contribute code upstream")."""
    defs = definitions()
    if column in defs:
        return str(defs[column].get("label", column))
    for var, spec in defs.items():
        prefix = f"{var}_"
        if column.startswith(prefix):
            key = column[len(prefix):]
            items = spec.get("rows") or spec.get("options") or {}
            if key in items:
                return str(items[key])
    return column


def variable_words(columns: Iterable[str]) -> str:
    """'organisation size and technology industry': labels without their parentheses."""
    return " and ".join(column_label(c).split(" (")[0].lower() for c in columns)
