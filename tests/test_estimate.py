"""Estimates, intervals, variance (linearised, calibrated, bootstrap), Rao-Scott and logistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from ospo_survey.core.errors import EstimationError, OspoSurveyError, UnknownVariableError
from ospo_survey.inference.estimate import (
    OUTPUT_COLUMNS,
    ci_proportion,
    difference,
    logistic,
    multi_proportions,
    proportions,
    rao_scott,
    replicate_weights,
    suppress,
)
from ospo_survey.inference.weights import rake

Z = stats.norm.ppf(0.975)


def textbook_wilson(x: int, n: int, z: float = Z) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture
def survey() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 4000
    size = rng.choice(["small", "medium", "large"], n, p=[0.6, 0.3, 0.1])
    region = rng.choice(["eu", "na", "asia"], n, p=[0.5, 0.3, 0.2])
    p_ospo = np.select([size == "small", size == "medium"], [0.2, 0.4], 0.7)
    has_ospo = (rng.random(n) < p_ospo).astype(int)
    licence = rng.choice(["MIT", "Apache-2.0", "GPL", "Other"], n, p=[0.4, 0.3, 0.2, 0.1])
    licence = np.where(rng.random(n) < 0.05, None, licence)
    return pd.DataFrame(
        {
            "size": pd.Categorical(size, categories=["small", "medium", "large"], ordered=True),
            "region": region,
            "has_ospo": has_ospo,
            "licence": pd.Categorical(licence, categories=["MIT", "Apache-2.0", "GPL", "Other"]),
            "x": rng.normal(size=n),
        }
    )


MARGINS = {
    "size": {"small": 1 / 3, "medium": 1 / 3, "large": 1 / 3},
    "region": {"eu": 0.4, "na": 0.4, "asia": 0.2},
}


# -- output shape ------------------------------------------------------------------------------


def test_columns_and_levels(survey: pd.DataFrame) -> None:
    survey["licence"] = survey["licence"].cat.add_categories(["Unused"])
    out = proportions(survey, "licence", by="size")
    assert list(out.columns) == ["size", *OUTPUT_COLUMNS]
    assert out["size"].unique().tolist() == ["small", "medium", "large"]
    assert out["level"].unique().tolist() == ["MIT", "Apache-2.0", "GPL", "Other", "Unused"]
    unused = out[out.level == "Unused"]
    assert (unused["estimate"] == 0).all() and (unused["count"] == 0).all()
    sums = out.groupby("size", observed=True)["estimate"].sum()
    assert np.allclose(sums, 1.0)
    base = survey.dropna(subset=["licence"]).groupby("size", observed=True).size()
    assert out.groupby("size", observed=True)["n"].first().tolist() == base.tolist()
    assert out["estimate"].between(0, 1).all()


# -- intervals on hand examples ----------------------------------------------------------------


def test_equal_weights_give_textbook_wilson() -> None:
    df = pd.DataFrame({"y": ["a"] * 37 + ["b"] * 63})
    row = proportions(df, "y", ci="wilson").set_index("level").loc["a"]
    lo, hi = textbook_wilson(37, 100)
    assert row["estimate"] == 0.37
    assert row["ci_low"] == pytest.approx(lo, abs=1e-12)
    assert row["ci_high"] == pytest.approx(hi, abs=1e-12)
    assert row["deff"] == pytest.approx(1.0) and row["n_eff"] == pytest.approx(100)


def test_default_interval_is_korn_graubard_on_rs_effective_n() -> None:
    # equal weights: the linearised variance is p(1-p)/(n-1), so R's svyciprop(method="beta")
    # is Clopper-Pearson with an effective n of n - 1 = 59 and x = 59 p
    df = pd.DataFrame({"y": ["a"] * 7 + ["b"] * 53})
    row = proportions(df, "y").set_index("level").loc["a"]
    m, x = 59.0, 7 / 60 * 59.0
    assert row["ci_low"] == pytest.approx(stats.beta.ppf(0.025, x, m - x + 1), abs=1e-10)
    assert row["ci_high"] == pytest.approx(stats.beta.ppf(0.975, x + 1, m - x), abs=1e-10)


def test_boundary_proportions() -> None:
    df = pd.DataFrame({"y": pd.Categorical(["a"] * 50, categories=["a", "b"])})
    for method in ("wilson", "beta", "logit", "wald"):
        out = proportions(df, "y", ci=method).set_index("level")
        assert out.loc["a", "estimate"] == 1 and out.loc["b", "estimate"] == 0
        assert out.loc["b", "ci_low"] == 0 and out.loc["a", "ci_high"] == 1
        if method == "wald":
            assert out.loc["b", "ci_high"] == 0
        elif method == "wilson":
            assert out.loc["b", "ci_high"] == pytest.approx(textbook_wilson(0, 50)[1])
        else:
            assert out.loc["b", "ci_high"] == pytest.approx(1 - 0.025 ** (1 / 50))
        assert out.loc["b", "n_eff"] == pytest.approx(50)


def test_logit_and_wald_intervals() -> None:
    p, se = np.array([0.3]), np.array([0.05])
    lo, hi = ci_proportion(p, 84.0, method="logit", se=se)
    lp, half = np.log(0.3 / 0.7), Z * 0.05 / 0.21
    assert lo[0] == pytest.approx(1 / (1 + np.exp(-(lp - half))))
    assert hi[0] == pytest.approx(1 / (1 + np.exp(-(lp + half))))
    lo, hi = ci_proportion(p, 84.0, method="wald", se=se)
    assert (lo[0], hi[0]) == pytest.approx((0.3 - Z * 0.05, 0.3 + Z * 0.05))


# -- linearised variance -----------------------------------------------------------------------


def test_linearised_se_matches_formula(survey: pd.DataFrame) -> None:
    w = np.random.default_rng(1).uniform(0.3, 3, len(survey))
    out = proportions(survey, "has_ospo", weights=w, kish_floor=False).set_index("level")
    y = survey["has_ospo"].to_numpy() == 1
    n = len(y)
    p = (w * y).sum() / w.sum()
    v = n / (n - 1) * ((w * (y - p)) ** 2).sum() / w.sum() ** 2
    assert out.loc[1, "estimate"] == pytest.approx(p)
    assert out.loc[1, "se"] == pytest.approx(np.sqrt(v), rel=1e-10)
    assert out.loc[1, "deff"] == pytest.approx(v / (n / (n - 1) * p * (1 - p) / n))


def test_domain_keeps_full_design(survey: pd.DataFrame) -> None:
    w = np.random.default_rng(2).uniform(0.3, 3, len(survey))
    out = proportions(survey, "has_ospo", weights=w, by="region", kish_floor=False)
    row = out[(out.region == "na") & (out.level == 1)].iloc[0]
    d = (survey["region"] == "na").to_numpy()
    y = survey["has_ospo"].to_numpy() == 1
    n = len(y)
    p = (w * y * d).sum() / (w * d).sum()
    z = w * d * (y - p) / (w * d).sum()
    assert row["se"] == pytest.approx(np.sqrt(n / (n - 1) * ((z - z.mean()) ** 2).sum()))


def test_weights_by_column_series_and_array_agree(survey: pd.DataFrame) -> None:
    w = np.random.default_rng(3).uniform(0.3, 3, len(survey))
    a = proportions(survey.assign(w=w), "licence", weights="w")
    b = proportions(survey, "licence", weights=pd.Series(w, index=survey.index))
    c = proportions(survey, "licence", weights=w)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_calibration_residuals_shrink_raked_margins(survey: pd.DataFrame) -> None:
    w = rake(survey, MARGINS, tol=1e-10)
    plain = proportions(survey, "size", weights=w).set_index("level")
    cal = proportions(survey, "size", weights=w, margins=MARGINS).set_index("level")
    assert cal["estimate"].to_numpy() == pytest.approx([1 / 3] * 3)
    assert (cal["se"] < 1e-6).all() and (plain["se"] > 1e-3).all()
    other = proportions(survey, "has_ospo", weights=w, margins=MARGINS).set_index("level")
    other_plain = proportions(survey, "has_ospo", weights=w).set_index("level")
    assert other.loc[1, "se"] < other_plain.loc[1, "se"]


def test_greg_residuals_with_calibration_weights(survey: pd.DataFrame) -> None:
    start = np.random.default_rng(6).uniform(0.5, 2, len(survey))
    w = rake(survey, MARGINS, start=start, tol=1e-10).to_numpy()
    out = proportions(
        survey, "has_ospo", weights=w, margins=MARGINS, calibration_weights=start
    ).set_index("level")
    x = pd.get_dummies(survey[["size", "region"]], dtype=float).to_numpy()
    y = survey["has_ospo"].to_numpy() == 1
    n = len(y)
    p = (w * y).sum() / w.sum()
    u = (y - p) / w.sum()
    beta = np.linalg.lstsq(x * np.sqrt(start)[:, None], u * np.sqrt(start), rcond=None)[0]
    z = w * (u - x @ beta)
    se = np.sqrt(n / (n - 1) * ((z - z.mean()) ** 2).sum())
    assert out.loc[1, "se"] == pytest.approx(se, rel=1e-8)


# -- multiple choice ---------------------------------------------------------------------------


def test_multi_proportions_base() -> None:
    df = pd.DataFrame(
        {
            "opt_a": [1, 1, 0, 0, 0, np.nan],
            "opt_b": [True, False, True, False, False, False],
            "seen": [True] * 6,
        }
    )
    out = multi_proportions(df, {"A": "opt_a", "B": "opt_b"}, name="tools").set_index("level")
    assert out["variable"].unique().tolist() == ["tools"]
    assert out.loc["A", "n"] == 3  # rows with at least one option ticked
    assert out.loc["A", "estimate"] == pytest.approx(2 / 3)
    assert out.loc["B", "estimate"] == pytest.approx(2 / 3)
    full = multi_proportions(df, ["opt_a", "opt_b"], base="seen").set_index("level")
    assert full.loc["opt_a", "n"] == 6 and full.loc["opt_a", "estimate"] == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="not boolean"):
        multi_proportions(df.assign(opt_a=[2, 0, 0, 0, 0, 0]), ["opt_a"])


def test_bad_estimation_input_is_one_typed_line(survey: pd.DataFrame) -> None:
    """The project's error classes, still ValueError / KeyError for callers catching those."""
    cases = [
        (EstimationError, "ci must be", lambda: proportions(survey, "has_ospo", ci="exact")),
        (EstimationError, "se must be", lambda: proportions(survey, "has_ospo", se="boot")),
        (EstimationError, "3 weights for 4000 rows", lambda: proportions(
            survey, "has_ospo", weights=[1.0, 2.0, 3.0])),
        (EstimationError, "1 weight.s. in column 'x' are missing, infinite or negative",
         lambda: proportions(survey.assign(x=np.r_[-1.0, np.ones(len(survey) - 1)]),
                             "has_ospo", weights="x")),
        (EstimationError, "outside levels=", lambda: proportions(survey, "region", levels=["eu"])),
        (EstimationError, "at least two of each", lambda: rao_scott(
            survey.assign(one="a"), "one", "region")),
        (EstimationError, "n_rep must be at least 2", lambda: replicate_weights(
            survey, MARGINS, n_rep=1)),
        (EstimationError, "is not a level of 'region' in both samples", lambda: difference(
            survey, survey, "region", "mars")),
        (UnknownVariableError, "variable 'has_osp' is not in the data: did you mean 'has_ospo'",
         lambda: proportions(survey, "has_osp")),
        (UnknownVariableError, "weight column 'w' is not in the data",
         lambda: proportions(survey, "has_ospo", weights="w")),
        (UnknownVariableError, "by-variable 'sise' is not in the data: did you mean 'size'",
         lambda: proportions(survey, "has_ospo", by="sise")),
    ]
    for cls, match, call in cases:
        with pytest.raises(cls, match=match) as info:
            call()
        assert isinstance(info.value, OspoSurveyError)
        assert isinstance(info.value, KeyError if cls is UnknownVariableError else ValueError)
        assert "\n" not in str(info.value)


# -- replicate weights -------------------------------------------------------------------------


def test_replicate_weights_deterministic_and_raked(survey: pd.DataFrame) -> None:
    small = survey.iloc[:600]
    r1 = replicate_weights(small, MARGINS, n_rep=20, seed=42)
    r2 = replicate_weights(small, MARGINS, n_rep=20, seed=42)
    r3 = replicate_weights(small, MARGINS, n_rep=20, seed=43)
    assert r1.shape == (600, 20)
    assert np.array_equal(r1, r2) and not np.array_equal(r1, r3)
    assert np.allclose(r1.sum(axis=0), 600)
    col = r1[:, 0]
    share = pd.Series(col).groupby(small["size"].to_numpy()).sum() / col.sum()
    assert share.to_numpy() == pytest.approx([1 / 3] * 3, abs=1e-6)
    assert (r1 == 0).any()  # respondents not drawn


def test_replicate_se_close_to_linearised(survey: pd.DataFrame) -> None:
    w = rake(survey, MARGINS, tol=1e-9)
    reps = replicate_weights(survey, MARGINS, n_rep=200, seed=2024, tol=1e-9)
    lin = proportions(survey, "has_ospo", weights=w, margins=MARGINS).set_index("level")
    rep = proportions(survey, "has_ospo", weights=w, se="replicate", replicates=reps)
    rep = rep.set_index("level")
    assert rep.loc[1, "estimate"] == lin.loc[1, "estimate"]
    # Monte Carlo error of a 200-replicate SE is about 5%.
    assert rep.loc[1, "se"] == pytest.approx(lin.loc[1, "se"], rel=0.15)


def test_replicate_se_formula() -> None:
    df = pd.DataFrame({"y": [1, 0, 1, 1, 0, 0]})
    reps = np.array([[1, 2, 0], [1, 0, 2], [2, 1, 1], [0, 1, 1], [1, 1, 1], [1, 1, 1]], dtype=float)
    out = proportions(df, "y", se="replicate", replicates=reps).set_index("level")
    y = df["y"].to_numpy()
    pr = (reps * y[:, None]).sum(0) / reps.sum(0)
    assert out.loc[1, "se"] == pytest.approx(np.std(pr, ddof=1))


# -- differences and suppression ---------------------------------------------------------------


def test_difference_between_years(survey: pd.DataFrame) -> None:
    a, b = survey.iloc[:2000], survey.iloc[2000:]
    out = difference(a, b, "has_ospo", 1)
    pa = proportions(a, "has_ospo").set_index("level").loc[1]
    pb = proportions(b, "has_ospo").set_index("level").loc[1]
    row = out.iloc[0]
    assert row["estimate"] == pytest.approx(pb["estimate"] - pa["estimate"])
    assert row["se"] == pytest.approx(np.hypot(pa["se"], pb["se"]))
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(row["estimate"] / row["se"])))
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    by = difference(a, b, "has_ospo", 1, by="size")
    assert by["size"].tolist() == ["small", "medium", "large"]


def test_suppression() -> None:
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"g": ["big"] * 500 + ["tiny"] * 12, "y": rng.integers(0, 2, 512)})
    out = proportions(df, "y", by="g", min_n_eff=30)
    assert out.loc[out.g == "tiny", "suppressed"].all()
    assert not out.loc[out.g == "big", "suppressed"].any()
    blanked = suppress(out, 30)
    assert blanked.loc[blanked.g == "tiny", "estimate"].isna().all()
    assert blanked.loc[blanked.g == "big", "estimate"].notna().all()


# -- Rao-Scott ---------------------------------------------------------------------------------


def test_rao_scott_equal_weights_is_pearson(survey: pd.DataFrame) -> None:
    res = rao_scott(survey, "size", "region")
    table = pd.crosstab(survey["size"], survey["region"])
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    n = len(survey)
    assert res["chi2"] == pytest.approx(chi2, rel=1e-10)
    assert res["df"] == dof and res["p_chi2"] == pytest.approx(p, rel=1e-8)
    # With equal weights Delta = n/(n-1) I: the design correction is only the n/(n-1) factor.
    assert res["chi2_rs"] == pytest.approx(chi2 * (n - 1) / n, rel=1e-10)
    assert res["mean_deff"] == pytest.approx(n / (n - 1))
    assert res["ndf"] == pytest.approx(dof)
    assert res["F"] * res["ndf"] == pytest.approx(res["chi2_rs"], rel=1e-10)


def test_rao_scott_weighted_is_smaller_when_weights_vary(survey: pd.DataFrame) -> None:
    w = np.random.default_rng(8).lognormal(0, 1, len(survey))
    res = rao_scott(survey, "size", "licence", w)
    assert res["mean_deff"] > 1.5
    assert res["chi2_rs"] < res["chi2"]
    assert 0 <= res["p_F"] <= 1 and res["ndf"] < res["df"]


# -- logistic ----------------------------------------------------------------------------------


def test_logistic_equal_weights_matches_logit(survey: pd.DataFrame) -> None:
    out = logistic(survey, "has_ospo ~ x + C(size)").set_index("term")
    fit = smf.logit("has_ospo ~ x + C(size)", data=survey).fit(disp=0, cov_type="HC0")
    assert out.index.tolist() == fit.params.index.tolist()
    assert out["estimate"].to_numpy() == pytest.approx(fit.params.to_numpy(), abs=1e-7)
    n = len(survey)
    hc0 = fit.bse.to_numpy() * np.sqrt(n / (n - 1))
    assert out["se"].to_numpy() == pytest.approx(hc0, rel=1e-5)
    assert list(out.columns) == ["estimate", "se", "z", "p", "ci_low", "ci_high", "deff"]
    # equal weights: the design variance is the robust one, so deff is robust over model-based
    naive = smf.logit("has_ospo ~ x + C(size)", data=survey).fit(disp=0).bse.to_numpy()
    assert out["deff"].to_numpy() == pytest.approx((out["se"].to_numpy() / naive) ** 2, rel=1e-6)


def test_logistic_weighted_point_estimates(survey: pd.DataFrame) -> None:
    w = np.random.default_rng(4).uniform(0.5, 2, len(survey))
    out = logistic(survey, "has_ospo ~ x", w)
    fit = sm.GLM(
        survey["has_ospo"],
        sm.add_constant(survey[["x"]]),
        family=sm.families.Binomial(),
        freq_weights=w,
    ).fit()
    assert out["estimate"].to_numpy() == pytest.approx(fit.params.to_numpy(), abs=1e-7)
    assert (out["ci_low"] < out["estimate"]).all()


def test_distribution_functions_equal_scipy_stats():
    """inference.distributions avoids importing scipy.stats; its values must be the same."""
    from scipy import stats

    from ospo_survey.inference import distributions as D

    rng = np.random.default_rng(7)
    q = rng.uniform(0, 1, 2000)
    x = rng.normal(0, 4, 2000)
    a, b = rng.uniform(0.5, 800, 2000), rng.uniform(0.5, 800, 2000)
    df = rng.integers(1, 40, 2000).astype(float)
    pos = np.abs(x) * 5
    assert np.array_equal(D.norm_ppf(q), stats.norm.ppf(q))
    assert np.array_equal(D.norm_sf(x), stats.norm.sf(x))
    assert np.allclose(D.beta_ppf(q, a, b), stats.beta.ppf(q, a, b), rtol=1e-14, atol=0)
    assert np.allclose(D.chi2_sf(pos, df), stats.chi2.sf(pos, df), rtol=1e-14, atol=0)
    assert np.allclose(D.f_sf(pos, df, b), stats.f.sf(pos, df, b), rtol=1e-14, atol=0)


def test_kept_normal_quantiles_are_scipys_bit_for_bit() -> None:
    """The quantiles kept to spare importing scipy equal ``scipy.special.ndtri`` exactly, and
    the interval levels reach them."""
    from scipy import special

    from ospo_survey.inference import distributions as D

    for q, z in D.NDTRI.items():
        assert z == special.ndtri(q)
    for level in (0.9, 0.95, 0.99):
        q = 1 - (1 - level) / 2
        assert D.norm_ppf(q) == special.ndtri(q)
