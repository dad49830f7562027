"""Oracle: our weights and estimates against the ``svy`` package (validated against R survey).

Each comparison runs on every :class:`OracleCase` in :data:`CASES`: synthetic designs (unit
tests) and the real 2022-2024 harmonised samples raked to the reference targets (``data``
tests, loaded when a test first asks for them). Another case is added by appending a
``pytest.param`` of a function that builds an ``OracleCase`` from a DataFrame (marked ``data``
if it reads the survey); nothing else needs to change.

Tolerances, and why:

* raking / post-stratification weights: 1e-6 absolute on mean-1 weights (both sides run IPF to
  1e-10, so the two fixed points agree far better than that);
* point estimates and linearised SEs (plain, domain, with missing answers, calibrated after
  raking, also from unequal start weights): 1e-8 relative — same formulas;
* replicate SEs: svy scales the bootstrap variance by 1/R, we by 1/(R-1) (R ``survey``'s
  convention), so ours * sqrt((R-1)/R) must equal svy's to 1e-8 relative;
* confidence intervals: 2e-3 absolute. svy uses t quantiles with n_domain - 1 df and the
  effective sample size p(1-p)/se^2; we use normal quantiles and n/deff (which is
  n/(n-1) times larger, so that equal weights give the textbook intervals). Both shrink as n
  grows; the tolerance covers n >= 200;
* Rao-Scott F statistic, its df and p-value: 1e-8 relative (R ``svychisq(statistic="F")``);
  svy's first-order chi-square reports the uncorrected Pearson value with the corrected
  p-value, which we compare to our ``chi2`` and ``p_rs``. Compared on complete cases: svy
  drops rows missing a table variable from the design, R (and we) keep them out of domain;
* logistic coefficients 1e-6 and sandwich SEs 1e-6 relative (R ``svyglm``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial

import numpy as np
import pandas as pd
import polars as pl
import pytest
import svy  # a locked test dependency: its absence is an error, never a skip

from ospo_survey.inference.estimate import logistic, proportions, rao_scott
from ospo_survey.inference.weights import poststratify, rake

CI_TOL = 2e-3


@dataclass
class OracleCase:
    """One dataset plus what to compare on it (column names refer to ``data``)."""

    name: str
    data: pd.DataFrame
    margins: dict[str, dict]
    outcome: str  # single-choice categorical for proportions
    domain: str  # grouping variable for domain estimates
    table: tuple[str, str]  # two-way table for Rao-Scott
    logit_y: str  # 0/1 outcome
    logit_numeric: list[str] = field(default_factory=list)
    logit_categorical: list[str] = field(default_factory=list)
    start: str | None = None  # column with pre-raking weights, if any


@cache
def _synthetic(seed: int, n: int, with_start: bool) -> OracleCase:
    rng = np.random.default_rng(seed)
    size = rng.choice(["s", "m", "l", "xl"], n, p=[0.45, 0.3, 0.15, 0.1])
    region = rng.choice(["eu", "na", "asia"], n, p=[0.5, 0.35, 0.15])
    sector = rng.choice(["tech", "finance", "public", "other"], n, p=[0.5, 0.2, 0.1, 0.2])
    x = rng.normal(size=n)
    eta = -0.5 + 0.8 * x + np.select([size == "l", size == "xl"], [0.7, 1.2], 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    motive = rng.choice(["cost", "talent", "innovation", "compliance"], n)
    motive = np.where(rng.random(n) < 0.06, None, motive)  # unanswered
    data = pd.DataFrame(
        {
            "size": size,
            "region": region,
            "sector": sector,
            "x": x,
            "has_ospo": y,
            "motive": motive,
        }
    )
    if with_start:
        data["base_w"] = rng.uniform(0.5, 2.0, n)
    margins = {
        "size": {"s": 0.3, "m": 0.3, "l": 0.2, "xl": 0.2},
        "region": {"eu": 0.4, "na": 0.4, "asia": 0.2},
        "sector": {"tech": 0.4, "finance": 0.2, "public": 0.2, "other": 0.2},
    }
    return OracleCase(
        name=f"synthetic-{seed}-{n}{'-start' if with_start else ''}",
        data=data,
        margins=margins,
        outcome="motive",
        domain="region",
        table=("size", "motive"),
        logit_y="has_ospo",
        logit_numeric=["x"],
        logit_categorical=["size"],
        start="base_w" if with_start else None,
    )


@cache
def _real(year: int) -> OracleCase:
    """The harmonised screened sample of one year, raked to the reference composition."""
    from ospo_survey.inference import schemes
    yw = schemes.year_weights(year)
    frame = schemes.load_harmonized([year], sample="harmonized")
    data = yw.frame.drop(columns="row_id").astype(str).reset_index(drop=True)
    data["status"] = frame["ospo_status"].astype(object).to_numpy()
    data["has"] = (frame["has_ospo"] == "has").astype(np.int64).to_numpy()
    # a 0/1 covariate: the tiny "(missing)" size cell would separate the logit in 2024
    data["large"] = data["org_size"].isin(["1,001-10,000", "over 10,000"]).astype(np.int64)
    return OracleCase(
        name=f"real-{year}",
        data=data,
        margins=yw.margins,
        outcome="status",
        domain="org_size",
        table=("org_size", "has"),
        logit_y="has",
        logit_numeric=["large"],
    )


def oracle_cases() -> list:
    """Synthetic designs plus the real 2022-2024 harmonised samples (``data``), each as a
    ``pytest.param`` of the function that builds it: nothing is read while collecting."""
    synthetic = [(11, 1500, False), (12, 800, True)]
    return [
        *(pytest.param(partial(_synthetic, *args), id=f"synthetic-{args[0]}-{args[1]}"
                       f"{'-start' if args[2] else ''}") for args in synthetic),
        *(pytest.param(partial(_real, year), id=f"real-{year}", marks=pytest.mark.data)
          for year in (2022, 2023, 2024)),
    ]


CASES = oracle_cases()


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> OracleCase:
    build: Callable[[], OracleCase] = request.param
    return build()


# -- helpers -----------------------------------------------------------------------------------


def _start(case: OracleCase) -> np.ndarray:
    if case.start is None:
        return np.ones(len(case.data))
    return case.data[case.start].to_numpy(dtype=float)


def _svy_sample(data: pd.DataFrame, weights: np.ndarray, **design) -> svy.Sample:
    frame = pl.from_pandas(data.assign(_w=weights).reset_index(drop=True))
    return svy.Sample(frame, svy.Design(wgt="_w", **design))


def _svy_raked(case: OracleCase) -> tuple[svy.Sample, np.ndarray]:
    sample = _svy_sample(case.data, _start(case))
    raked = sample.weighting.rake(shares=case.margins, tol=1e-10, max_iter=1000)
    w = raked.data[raked.design.wgt].to_numpy()
    return raked, w


def _svy_prop(sample: svy.Sample, y: str, **kw) -> pd.DataFrame:
    return sample.estimation.prop(y, drop_nulls=True, **kw).to_polars().to_pandas()


# -- weights -----------------------------------------------------------------------------------


def test_rake_weights_match(case: OracleCase) -> None:
    ours = rake(case.data, case.margins, start=_start(case), tol=1e-10, max_iter=1000)
    _, theirs = _svy_raked(case)
    np.testing.assert_allclose(ours.to_numpy(), theirs / theirs.mean(), rtol=0, atol=1e-6)


def test_poststratify_weights_match(case: OracleCase) -> None:
    a, b = case.table[0], case.domain
    cells = case.data.groupby([a, b]).size()
    shares = pd.Series(np.random.default_rng(0).dirichlet(np.ones(len(cells))), index=cells.index)
    ours = poststratify(case.data, shares, start=_start(case))
    sample = _svy_sample(case.data, _start(case))
    ps = sample.weighting.poststratify(
        shares={tuple(k): float(v) for k, v in shares.items()}, cells=[a, b]
    )
    theirs = ps.data[ps.design.wgt].to_numpy()
    np.testing.assert_allclose(ours.to_numpy(), theirs / theirs.mean(), rtol=0, atol=1e-6)


# -- proportions -------------------------------------------------------------------------------


def _merge(ours: pd.DataFrame, theirs: pd.DataFrame, y: str, by: str | None) -> pd.DataFrame:
    theirs = theirs.rename(columns={y: "level"})
    theirs["level"] = theirs["level"].astype(str)
    ours = ours.assign(level=ours["level"].astype(str))
    keys = ["level"] if by is None else [by, "level"]
    merged = ours.merge(theirs, on=keys, how="inner")
    assert len(merged) == len(ours) == len(theirs)
    return merged


@pytest.mark.parametrize("by", [None, "domain"])
def test_weighted_proportions_and_se(case: OracleCase, by: str | None) -> None:
    group = None if by is None else case.domain
    w = np.random.default_rng(5).lognormal(0, 0.6, len(case.data))
    ours = proportions(case.data, case.outcome, weights=w, by=group, kish_floor=False)
    theirs = _svy_prop(_svy_sample(case.data, w), case.outcome, by=group)
    m = _merge(ours, theirs, case.outcome, group)
    np.testing.assert_allclose(m["estimate"], m["est"], rtol=1e-10)
    np.testing.assert_allclose(m["se_x"], m["se_y"], rtol=1e-8)


@pytest.mark.parametrize(
    ("ours_ci", "svy_ci"), [("wilson", "wilson"), ("beta", "beta"), ("logit", "logit")]
)
def test_confidence_intervals(case: OracleCase, ours_ci: str, svy_ci: str) -> None:
    w = np.random.default_rng(6).lognormal(0, 0.6, len(case.data))
    ours = proportions(case.data, case.outcome, weights=w, ci=ours_ci, kish_floor=False)
    theirs = _svy_prop(_svy_sample(case.data, w), case.outcome, ci_method=svy_ci)
    m = _merge(ours, theirs, case.outcome, None)
    np.testing.assert_allclose(m["ci_low"], m["lci"], atol=CI_TOL)
    np.testing.assert_allclose(m["ci_high"], m["uci"], atol=CI_TOL)


def test_calibrated_se_after_raking(case: OracleCase) -> None:
    raked, w = _svy_raked(case)
    theirs = _svy_prop(raked, case.outcome)
    # svy (like R's rake()) residualises on the margins with unweighted least squares, which
    # is our default; calibration_weights= would switch to R calibrate()'s GREG residuals.
    ours = proportions(case.data, case.outcome, weights=w, margins=case.margins)
    m = _merge(ours, theirs, case.outcome, None)
    np.testing.assert_allclose(m["estimate"], m["est"], rtol=1e-10)
    np.testing.assert_allclose(m["se_x"], m["se_y"], rtol=1e-8)


def test_replicate_se_formula(case: OracleCase) -> None:
    from ospo_survey.inference.estimate import replicate_weights

    n_rep = 40
    w = rake(case.data, case.margins, start=_start(case), tol=1e-10, max_iter=1000).to_numpy()
    reps = replicate_weights(
        case.data,
        case.margins,
        n_rep=n_rep,
        seed=1,
        start=_start(case),
        tol=1e-10,
        max_iter=1000,
    )
    ours = proportions(case.data, case.outcome, weights=w, se="replicate", replicates=reps)
    frame = case.data.assign(**{f"rw{i + 1}": reps[:, i] for i in range(n_rep)})
    sample = _svy_sample(frame, w, rep_wgts=svy.BootstrapWgts(prefix="rw", n_reps=n_rep))
    theirs = _svy_prop(sample, case.outcome, method="replication")
    m = _merge(ours, theirs, case.outcome, None)
    np.testing.assert_allclose(m["estimate"], m["est"], rtol=1e-10)
    np.testing.assert_allclose(m["se_x"] * np.sqrt((n_rep - 1) / n_rep), m["se_y"], rtol=1e-8)


# -- Rao-Scott ---------------------------------------------------------------------------------


def test_rao_scott_matches(case: OracleCase) -> None:
    row, col = case.table
    # svy drops rows missing either variable from the design before the test; R's svychisq
    # (which we follow) keeps them as out-of-domain rows. On complete cases the two agree.
    data = case.data.dropna(subset=[row, col])
    w = np.random.default_rng(7).lognormal(0, 0.6, len(data))
    ours = rao_scott(data, row, col, w)
    stats = _svy_sample(data, w).categorical.tabulate(row, col).stats
    assert ours["F"] == pytest.approx(stats.f.value, rel=1e-8)
    assert ours["ndf"] == pytest.approx(stats.f.df_num, rel=1e-8)
    assert ours["ddf"] == pytest.approx(stats.f.df_den, rel=1e-8)
    assert ours["p_F"] == pytest.approx(stats.f.p_value, rel=1e-6)
    assert ours["chi2"] == pytest.approx(stats.chisq.value, rel=1e-8)
    assert ours["p_rs"] == pytest.approx(stats.chisq.p_value, rel=1e-6)


# -- logistic ----------------------------------------------------------------------------------


def test_logistic_matches(case: OracleCase) -> None:
    w = np.random.default_rng(8).lognormal(0, 0.6, len(case.data))
    terms = [*case.logit_numeric, *(f"C({c})" for c in case.logit_categorical)]
    ours = logistic(case.data, f"{case.logit_y} ~ {' + '.join(terms)}", w)
    features = [*case.logit_numeric]
    for c in case.logit_categorical:
        features.append(svy.Cat(c, ref=sorted(case.data[c].dropna().unique())[0]))
    fit = _svy_sample(case.data, w).glm.fit(y=case.logit_y, x=features, family="binomial")
    theirs = fit.to_polars().to_pandas()
    assert len(ours) == len(theirs)
    by_name = dict(
        zip(theirs["term"], zip(theirs["estimate"], theirs["std_err"], strict=True), strict=True)
    )
    for term, est, se in zip(ours["term"], ours["estimate"], ours["se"], strict=True):
        key = _svy_term(term)
        assert key in by_name, (term, list(by_name))
        assert est == pytest.approx(by_name[key][0], rel=1e-6, abs=1e-8)
        assert se == pytest.approx(by_name[key][1], rel=1e-6)


def _svy_term(term: str) -> str:
    """Map a formula term name (``C(size)[T.l]``) to svy's (``size_l``)."""
    if term == "Intercept":
        return "_intercept_"
    if term.startswith("C(") and "[T." in term:
        var = term[2 : term.index(")")]
        level = term[term.index("[T.") + 3 : -1]
        return f"{var}_{level}"
    return term
