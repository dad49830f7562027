"""Survey weights: raking (IPF), post-stratification, trimming, sparse levels, diagnostics.

Why a cell table: respondents who agree on every weighting variable always receive the same
adjustment factor, so iterative proportional fitting runs on the small table of occupied joint
cells (a few thousand at most) and never loops over respondents. Rows are touched only to
factorise the variables, to count cells (``np.bincount``) and to map the cell factors back.

Why targets as data: the population shares are a methodological decision that must be reviewed,
versioned and cited, so they live in YAML files (``ospo_survey/targets/``) rather than in code.

The modules, in the order a weighting runs: :mod:`.labels` (target keys and shares),
:mod:`.coding` (variables as codes, respondents as cells), :mod:`.collapse` (sparse levels),
:mod:`.raking` (the prepared problem and IPF), :mod:`.trimming`, :mod:`.diagnostics`,
:mod:`.options` (``RakeOptions``, what every entry point takes), :mod:`.api` (the entry
points) and :mod:`.targets` (targets files).
"""

# The `X as X` names are not in __all__ but stay importable, as they were from the one module.
from ospo_survey.inference.weights.api import diagnose, poststratify, rake, weight
from ospo_survey.inference.weights.coding import MISSING_LEVEL
from ospo_survey.inference.weights.coding import MissingPolicy as MissingPolicy
from ospo_survey.inference.weights.coding import RowCells as RowCells
from ospo_survey.inference.weights.collapse import CollapseRule as CollapseRule
from ospo_survey.inference.weights.diagnostics import QUANTILES as QUANTILES
from ospo_survey.inference.weights.diagnostics import (
    Collapse,
    CollapseWarning,
    ConvergenceWarning,
    Diagnostics,
    WeightingResult,
    WeightingWarning,
)
from ospo_survey.inference.weights.labels import SHARE_TOL as SHARE_TOL
from ospo_survey.inference.weights.options import RakeOptions
from ospo_survey.inference.weights.raking import EmptyLevelError, Raker  # from core.errors
from ospo_survey.inference.weights.targets import TARGETS_DIR as TARGETS_DIR
from ospo_survey.inference.weights.targets import (
    PooledShares,
    derive_reference_targets,
    load_targets,
    pooled_span,
    write_targets,
)

__all__ = [
    "MISSING_LEVEL",
    "PooledShares",
    "Collapse",
    "CollapseWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "EmptyLevelError",
    "RakeOptions",
    "Raker",
    "WeightingResult",
    "WeightingWarning",
    "derive_reference_targets",
    "diagnose",
    "load_targets",
    "pooled_span",
    "poststratify",
    "rake",
    "weight",
    "write_targets",
]
