"""Frequency tables: the contract the CLI, the reports and the fidelity checks build on.

``frequencies(year, question)`` returns one row per (matrix row,) answer option with columns
``year, question, row, option, n, base, pct`` (plus ``group`` with ``by``): ``n`` respondents
choosing the option, ``base`` respondents who answered the question (the matrix row; for
multiple choice those who ticked at least one option) and ``pct = 100 * n / base``.
"""

from __future__ import annotations

import pandas as pd

from ospo_survey.core.errors import CodebookError
from ospo_survey.ingest import answers as A
from ospo_survey.ingest.dataset import SAMPLES, year_data

FREQ_COLUMNS = ["year", "question", "row", "option", "n", "base", "pct"]
WEIGHTED_COLUMNS = ["pct_w", "ci_low", "ci_high", "n_eff"]


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


def _weighted(
    survey, qid: str, mask: pd.Series, w: pd.Series, groups: pd.Series | None
) -> pd.DataFrame:
    """Weighted shares (percent) with Korn-Graubard CIs, per (group, row, option)."""
    from ospo_survey.inference import estimate as E

    kind = A.kind(survey, qid)
    frame = pd.DataFrame({"__w": w}, index=survey.responses.index)
    by = None
    if groups is not None:
        frame["__g"] = groups.astype(object).map(str, na_action="ignore")
        by = "__g"
        mask = mask & groups.notna()
    parts = []
    size = int((w > 0).sum())  # the year's design rows: a variance pads a subset to them
    if kind == "single":
        frame["__x"] = A.single(survey, qid)
        est = E.proportions(frame[mask], "__x", weights="__w", by=by, min_n_eff=0,
                            design_sizes=size)
        est["row"] = ""
        parts.append(est)
    elif kind == "multiple":
        opts = A.multiple(survey, qid)
        cols = {f"__o{i}": c for i, c in enumerate(opts.columns)}
        for key, c in cols.items():
            frame[key] = opts[c]
        answered = opts.notna().all(axis=1)
        sub = frame[mask & answered]
        est = E.multi_proportions(
            sub, list(cols), weights="__w", by=by, min_n_eff=0,
            base=pd.Series(True, index=sub.index), design_sizes=size,
        )
        est["level"] = est["level"].map(cols)
        est["row"] = ""
        parts.append(est)
    else:
        mat = A.matrix(survey, qid)
        for row in mat.columns:
            frame["__x"] = mat[row]
            est = E.proportions(frame[mask], "__x", weights="__w", by=by, min_n_eff=0,
                                design_sizes=size)
            est["row"] = row
            parts.append(est)
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"level": "option", "__g": "group"})
    for col in ("estimate", "ci_low", "ci_high"):
        out[col] = 100.0 * out[col]
    out = out.rename(columns={"estimate": "pct_w"})
    keys = (["group"] if groups is not None else []) + ["row", "option"]
    out["option"] = out["option"].astype(str)
    return out[keys + WEIGHTED_COLUMNS]


def _sample_weights(data, year: int, sample: str, scheme: str) -> pd.Series:
    """The design's weights (:func:`ospo_survey.analysis.design.survey` of the year, sample
    and scheme) aligned to the raw rows (0 outside the sample)."""
    from ospo_survey.analysis.design import survey

    if sample == "all":
        raise CodebookError("weights are defined for the publisher or harmonized sample only")
    frame = survey(int(year), sample, scheme).frame
    by_id = dict(zip(frame["row_id"].astype(str), frame["weight"].to_numpy(), strict=True))
    return data.harmonized["row_id"].astype(str).map(by_id).fillna(0.0).astype(float)


def _groups(data, survey, by: str, mask: pd.Series) -> pd.Series:
    """Group labels from a publisher question (single choice) or a harmonised variable."""
    if by in data.harmonized.columns:
        return data.harmonized[by]
    qid = _resolve_qid(survey, by)
    if A.kind(survey, qid) != "single":
        raise CodebookError(f"{survey.year}: --by needs a single-choice question; {qid} is not")
    return A.single(survey, qid)


def frequencies(
    year: int,
    question: str,
    *,
    by: str | None = None,
    sample: str = "publisher",
    weights: str | None = None,
) -> pd.DataFrame:
    """Counts and shares of one publisher question (id case-insensitive), optionally by group.

    With ``weights`` (a scheme: ``reference``, ``unweighted`` or a targets file) the table
    gains ``pct_w`` (weighted percent), its 95% Korn-Graubard interval ``ci_low``/``ci_high`` on the
    effective sample size, and ``n_eff`` (``none`` and ``unweighted`` give unit weights).

    Question ids are the publisher's and are not stable across years (2022's Q6 is the OSPO
    question, 2023's Q6 is not), so the table carries the question's wording in
    ``attrs["question_text"]`` (the CLI prints it to stderr); ``ospo_survey.find_question``
    finds a question's id in every year.

    >>> f = frequencies(2024, "Q12")
    >>> f.set_index("option").loc["No", ["n", "base"]].tolist()
    [96, 222]
    >>> f.attrs["question_text"][:40]
    'Does your organization have an OSPO or s'
    """
    out = _frequencies(year, question, by=by, sample=sample, weights=weights)
    survey = year_data(int(year)).survey
    qid = _resolve_qid(survey, question)
    out.attrs["qid"] = qid
    out.attrs["question_text"] = str(survey.question(qid)["question"].iloc[0])
    return out


def _frequencies(
    year: int, question: str, *, by: str | None, sample: str, weights: str | None
) -> pd.DataFrame:
    if sample not in SAMPLES:
        raise CodebookError(f"unknown sample {sample!r}: use one of {', '.join(SAMPLES)}")
    data = year_data(int(year))
    survey = data.survey
    qid = _resolve_qid(survey, question)
    flags = data.harmonized
    mask = pd.Series(True, index=flags.index)
    if sample != "all":
        mask = flags[f"{sample}_sample"].astype(bool)
    w = _sample_weights(data, int(year), sample, weights) if weights else None
    if by is None:
        out = _table(survey, qid, mask)
        out.insert(0, "question", qid)
        out.insert(0, "year", int(year))
        out = out[FREQ_COLUMNS]
        if w is not None:
            out = out.merge(_weighted(survey, qid, mask, w, None), on=["row", "option"],
                            how="left", validate="one_to_one")
        return out
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
    out = out[["year", "question", "group", "row", "option", "n", "base", "pct"]]
    if w is not None:
        weighted = _weighted(survey, qid, mask, w, groups)
        out = out.merge(weighted, on=["group", "row", "option"], how="left",
                        validate="one_to_one")
    return out
