"""Answers per question, whatever the export's storage: the shape analyses need.

Raw exports store a single-choice answer either as one column of codes/labels or as one
column per option (2023-2024); a matrix row either as one column or one column per answer.
These helpers hide that: ``single`` gives one label per respondent, ``multiple`` a boolean
frame per option, ``matrix`` one label per respondent and row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ospo_survey.core.errors import CodebookError
from ospo_survey.ingest.read import RawSurvey

OTHER_TEXT = "Other (please specify)"


def _labels(survey: RawSurvey) -> pd.DataFrame:
    cached = getattr(survey, "_labels_cache", None)
    if cached is None:
        cached = survey.labels()
        object.__setattr__(survey, "_labels_cache", cached)
    return cached


def first_answer(block: pd.DataFrame) -> pd.Series:
    """Per row, the first non-missing cell from the left: the ticked label of a one-hot group.

    Numpy on an object array: ``DataFrame.bfill(axis=1)`` transposes string columns into one
    block per respondent and costs ~100x more.

    >>> block = pd.DataFrame({"a": [None, "Yes", None], "b": ["No", None, None]})
    >>> first_answer(block).tolist()
    ['No', 'Yes', nan]
    """
    values = block.to_numpy(dtype=object, na_value=np.nan)
    if not values.size:
        return pd.Series(np.full(len(block), np.nan), index=block.index, dtype=object)
    filled = ~pd.isna(values)
    first = values[np.arange(len(values)), filled.argmax(axis=1)]
    out = np.where(filled.any(axis=1), first, np.nan)
    return pd.Series(out, index=block.index, dtype=object)


def _memo(fn):
    """Cache an extractor per survey object and question (surveys are never mutated)."""

    def wrapper(survey: RawSurvey, qid: str, *args, **kwargs):
        store = getattr(survey, "_answers_cache", None)
        if store is None:
            store = {}
            object.__setattr__(survey, "_answers_cache", store)
        key = (fn.__name__, qid, args, tuple(sorted(kwargs.items())))
        if key not in store:
            store[key] = fn(survey, qid, *args, **kwargs)
        return store[key].copy()

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


def kind(survey: RawSurvey, qid: str) -> str:
    """The question's kind: single / multiple / matrix / text / numeric (once per survey and
    question: pages ask it of every question, often)."""
    cached = survey.__dict__.get("_kind_cache")
    if cached is None or cached[0] is not survey.questions:  # (a reader replaces the table)
        cached = survey.__dict__["_kind_cache"] = (survey.questions, {})
    store = cached[1]
    key = str(qid)
    if key not in store:
        store[key] = _kind(survey, key)
    return store[key]


def _kind(survey: RawSurvey, qid: str) -> str:
    kinds = [k for k in survey.question(qid)["kind"].unique() if k != "text"]
    if not kinds:
        return "text"
    if len(kinds) > 1:
        raise CodebookError(f"{survey.year} {qid}: mixed kinds {kinds}")
    return kinds[0]


def options(survey: RawSurvey, qid: str) -> list[str]:
    """Answer labels in questionnaire order (for a matrix: the answer scale)."""
    q = survey.question(qid)
    coded = survey.answers[survey.answers["column"].isin(q["column"])]
    if not coded.empty:
        return list(dict.fromkeys(coded["label"]))
    hot = q[q["kind"] != "text"]
    return list(dict.fromkeys(hot["option"].dropna()))


def rows(survey: RawSurvey, qid: str) -> list[str]:
    """Matrix row labels in file order."""
    q = survey.question(qid)
    return list(dict.fromkeys(q.loc[q["kind"] == "matrix", "row"].dropna()))


@_memo
def single(survey: RawSurvey, qid: str) -> pd.Series:
    """One answer label per respondent (NaN = not answered) for a single-choice question."""
    full = survey.question(qid)
    q = full[full["kind"] == "single"]
    if q.empty:
        raise CodebookError(f"{survey.year} {qid}: not a single-choice question")
    labels = _labels(survey)
    cats = options(survey, qid)
    if len(q) == 1:
        out = labels[q["column"].iloc[0]]
    else:
        block = labels[list(q["column"])]
        ticked = block.notna().sum(axis=1)
        if (ticked > 1).any():
            row = int(np.flatnonzero((ticked > 1).to_numpy())[0])
            raise CodebookError(
                f"{survey.source}: respondent row {row + 1} ticked {int(ticked.iloc[row])}"
                f" options of single-choice question {qid}"
            )
        out = first_answer(block)
        # one column per option: a write-in with no option ticked is the "Other" answer
        texts = full[(full["kind"] == "text") & full["option"].str.startswith("Other", na=False)]
        if not texts.empty:
            wrote = survey.responses[list(texts["column"])].notna().any(axis=1)
            other = str(texts["option"].iloc[0])
            if (wrote & out.isna()).any():
                out = out.where(~(wrote & out.isna()), other)
                cats = [*cats, other] if other not in cats else cats
    return pd.Series(pd.Categorical(out, categories=cats), index=survey.responses.index, name=qid)


@_memo
def multiple(survey: RawSurvey, qid: str, *, other: bool = True) -> pd.DataFrame:
    """Booleans per option; NaN rows for respondents who ticked nothing (not asked/skipped).

    A written "Other (please specify)" answer counts as ticking "Other" when ``other``.
    """
    q = survey.question(qid)
    hot = q[q["kind"] == "multiple"]
    if hot.empty:
        raise CodebookError(f"{survey.year} {qid}: not a multiple-choice question")
    resp = survey.responses
    data = {opt: resp[col].notna() for col, opt in zip(hot["column"], hot["option"], strict=False)}
    if other:
        texts = q[(q["kind"] == "text")]
        for col, opt in zip(texts["column"], texts["option"], strict=False):
            name = opt if opt not in data else f"{opt} ({col})"
            data[name] = resp[col].notna()
    frame = pd.DataFrame(data, index=resp.index)
    answered = frame.any(axis=1)
    return frame.astype("boolean").where(answered, pd.NA)


@_memo
def matrix(survey: RawSurvey, qid: str) -> pd.DataFrame:
    """One answer label per respondent and matrix row (columns = row labels)."""
    q = survey.question(qid)
    q = q[q["kind"] == "matrix"]
    if q.empty:
        raise CodebookError(f"{survey.year} {qid}: not a matrix question")
    labels = _labels(survey)
    scale = options(survey, qid)
    out = {}
    for row, group in q.groupby("row", sort=False):
        if len(group) == 1:
            values = labels[group["column"].iloc[0]]
        else:
            block = labels[list(group["column"])]
            values = first_answer(block)
        out[row] = pd.Categorical(values, categories=scale)
    return pd.DataFrame(out, index=survey.responses.index)


def answered(survey: RawSurvey, qid: str) -> pd.Series:
    """True where the respondent gave any answer (option, row or text) to the question."""
    cols = list(survey.question(qid)["column"])
    return survey.responses[cols].notna().any(axis=1)
