"""Frequency tables: the contract the CLI, the reports and the fidelity checks build on.

``frequencies(year, question)`` returns one row per (matrix row,) answer option with columns
``year, question, row, option, n, base, pct`` (plus ``group`` with ``by``): ``n`` respondents
choosing the option, ``base`` respondents who answered the question (the matrix row; for
multiple choice those who ticked at least one option) and ``pct = 100 * n / base``.
"""

from __future__ import annotations

import pandas as pd

from . import answers as A
from .dataset import SAMPLES, year_data
from .errors import CodebookError

FREQ_COLUMNS = ["year", "question", "row", "option", "n", "base", "pct"]


def _resolve_qid(survey, question: str) -> str:
    qids = [q for q in survey.questions["qid"].unique() if q]
    by_lower = {q.lower(): q for q in qids}
    hit = by_lower.get(str(question).lower())
    if hit is None:
        raise CodebookError(
            f"{survey.year}: no question {question!r} in {survey.source.name}"
            f" (ids: {', '.join(qids[:6])} ... {qids[-1]})"
        )
    return hit


def _table(survey, qid: str, mask: pd.Series) -> pd.DataFrame:
    kind = A.kind(survey, qid)
    rows = []
    if kind == "single":
        values = A.single(survey, qid)[mask]
        base = int(values.notna().sum())
        counts = values.value_counts(sort=False)
        for opt in values.cat.categories:
            rows.append(("", opt, int(counts.get(opt, 0)), base))
    elif kind == "multiple":
        frame = A.multiple(survey, qid)[mask]
        answered = frame.notna().all(axis=1)
        base = int(answered.sum())
        for opt in frame.columns:
            rows.append(("", opt, int(frame[opt].fillna(False).sum()), base))
    elif kind == "matrix":
        frame = A.matrix(survey, qid)[mask]
        for row in frame.columns:
            col = frame[row]
            base = int(col.notna().sum())
            counts = col.value_counts(sort=False)
            for opt in col.cat.categories:
                rows.append((row, opt, int(counts.get(opt, 0)), base))
    else:
        raise CodebookError(
            f"{survey.year} {qid} is a {kind} question: free-text answers are not tabulated"
        )
    out = pd.DataFrame(rows, columns=["row", "option", "n", "base"])
    out["pct"] = (100.0 * out["n"] / out["base"]).where(out["base"] > 0)
    return out


def _groups(data, survey, by: str, mask: pd.Series) -> pd.Series:
    """Group labels from a publisher question (single choice) or a harmonised variable."""
    if by in data.harmonized.columns:
        return data.harmonized[by]
    qid = _resolve_qid(survey, by)
    if A.kind(survey, qid) != "single":
        raise CodebookError(f"{survey.year}: --by needs a single-choice question; {qid} is not")
    return A.single(survey, qid)


def frequencies(
    year: int, question: str, *, by: str | None = None, sample: str = "publisher"
) -> pd.DataFrame:
    """Counts and shares of one publisher question (id case-insensitive), optionally by group.

    >>> f = frequencies(2024, "Q12")
    >>> f.set_index("option").loc["No", ["n", "base"]].tolist()
    [96, 222]
    """
    if sample not in SAMPLES:
        raise CodebookError(f"unknown sample {sample!r}: use one of {', '.join(SAMPLES)}")
    data = year_data(int(year))
    survey = data.survey
    qid = _resolve_qid(survey, question)
    flags = data.harmonized
    mask = pd.Series(True, index=flags.index)
    if sample != "all":
        mask = flags[f"{sample}_sample"].astype(bool)
    if by is None:
        out = _table(survey, qid, mask)
        out.insert(0, "question", qid)
        out.insert(0, "year", int(year))
        return out[FREQ_COLUMNS]
    groups = _groups(data, survey, by, mask)
    levels = (
        list(groups.cat.categories)
        if isinstance(groups.dtype, pd.CategoricalDtype)
        else sorted(groups.dropna().unique())
    )
    blocks = []
    for level in levels:
        block = _table(survey, qid, mask & (groups == level).fillna(False))
        block.insert(0, "group", str(level))
        blocks.append(block)
    out = pd.concat(blocks, ignore_index=True)
    out.insert(0, "question", qid)
    out.insert(0, "year", int(year))
    return out[["year", "question", "group", "row", "option", "n", "base", "pct"]]
