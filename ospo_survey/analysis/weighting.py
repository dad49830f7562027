"""How much the weighting moves a headline: each level's weighted share beside its unweighted
share, per year.

Why: the reference weights barely move most estimates (Kish design effects of 1.0-1.14), and
a reader should see that rather than take the weighting on trust; pages say it with this
frame instead of recomputing shares.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.analysis.design import survey
from ospo_survey.ingest.settings import available_years

HEADLINE = "has_ospo"  # the headline every year asks
EFFECT_COLUMNS = ["year", "variable", "level", "n", "count", "unweighted", "weighted",
                  "effect", "targets"]


def weighting_effect(
    years: int | Iterable[int] | None = None,
    variable: str = HEADLINE,
    *,
    sample: str = policy.DEFAULTS["sample"],
    weights: str = policy.DEFAULTS["weights"],
) -> pd.DataFrame:
    """Each level of ``variable``: its unweighted share (respondents as they came), its
    weighted share (the design's weights) and ``effect`` = weighted - unweighted (shares on
    the 0-1 scale), per year; ``targets`` says which targets the weights
    reach. Shares follow :meth:`Survey.proportion` (unknown answers outside the base; a level
    that could not be chosen is missing), never suppressed: the point is the comparison.

    >>> e = weighting_effect(2024)
    >>> e.loc[e["level"] == "has", ["year", "n", "count"]].to_numpy().tolist()
    [[2024, 222, 100]]
    """
    ys = available_years() if years is None else years
    weighted_design = survey(ys, sample, weights)
    w = weighted_design.proportion(variable, suppress=False)
    u = survey(ys, sample, "unweighted").proportion(variable, suppress=False)
    keys = ["year", "variable", "level"]
    out = u[[*keys, "n", "count", "estimate"]].rename(columns={"estimate": "unweighted"}).merge(
        w[[*keys, "estimate"]].rename(columns={"estimate": "weighted"}), on=keys, how="left")
    out["effect"] = out["weighted"] - out["unweighted"]
    out["targets"] = out["year"].map(
        {y: i.targets_sentence for y, i in weighted_design.weight_info.items()})
    return out[EFFECT_COLUMNS].reset_index(drop=True)
