"""Design-based estimates with tidy, fixed-column outputs (srvyr style).

Why these formulas: the OSPO survey is a single-stage, unstratified sample of respondents each
year, weighted by raking; the years are independent samples. The default variance is R
``survey``'s with-replacement linearisation of ``svydesign(ids=~1, strata=~year, weights=~w)``
(:mod:`.variance`), so a standard error here is R's number, and the default interval for a
share is Korn-Graubard's (R ``svyciprop(method="beta")``), the one the NCHS presentation
standard behind the suppression rule uses. The reference targets are derived from the pooled
sample, so they are not known population totals and the weights are treated as fixed
(no calibration residuals); calibration stays available for targets that *are* known totals
(``margins=``). ``kish_floor=True`` is a named opt-in that keeps an estimate's effective n at
or below its base's Kish effective n (not R's number).

Every estimation function returns ``[group columns...], variable, level, estimate, se, ci_low,
ci_high, n, n_eff, deff, suppressed`` (plus ``count``): ``n`` is the unweighted base,
``n_eff = n / deff`` the estimate's effective sample size, and ``suppressed`` flags
``n_eff < min_n_eff`` (NCHS-style presentation standard).

The modules: :mod:`.inputs` (weights, groups, calibration), :mod:`.intervals`,
:mod:`.shares` (proportions), :mod:`.variance` (R's linearisation), :mod:`.differences`,
:mod:`.independence` (Rao-Scott),
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
from ospo_survey.inference.estimate.variance import stratified_variance

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
    "stratified_variance",
    "replicate_weights",
    "suppress",
]
