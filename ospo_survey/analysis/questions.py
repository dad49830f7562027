"""Every closed question of a year, estimated the way the page weights things (no HTML).

The topical sections chart only the questions ``reports.yaml`` picks; the "All questions"
appendix shows the rest of the questionnaire too, so each single, multiple and matrix question
of a year appears on its page with its wording and id. One tidy frame per question:
``row`` (the matrix row label; empty otherwise), ``level`` (the answer label, in the data's own
words), ``estimate, ci_low, ci_high, n, n_eff, suppressed`` with the package's suppression rule
(:func:`ospo_survey.inference.estimate.suppress`) applied, so suppressed cells carry no value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ospo_survey.analysis.common import config, question_shares
from ospo_survey.inference import estimate as E
from ospo_survey.ingest import answers as A

if TYPE_CHECKING:
    from ospo_survey.analysis.year import YearAnalysis
    from ospo_survey.ingest.read import RawSurvey

CLOSED_KINDS = ("single", "multiple", "matrix")
COLUMNS = ["row", "level", "estimate", "ci_low", "ci_high", "n", "n_eff", "suppressed"]


@dataclass(frozen=True)
class QuestionEstimates:
    """One closed question of a year: its id, wording as asked, kind and estimates."""

    qid: str
    question: str
    kind: str
    frame: pd.DataFrame  # COLUMNS, one row per (matrix row and) answer level
    section: str = ""  # the topical section that also charts it ('' when none does)

    @property
    def answered(self) -> int:
        """The largest base: respondents answering (for a matrix, its most-answered row)."""
        return int(self.frame["n"].max()) if not self.frame.empty else 0

    @property
    def fewest(self) -> int:
        """The smallest base (differs from ``answered`` only for a matrix with skipped rows)."""
        return int(self.frame["n"].min()) if not self.frame.empty else 0


def closed_questions(survey: RawSurvey) -> pd.DataFrame:
    """qid, question, kind of a survey's single, multiple and matrix questions, in file order."""
    q = survey.questions
    q = q[q["kind"].isin(CLOSED_KINDS) & (q["qid"].astype(str) != "")]
    q = q.drop_duplicates("qid")[["qid", "question"]].reset_index(drop=True)
    q["kind"] = [A.kind(survey, qid) for qid in q["qid"]]
    return q


def charted_sections(ya: YearAnalysis) -> dict[str, str]:
    """qid -> the topical section (``reports.yaml`` key) whose chart shows that question."""
    out: dict[str, str] = {}
    for key, spec in config()["sections"].items():
        for topic in spec["topics"]:
            if "harmonized" in config()["topics"][topic]:
                continue
            got = ya.topic(topic)
            if got is not None:
                out.setdefault(str(got[1]["qid"]), key)
    return out


def _estimates(ya: YearAnalysis, qid: str, kind: str) -> pd.DataFrame:
    """Shares of every answer of one question (not yet suppressed), ``COLUMNS`` order."""
    est = question_shares(ya.yd.survey, qid, kind, ya.frame["_w"],
                          weighted=ya.wcol is not None, min_n_eff=ya.min_n_eff)
    est["level"] = est["level"].astype(str)
    return est[COLUMNS]


def all_questions(ya: YearAnalysis) -> list[QuestionEstimates]:
    """Every closed question of the year with its estimates, in questionnaire order.

    The suppression rule runs once over all questions (the same rule, one pass: it is the
    slowest step when applied question by question)."""
    charted = charted_sections(ya)
    closed = closed_questions(ya.yd.survey)
    if closed.empty:
        return []
    frames = [_estimates(ya, str(qid), str(kind))
              for qid, _, kind in closed.itertuples(index=False)]
    sizes = [len(f) for f in frames]
    every = E.suppress(pd.concat(frames, ignore_index=True), ya.min_n_eff)
    out, start = [], 0
    for (qid, text, kind), size in zip(closed.itertuples(index=False), sizes, strict=True):
        frame = every.iloc[start:start + size].reset_index(drop=True)
        start += size
        out.append(QuestionEstimates(str(qid), " ".join(str(text).split()), str(kind), frame,
                                     charted.get(str(qid), "")))
    return out
