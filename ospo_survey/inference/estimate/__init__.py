"""Design-based estimates with tidy, fixed-column outputs (srvyr style).

Why these formulas: the OSPO survey is a single-stage, unstratified sample of respondents whose
weights come from raking, so the with-replacement linearisation (optionally with calibration
residuals on the raking margins) and the Rao-Wu bootstrap with re-raked replicates are the
standard variance estimators. They match R's ``survey`` for ``svydesign(ids=~1, weights=~w)``
(and ``calibrate``d designs), which the oracle tests check against the ``svy`` package.

Default variance, and why: the weights are treated as fixed (plain with-replacement
linearisation, R ``svydesign(ids=~1, weights=~w)``) and the effective n of an estimate is never
credited above the Kish effective n of its base, ``(sum w)^2 / sum w^2 <= n``. The reference
targets are derived from the pooled sample itself, so they are not known population totals:
calibration residuals would treat them as such and shrink the variance below simple random
sampling (a share could be credited with more effective respondents than it has).
Calibration stays available for targets that *are* known totals: pass ``margins=`` (then no
Kish floor applies unless ``kish_floor=True``).

Every estimation function returns ``[group columns...], variable, level, estimate, se, ci_low,
ci_high, n, n_eff, deff, suppressed`` (plus ``count``): ``n`` is the unweighted base,
``n_eff = n / deff`` the estimate's effective sample size, and ``suppressed`` flags
``n_eff < min_n_eff`` (NCHS-style presentation standard).

The modules: :mod:`.inputs` (weights, groups, calibration), :mod:`.intervals`,
:mod:`.shares` (proportions), :mod:`.differences`, :mod:`.independence` (Rao-Scott),
:mod:`.regression` (logistic) and :mod:`.replicates` (bootstrap replicate weights).
"""

# The `X as X` names are not in __all__ but stay importable, as they were from the one module.
from ospo_survey.inference.estimate.differences import difference
from ospo_survey.inference.estimate.independence import rao_scott
from ospo_survey.inference.estimate.inputs import WeightsArg as WeightsArg
from ospo_survey.inference.estimate.inputs import calibration_matrix
from ospo_survey.inference.estimate.intervals import CIMethod as CIMethod
from ospo_survey.inference.estimate.intervals import ci_proportion
from ospo_survey.inference.estimate.regression import LogisticFit, logistic, logistic_fit
from ospo_survey.inference.estimate.replicates import replicate_weights
from ospo_survey.inference.estimate.shares import (
    OUTPUT_COLUMNS,
    multi_proportions,
    proportions,
    suppress,
)
from ospo_survey.inference.estimate.shares import SEMethod as SEMethod

__all__ = [
    "OUTPUT_COLUMNS",
    "calibration_matrix",
    "ci_proportion",
    "difference",
    "LogisticFit",
    "logistic",
    "logistic_fit",
    "multi_proportions",
    "proportions",
    "rao_scott",
    "replicate_weights",
    "suppress",
]
