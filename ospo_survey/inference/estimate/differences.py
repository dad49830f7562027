"""The change of a share between two independent samples (e.g. one year to the next).

Why independent: the survey years are separate samples of different respondents, so the
variance of a difference is the sum of the two variances, with no covariance term.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EstimationError
from ospo_survey.inference import distributions as D
from ospo_survey.inference.estimate.inputs import WeightsArg
from ospo_survey.inference.estimate.shares import proportions


def difference(
    df_a: pd.DataFrame,
    df_b: pd.DataFrame,
    variable: str,
    level: Any,
    weights_a: WeightsArg = None,
    weights_b: WeightsArg = None,
    *,
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    **kwargs: Any,
) -> pd.DataFrame:
    """Change of one level's share from sample a to sample b (e.g. one year to the next).

    ``estimate = estimate_b - estimate_a``; the samples are independent, so
    ``se = sqrt(se_a^2 + se_b^2)``; Wald CI and two-sided normal p-value. Extra keyword
    arguments go to :func:`proportions` for both samples (``replicates`` is per sample, so pass
    ``se='linearized'`` or use ``replicates_a``/``replicates_b``).
    """
    rep_a = kwargs.pop("replicates_a", None)
    rep_b = kwargs.pop("replicates_b", None)
    fa = proportions(df_a, variable, weights=weights_a, by=by, replicates=rep_a, **kwargs)
    fb = proportions(df_b, variable, weights=weights_b, by=by, replicates=rep_b, **kwargs)
    fa = fa[fa["level"] == level]
    fb = fb[fb["level"] == level]
    if fa.empty or fb.empty:
        raise EstimationError(f"level {level!r} is not a level of {variable!r} in both samples")
    by_cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    keep = [*by_cols, "variable", "level", "estimate", "se", "n", "n_eff"]
    m = fa[keep].merge(fb[keep], on=[*by_cols, "variable", "level"], suffixes=("_a", "_b"))
    z = D.norm_ppf(1 - (1 - conf_level) / 2)
    m["estimate"] = m["estimate_b"] - m["estimate_a"]
    m["se"] = np.sqrt(m["se_a"] ** 2 + m["se_b"] ** 2)
    m["ci_low"] = m["estimate"] - z * m["se"]
    m["ci_high"] = m["estimate"] + z * m["se"]
    with np.errstate(divide="ignore", invalid="ignore"):
        m["z"] = m["estimate"] / m["se"]
    m["p_value"] = 2 * D.norm_sf(np.abs(m["z"]))
    order = [
        *by_cols,
        "variable",
        "level",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "z",
        "p_value",
        "estimate_a",
        "se_a",
        "n_a",
        "n_eff_a",
        "estimate_b",
        "se_b",
        "n_b",
        "n_eff_b",
    ]
    return m[order].reset_index(drop=True)
