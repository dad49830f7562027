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
WEIGHTED_LABEL = "reference-weighted"


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
) -> pd.DataFrame:
    return E.proportions(
        df, variable, weights=weights, by=by, levels=levels, ci="wilson", min_n_eff=min_n_eff
    )

def multi_shares(
    df: pd.DataFrame, columns: Mapping[str, str], *, weights: str | None, name: str,
    min_n_eff: float = MIN_N_EFF,
) -> pd.DataFrame:
    return E.multi_proportions(
        df, dict(columns), name=name, weights=weights, ci="wilson", min_n_eff=min_n_eff
    )

def flag_series(values: pd.Series, hit: pd.Series) -> pd.Series:
    """A yes/no categorical: yes where ``hit``, no where answered otherwise, NaN unanswered."""
    out = np.where(values.isna(), None, np.where(hit.fillna(False), "yes", "no"))
    return pd.Series(pd.Categorical(out, categories=["yes", "no"]), index=values.index)

@cache
def answers_of(year: int, qid: str, how: str) -> Any:
    """``answers.single / multiple / matrix`` of one question, computed once per process
    (the one-hot decoding is the slowest step of a page)."""
    survey = year_data(int(year)).survey
    return {"single": A.single, "multiple": A.multiple, "matrix": A.matrix}[how](survey, qid)

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
