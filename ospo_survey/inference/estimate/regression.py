"""Survey-weighted logistic regression (pseudo-likelihood) with sandwich standard errors.

Why sandwich: the weights are not frequency weights, so the model-based covariance of an
ordinary weighted fit is wrong; the score-based sandwich is R ``svyglm``'s with-replacement
covariance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import ModelError
from ospo_survey.inference import distributions as D
from ospo_survey.inference.estimate.inputs import WeightsArg, _column, _weights
from ospo_survey.inference.estimate.variance import stratified_variance


@dataclass
class LogisticFit:
    """A fitted survey-weighted logistic model: what predictions and delta-method SEs need."""

    beta: np.ndarray  # coefficients, one per design column
    cov: np.ndarray  # sandwich covariance of beta
    x: np.ndarray  # design matrix (rows of the model, zero-weight rows included)
    y: np.ndarray
    w: np.ndarray
    converged: bool
    influence: np.ndarray  # rows x coefficients: each row's influence on beta (A^-1 s_i)
    strata: np.ndarray | None = None  # each row's stratum (year), or None for one stratum
    sizes: Mapping[Any, int] | int | None = None  # each stratum's rows in the whole design
    srs_cov: np.ndarray | None = None  # covariance a simple random sample of n would give

    @property
    def deff(self) -> np.ndarray:
        """Design effect of each coefficient: its variance over a simple random sample's."""
        if self.srs_cov is None:
            return np.full(len(self.beta), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.diag(self.cov) / np.diag(self.srs_cov)

    def variance_of(self, u: np.ndarray) -> np.ndarray:
        """Covariance of statistics whose influence values per row are ``u`` (rows x k), in
        this model's design (its strata and their sizes): what a delta method adds the
        model's own influence to (:func:`ospo_survey.analysis.compare` adjusted shares)."""
        return stratified_variance(u, self.strata, self.sizes, full=True)

    @property
    def eta(self) -> np.ndarray:
        return self.x @ self.beta


def _newton_logistic(y: np.ndarray, x: np.ndarray, w: np.ndarray, *, tol: float = 1e-10,
                     max_iter: int = 60) -> tuple[np.ndarray, bool]:
    """Maximise the weighted Bernoulli log-likelihood by Newton-Raphson with step halving.

    The same estimator as statsmodels' GLM Binomial with ``var_weights`` (IRLS), in plain
    numpy: a page fits dozens of small models, and the GLM machinery cost more than the fits.
    Returns the coefficients and whether the steps converged (they do not under separation,
    where the maximum lies at infinity).
    """
    w = w / w.mean()
    beta = np.zeros(x.shape[1])

    def loglik(b: np.ndarray) -> float:
        eta = x @ b
        return float(w @ (y * eta - np.logaddexp(0.0, eta)))

    current = loglik(beta)
    for _ in range(max_iter):
        mu = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (w * (y - mu))
        hess = (x * (w * mu * (1 - mu))[:, None]).T @ x
        step = np.linalg.solve(hess, grad)
        for _ in range(30):  # halve the step until the likelihood does not fall
            trial = beta + step
            value = loglik(trial)
            if value >= current - 1e-12 * max(1.0, abs(current)):
                break
            step /= 2
        beta, current = trial, value
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return beta, True
    return beta, False


def logistic_fit(y: np.ndarray, x: np.ndarray, w: np.ndarray, *,
                 strata: np.ndarray | None = None,
                 sizes: Mapping[Any, int] | int | None = None) -> LogisticFit:
    """Pseudo-likelihood fit of a 0/1 outcome on a ready design matrix, with sandwich covariance.

    Point estimates: the survey-weighted maximum likelihood (:func:`_newton_logistic`, the
    estimate of statsmodels' GLM Binomial with the weights as variance weights; rows of weight
    0 left out of the fit). Covariance: ``A^-1 B A^-1`` with
    ``B = n/(n-1) sum (s_i - mean s)(s_i - mean s)'`` over the scores
    ``s_i = w_i x_i (y_i - mu_i)``, i.e. R ``svyglm`` for a with-replacement design, with
    ``strata`` (pooled years are independent samples: ``svydesign(..., strata=~year)``) and
    ``sizes`` each stratum's rows in the whole design (rows left out of the model count as
    zeros, as R's ``subset`` keeps them). A singular information matrix raises
    :class:`ModelError` (one line), never ``LinAlgError``.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    keep = w > 0
    try:
        with np.errstate(over="ignore"):
            beta, converged = _newton_logistic(y[keep], x[keep], w[keep])
            mu = 1 / (1 + np.exp(-(x @ beta)))
        a = (x * (w * mu * (1 - mu))[:, None]).T @ x
        scores = x * (w * (y - mu))[:, None]
        zz = scores @ np.linalg.inv(a)
    except np.linalg.LinAlgError as exc:
        raise ModelError(
            f"the logistic model cannot be fitted ({exc}): a model term has no variation "
            "among the respondents; drop or merge sparse levels"
        ) from None
    cov = stratified_variance(zz, strata, sizes, full=True)
    # a simple random sample of the same n: the unweighted information, n (X'VX) / sum w
    n = int(np.count_nonzero(keep))
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            srs = np.linalg.inv(a * (n / w[keep].sum()))
        except np.linalg.LinAlgError:
            srs = None
    return LogisticFit(beta, cov, x, y, w, bool(converged), zz, strata, sizes, srs)


def logistic(
    df: pd.DataFrame,
    formula: str,
    weights: WeightsArg = None,
    *,
    level: float = 0.95,
    strata: str | None = None,
    design_sizes: Mapping[Any, int] | int | None = None,
) -> pd.DataFrame:
    """Survey-weighted logistic regression (pseudo-likelihood) with sandwich SEs.

    The fit is :func:`logistic_fit` on the formula's design (``strata`` a column of ``df``,
    ``design_sizes`` each stratum's rows in the whole design). Rows with a missing model
    variable are dropped. Tests and intervals use the normal distribution; ``deff`` is each
    coefficient's design effect.
    """
    w_all = _weights(df, weights)
    data = df.copy()
    lhs = formula.split("~", 1)[0].strip()
    if lhs in data.columns and pd.api.types.is_bool_dtype(data[lhs].dtype):
        data[lhs] = data[lhs].astype("float64")
    if lhs in data.columns and not pd.api.types.is_numeric_dtype(data[lhs].dtype):
        levels = pd.Series(data[lhs].dropna().unique()).astype(str).tolist()[:6]
        raise ModelError(
            f"the outcome {lhs!r} is categorical (levels: {', '.join(levels)}): model one level"
            f" as a 0/1 column, or use ospo_survey.survey().logistic(\"{lhs} == 'level' ~ ...\")"
        )
    endog, exog = _matrices(formula, data)
    pos = data.index.get_indexer(endog.index)
    if np.any(pos < 0) or not data.index.is_unique:
        raise ModelError(
            "could not align the model's rows with the data (a duplicate index?): reset the"
            " index first"
        )
    y = endog.to_numpy(dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    x = exog.to_numpy(dtype=np.float64)
    names = [str(c) for c in exog.columns]
    _check_design(names, x, w_all[pos], formula)
    if y.ndim != 1 or not np.all((y == 0) | (y == 1)):
        raise ModelError(f"the outcome {lhs!r} must be 0/1 or boolean: model one level as 0/1")
    st = None if strata is None else _column(df, strata, "strata column").to_numpy()[pos]
    fit = logistic_fit(y, x, w_all[pos], strata=st, sizes=design_sizes)
    beta = fit.beta
    se = np.sqrt(np.diag(fit.cov))
    zval = beta / se
    crit = D.norm_ppf(1 - (1 - level) / 2)
    return pd.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "se": se,
            "z": zval,
            "p": 2 * D.norm_sf(np.abs(zval)),
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
            "deff": fit.deff,
        }
    )


def _matrices(formula: str, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outcome and design matrices of ``formula`` (patsy, as statsmodels' formula API
    builds them: text columns as objects, rows with a missing model variable dropped), their
    index the rows kept. patsy alone: statsmodels' import cost seconds per page."""
    import patsy

    text = [c for c in data.columns if isinstance(data[c].dtype, pd.StringDtype)]
    if text:
        data = data.astype({c: object for c in text})
    return patsy.dmatrices(formula, data, eval_env=2, return_type="dataframe",
                           NA_action=patsy.NAAction(on_NA="drop", NA_types=["None", "NaN"]))


def _check_design(names: list[str], x: np.ndarray, w: np.ndarray, formula: str) -> None:
    """One line instead of a singular-matrix error: an empty level, or collinear terms."""
    keep = w > 0
    empty = [t for t, used in zip(names, np.any(x[keep] != 0, axis=0), strict=True) if not used]
    if empty:
        raise ModelError(
            f"term(s) {', '.join(empty)} have no respondents among the {int(keep.sum())} modelled"
            " rows (an empty level): drop the level (remove_unused_categories) or the variable"
        )
    if np.linalg.matrix_rank(x[keep]) < x.shape[1]:
        raise ModelError(
            f"the terms of {formula!r} are collinear among the modelled rows (a level or"
            " variable is implied by the others): leave one out"
        )
