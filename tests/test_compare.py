"""Comparisons between groups (analysis/compare.py) on the real survey data.

Raw shares are checked against plain pandas (and the issue's published 2022 numbers), adjusted
shares and their SEs against a statsmodels GLM fitted here on a formula design, with the
sandwich covariance from statsmodels' HC0 and a numeric-derivative delta method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm

from ospo_survey.analysis.compare import compare_frame
from ospo_survey.analysis.design import compare, survey
from ospo_survey.cli import main
from ospo_survey.core.errors import ModelError, UnknownVariableError
from ospo_survey.inference.schemes import compute_weights
from ospo_survey.ingest.dataset import load_harmonized

pytestmark = pytest.mark.data

DK = "don't know"
ADJUST = ["org_size", "tech_industry"]
# these tests check the estimators on the publisher's sample, every respondent counting once
PUB = {"sample": "publisher", "weights": "unweighted"}


@pytest.fixture(scope="module")
def h2022() -> pd.DataFrame:
    return load_harmonized([2022], sample="publisher")


@pytest.fixture(scope="module")
def weighted2022(h2022: pd.DataFrame) -> pd.DataFrame:
    frame = h2022.copy()
    frame["w"] = compute_weights(frame, 2022, "reference", "publisher").weights
    return frame


def _valid(frame: pd.DataFrame, outcome: str, by: str) -> pd.DataFrame:
    o, g = frame[outcome].astype(object), frame[by].astype(object)
    return frame[o.notna() & (o != DK) & g.notna() & (g != DK)]


# -- raw shares ---------------------------------------------------------------------------------


def test_issue_numbers_2022(h2022: pd.DataFrame) -> None:
    """Issue 11: frequently contributes upstream, by OSPO status, 2022, don't know outside."""
    res = compare("activity_contribute", "ospo_status", years=[2022], **PUB)
    freq = res[res["outcome_level"] == "frequently"].set_index("group")
    expected = {"has (formal)": (60.9, 276), "has (informal)": (30.3, 178),
                "planning": (15.5, 129), "none": (5.6, 302)}
    assert list(freq.index) == list(expected)
    for group, (pct, base) in expected.items():
        assert round(100 * freq.at[group, "estimate"], 1) == pct
        assert freq.at[group, "n"] == base
    # the same from plain pandas
    d = _valid(h2022, "activity_contribute", "ospo_status")
    share = (d["activity_contribute"] == "frequently").groupby(d["ospo_status"], observed=True)
    assert freq["estimate"].to_numpy() == pytest.approx(share.mean().loc[list(expected)])
    assert freq["count"].tolist() == share.sum().loc[list(expected)].astype(int).tolist()


def test_raw_se_and_difference_unweighted(h2022: pd.DataFrame) -> None:
    res = compare("activity_contribute", "ospo_status", years=[2022], **PUB)
    n_all = len(h2022)  # the year's rows in the design: R pads a subset to them
    p = res["estimate"].to_numpy()
    se = np.sqrt(n_all / (n_all - 1) * p * (1 - p) / res["n"].to_numpy())
    assert res["se"].to_numpy() == pytest.approx(se, rel=1e-10)
    freq = res[res["outcome_level"] == "frequently"].reset_index(drop=True)
    ref = freq.iloc[0]
    assert np.isnan(ref["diff"]) and np.isnan(ref["p"]) and ref["adjusted_for"] == ""
    other = freq.iloc[1]
    diff_se = np.hypot(other["se"], ref["se"])
    assert other["diff"] == pytest.approx(other["estimate"] - ref["estimate"])
    assert other["diff_ci_high"] - other["diff"] == pytest.approx(1.959964 * diff_se, rel=1e-6)


def test_raw_rows_sum_to_one_within_group() -> None:
    res = compare("activity_contribute", "ospo_status", years=[2022, 2023], sample="publisher",
                  weights="reference", suppress=False)
    sums = res.groupby(["year", "group"])["estimate"].sum()
    assert sums.to_numpy() == pytest.approx(1.0, abs=1e-12)
    assert set(res["outcome_level"]) == {"never", "rarely", "sometimes", "frequently"}
    assert res.groupby(["year", "group"])["count"].sum().tolist() == res.groupby(
        ["year", "group"])["n"].first().tolist()


def test_dropped_counts_add_up(h2022: pd.DataFrame) -> None:
    res = compare("activity_contribute", "has_ospo", years=[2022], adjust=ADJUST, **PUB)
    dropped = dict(res.attrs["dropped"])
    empty = dropped.pop("empty levels", 0)
    in_base = int(res[res["outcome_level"] == "never"]["n"].sum())
    assert in_base + sum(dropped.values()) == len(h2022)
    o = h2022["activity_contribute"].astype(object)
    assert dropped["outcome don't know"] == int((o == DK).sum())
    assert empty == sum(len(v) for v in res.attrs["empty_levels"].values())


def test_multi_outcome_ticked_and_dont_know_outside_base() -> None:
    h = load_harmonized([2020], sample="publisher")
    res = compare("journey_contribute", "has_ospo", years=[2020], **PUB)
    assert set(res["outcome_level"]) == {"ticked"}
    dk_only = h["journey_dont_know"].fillna(False) & ~h[
        [c for c in h.columns if c.startswith("journey_") and c != "journey_dont_know"]
    ].fillna(False).any(axis=1)
    ok = h["journey_contribute"].notna() & ~dk_only & h["has_ospo"].notna()
    share = h.loc[ok, "journey_contribute"].astype(bool).groupby(h.loc[ok, "has_ospo"],
                                                                 observed=True)
    got = res.set_index("group")
    assert got["n"].tolist() == share.size().loc[got.index].tolist()
    assert got["estimate"].to_numpy() == pytest.approx(share.mean().loc[got.index].to_numpy())
    n_dk = int((dk_only & h["journey_contribute"].notna()).sum())
    assert n_dk > 0 and res.attrs["dropped"]["outcome don't know"] == n_dk


# -- adjusted shares ----------------------------------------------------------------------------


def _oracle(data: pd.DataFrame, y: pd.Series, group: str, adjust: list[str],
            weights: np.ndarray, n_design: int | None = None) -> tuple[dict, dict]:
    """Marginal standardisation done independently: a patsy formula design, statsmodels GLM
    with var_weights, HC0 sandwich x N/(N-1) (N the design's rows: R pads the modelled rows
    to them), numeric derivatives for the delta method, plus the variance of the mean of the
    fitted shares over the rows (the covariate mix), as R's ``svypredmeans`` adds it."""
    df = pd.DataFrame({"y": y.to_numpy(dtype=float), "g": data[group].astype(str).to_numpy()})
    for a in adjust:
        v = data[a].astype(object)
        df[a] = np.where(v.isna() | (v == DK), "(missing)", v.astype(str))
    rhs = " + ".join(["C(g)", *(f"C({a})" for a in adjust)])
    yy, xx = patsy.dmatrices(f"y ~ {rhs}", df, return_type="dataframe")
    fit = sm.GLM(yy, xx, family=sm.families.Binomial(), var_weights=weights).fit(
        cov_type="HC0")
    n = len(df) if n_design is None else n_design
    cov = np.asarray(fit.cov_params()) * n / (n - 1)
    beta = np.asarray(fit.params)
    info = xx.design_info
    wt = weights / weights.sum()
    shares, grads, infl = {}, {}, {}
    for g in df["g"].unique():
        x = np.asarray(patsy.build_design_matrices([info], df.assign(g=g))[0])

        def theta(b: np.ndarray, x: np.ndarray = x) -> float:
            return float(wt @ (1 / (1 + np.exp(-(x @ b)))))

        eps = 1e-6
        grads[g] = np.array([(theta(beta + eps * e) - theta(beta - eps * e)) / (2 * eps)
                             for e in np.eye(len(beta))])
        shares[g] = theta(beta)
        infl[g] = wt * (1 / (1 + np.exp(-(x @ beta))) - shares[g])
    c = n / (n - 1)
    ses = {g: float(np.sqrt(grads[g] @ cov @ grads[g] + c * infl[g] @ infl[g])) for g in shares}
    return shares, {"se": ses, "grad": grads, "cov": cov, "infl": infl, "c": c}


def test_adjusted_shares_and_ses_match_glm(weighted2022: pd.DataFrame) -> None:
    res = compare_frame(weighted2022, "activity_contribute", "ospo_status", adjust=ADJUST,
                        weights="w")
    d = _valid(weighted2022, "activity_contribute", "ospo_status")
    assert res["adjusted_for"].unique().tolist() == ["org_size + tech_industry"]
    for level in ["frequently", "never"]:
        shares, extra = _oracle(d, d["activity_contribute"] == level, "ospo_status", ADJUST,
                                d["w"].to_numpy(), n_design=len(weighted2022))
        got = res[res["outcome_level"] == level].set_index("group")
        for g, share in shares.items():
            assert got.at[g, "adj_estimate"] == pytest.approx(share, abs=1e-7)
            assert got.at[g, "adj_se"] == pytest.approx(extra["se"][g], rel=1e-6)
        ref = got.index[0]
        for g in got.index[1:]:
            dg = extra["grad"][g] - extra["grad"][ref]
            dh = extra["infl"][g] - extra["infl"][ref]
            assert got.at[g, "diff"] == pytest.approx(shares[g] - shares[ref], abs=1e-7)
            half = got.at[g, "diff_ci_high"] - got.at[g, "diff"]
            var = dg @ extra["cov"] @ dg + extra["c"] * dh @ dh
            assert half == pytest.approx(1.959964 * np.sqrt(var), rel=1e-6)
    # weighting and adjustment move the estimate: the comparison is not the raw one
    formal = res[(res["outcome_level"] == "frequently") & (res["group"] == "has (formal)")]
    assert abs(float(formal["adj_estimate"].iloc[0] - formal["estimate"].iloc[0])) > 0.01


def test_pooled_has_year_fixed_effect() -> None:
    years = [2022, 2023]
    res = compare("activity_contribute", "has_ospo", years=years, adjust=["org_size"],
                  pooled=True, **PUB)
    assert set(res["year"]) == {"pooled"}
    assert res["adjusted_for"].unique().tolist() == ["org_size + year"]
    h = load_harmonized(years, sample="publisher")
    d = _valid(h, "activity_contribute", "has_ospo").copy()
    d["year"] = d["year"].astype(str)
    shares, extra = _oracle(d, d["activity_contribute"] == "frequently", "has_ospo",
                            ["org_size", "year"], np.ones(len(d)))
    got = res[res["outcome_level"] == "frequently"].set_index("group")
    for g, share in shares.items():  # SEs (years as strata): test_oracle_r, svypredmeans
        assert got.at[g, "adj_estimate"] == pytest.approx(share, abs=1e-7)
    raw = (d["activity_contribute"] == "frequently").groupby(d["has_ospo"], observed=True).mean()
    assert got["estimate"].to_numpy() == pytest.approx(raw.loc[got.index].to_numpy())


def test_years_not_asked_are_skipped() -> None:
    res = compare("industry", "has_ospo", years=[2022, 2024], **PUB)
    assert set(res["year"]) == {2022}
    assert res.attrs["skipped"] == {2024: "industry not asked"}
    assert res.attrs["dropped"]["outcome not asked"] == len(load_harmonized([2024],
                                                                           sample="publisher"))


# -- empty levels, separation, bad input --------------------------------------------------------


def test_empty_levels_dropped_before_fitting(h2022: pd.DataFrame) -> None:
    # 2022 has no "has (formality unknown)" and no self-employed; an extra unused level too
    frame = h2022.copy()
    frame["org_size"] = frame["org_size"].cat.add_categories(["never used"])
    res = compare_frame(frame, "activity_contribute", "ospo_status", adjust=["org_size"])
    assert "has (formality unknown)" not in set(res["group"])
    assert res.attrs["empty_levels"]["ospo_status"] == ["has (formality unknown)"]
    assert "never used" in res.attrs["empty_levels"]["org_size"]
    assert res["adj_estimate"].notna().all()


def test_missing_adjustment_value_is_a_level_not_a_drop(h2022: pd.DataFrame) -> None:
    plain = compare_frame(h2022, "activity_contribute", "ospo_status")
    adjusted = compare_frame(h2022, "activity_contribute", "ospo_status", adjust=ADJUST)
    assert adjusted["base"].tolist() == plain["base"].tolist()
    assert h2022["tech_industry"].isna().any()


def test_separation_fallback_keeps_observed_share() -> None:
    """2024: respondents of unknown size all answered one way; they are left out of the fit
    and keep their observed share (the maximum-likelihood limit)."""
    res = compare("activity_contribute", "has_ospo", years=[2024], adjust=["org_size"],
                  suppress=False, **PUB)
    notes = " ".join(res.attrs["notes"])
    assert "org_size=(missing) answered one way only" in notes
    assert res["adj_estimate"].notna().all() and np.isfinite(res["adj_se"]).all()


def test_group_separation_is_not_estimated(h2022: pd.DataFrame) -> None:
    frame = h2022.copy()
    frame.loc[frame["ospo_status"] == "planning", "activity_contribute"] = "never"
    res = compare_frame(frame, "activity_contribute", "ospo_status", adjust=["org_size"])
    never = res[res["outcome_level"] == "never"]
    assert never["adj_estimate"].isna().all() and never["estimate"].notna().all()
    assert any("a group answered one way only" in n for n in res.attrs["notes"])


def test_group_fixed_by_adjustment_is_one_line(h2022: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="has_ospo is determined by the adjustment"):
        compare_frame(h2022, "activity_contribute", "has_ospo", adjust=["ospo_status"])


def test_unknown_variable_names_closest(h2022: pd.DataFrame) -> None:
    with pytest.raises(UnknownVariableError, match="closest match 'org_size'"):
        compare_frame(h2022, "activity_contribute", "has_ospo", adjust=["orgsize"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["activity_contribut", "--by", "ospo_status"], "did you mean 'activity_contribute'"),
        (["activity_contribute", "--by", "ospo_statu"], "did you mean 'ospo_status'"),
        (["activity_contribute", "--by", "has_ospo", "--adjust", "org_size,tech_indstry"],
         "did you mean 'tech_industry'"),
        (["activity_contribute", "--by", "has_ospo", "--weights", "refrence"], "refrence"),
    ],
)
def test_cli_errors_are_one_line(argv: list[str], needle: str, capsys) -> None:
    rc = main(["compare", *argv, "--years", "2022"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "\n" not in err and len(err) < 300 and needle in err


def test_cli_csv_and_dropped_line(capsys) -> None:
    argv = ["compare", "activity_contribute", "--by", "ospo_status", "--years", "2022",
            "--adjust", "org_size", "--sample", "publisher", "--weights", "unweighted"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert main(argv) == 0
    second = capsys.readouterr()
    assert first.out == second.out  # deterministic bytes
    lines = first.out.split("\n")
    assert lines[0].startswith("year,outcome,outcome_level,group,n,count,estimate,se,ci_low,")
    assert lines[0].endswith("adj_estimate,adj_se,adj_ci_low,adj_ci_high,diff,diff_ci_low,"
                             "diff_ci_high,p,adjusted_for,suppressed,reason")
    assert "\r" not in first.out
    assert "2022,activity_contribute,frequently,has (formal),276,168,0.608696," in first.out
    dropped = [ln for ln in first.err.splitlines() if "left out:" in ln]
    assert len(dropped) == 1 and "outcome don't know 71" in dropped[0]


# -- year-page associations ---------------------------------------------------------------------


@pytest.mark.parametrize(("year", "adjusted_for"), [(2022, "org_size + tech_industry"),
                                                    (2024, "org_size")])
def test_ospo_associations_name_what_the_year_allows(year: int, adjusted_for: str) -> None:
    from ospo_survey.analysis.compare import ospo_associations

    res = ospo_associations(survey(year, "publisher", "unweighted"))
    assert set(res["adjusted_for"]) == {adjusted_for}
    assert set(res["group"]) == {"has", "planning", "none"}
    by_outcome = res.groupby("outcome")["outcome_level"].unique()
    assert by_outcome["activity_contribute"].tolist() == ["frequently"]
    assert by_outcome["journey_contribute"].tolist() == ["ticked"]
    assert "journey_dont_know" not in by_outcome and "journey_not_involved" not in by_outcome
    if year == 2024:  # 2024 did not ask the policy questions nor the industry
        assert not any(o.startswith("policy_") for o in by_outcome.index)
        assert any("tech_industry: not asked" in n for n in res.attrs["notes"])
    else:
        assert by_outcome["policy_use"].tolist() == ["yes"]
    raw = compare("activity_contribute", "has_ospo", years=[year], suppress=False, **PUB)
    raw = raw[raw["outcome_level"] == "frequently"]
    mine = res[res["outcome"] == "activity_contribute"]
    assert mine["estimate"].tolist() == pytest.approx(raw["estimate"].tolist())


# -- the design's policy through compare ---------------------------------------------------------


def test_compare_suppresses_small_groups_and_their_tests() -> None:
    """Issue 18: the 2024 OSPO share by region, adjusted for size, printed Latin America (10
    respondents) with p = 0.019 and a group of 2 with estimates. Groups whose effective n is
    under 30 now have every estimate, difference and p-value missing."""
    res = compare("has_ospo", "region", years=2024, adjust=["org_size"])
    h = load_harmonized([2024])
    ok = h["has_ospo"].notna() & h["region"].notna() & (h["region"] != DK)
    sizes = h[ok].groupby("region", observed=True).size()
    has = res[res["outcome_level"] == "has"].set_index("group")
    assert has["n"].to_dict() == {str(k): int(v) for k, v in sizes.items()}
    for group, row in has.iterrows():
        shown = row[["estimate", "se", "adj_estimate", "diff", "p"]]
        if row["n_eff"] < 30:
            assert row["suppressed"] and shown.isna().all(), group
            assert row["reason"] == "effective n under 30"
        else:
            assert not row["suppressed"] and pd.notna(row["estimate"]), group
    assert has.loc["Latin America", "suppressed"] and has.loc["other", "n"] == 2
    # the same numbers are there when asked for, equal to the frame-level comparison
    shown = compare("has_ospo", "region", years=2024, adjust=["org_size"], suppress=False)
    latin = shown[(shown["group"] == "Latin America") & (shown["outcome_level"] == "has")]
    assert latin["p"].notna().all() and latin["p"].iloc[0] < 0.05
