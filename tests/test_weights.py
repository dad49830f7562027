"""Raking, post-stratification, trimming, collapsing, diagnostics and targets files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ospo_survey.core.errors import (
    MissingFileError,
    OspoSurveyError,
    TargetsError,
    WeightingError,
    WeightingOptionsError,
)
from ospo_survey.inference.weights import (
    MISSING_LEVEL,
    CollapseWarning,
    ConvergenceWarning,
    RakeOptions,
    Raker,
    derive_reference_targets,
    diagnose,
    load_targets,
    poststratify,
    rake,
    weight,
    write_targets,
)

SIZES = ["1-49", "50-249", "250-999", "1000-9999", "10000+"]
REGIONS = ["Europe", "North America", "Asia", "Other"]


def shares(w: pd.Series, col: pd.Series) -> pd.Series:
    return w.groupby(col, observed=True).sum() / w.sum()


@pytest.fixture
def sample() -> pd.DataFrame:
    rng = np.random.default_rng(20240601)
    n = 3000
    size = rng.choice(SIZES, n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
    region = rng.choice(REGIONS, n, p=[0.45, 0.35, 0.12, 0.08])
    return pd.DataFrame(
        {
            "org_size": pd.Categorical(size, categories=SIZES, ordered=True),
            "region": region,
            "has_ospo": rng.integers(0, 2, n),
        },
        index=pd.RangeIndex(100, 100 + n),
    )


@pytest.fixture
def margins() -> dict:
    return {
        "org_size": dict(zip(SIZES, [0.2, 0.2, 0.2, 0.2, 0.2], strict=True)),
        "region": dict(zip(REGIONS, [0.3, 0.3, 0.25, 0.15], strict=True)),
        "has_ospo": {0: 0.6, 1: 0.4},
    }


# -- raking ------------------------------------------------------------------------------------


def test_rake_hits_every_margin(sample: pd.DataFrame, margins: dict) -> None:
    w = rake(sample, margins, tol=1e-8)
    assert w.name == "weight"
    assert w.index.equals(sample.index)
    assert w.mean() == pytest.approx(1.0)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    for var, target in margins.items():
        got = shares(w, sample[var])
        for level, t in target.items():
            assert got[level] == pytest.approx(t, abs=1e-8)


def test_total_scales_weights(sample: pd.DataFrame, margins: dict) -> None:
    w = rake(sample, margins, total=1234.5)
    assert w.sum() == pytest.approx(1234.5)
    assert np.allclose(w / w.mean(), rake(sample, margins))


def test_balanced_data_gets_equal_weights() -> None:
    grid = pd.MultiIndex.from_product([["a", "b", "c"], [1, 2], ["x", "y"]]).to_frame(index=False)
    data = pd.concat([grid] * 4, ignore_index=True)
    data.columns = ["p", "q", "r"]
    m = {
        "p": {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3},
        "q": {1: 0.5, 2: 0.5},
        "r": {"x": 0.5, "y": 0.5},
    }
    result = weight(data, m)
    assert np.array_equal(result.weights.to_numpy(), np.ones(len(data)))
    assert result.diagnostics.iterations == 0
    assert result.diagnostics.deff == pytest.approx(1.0)


def test_permuting_rows_permutes_weights(sample: pd.DataFrame, margins: dict) -> None:
    w = rake(sample, margins, tol=1e-10)
    perm = np.random.default_rng(1).permutation(len(sample))
    w2 = rake(sample.iloc[perm], margins, tol=1e-10)
    assert w2.index.equals(sample.index[perm])
    pd.testing.assert_series_equal(w2.sort_index(), w.sort_index(), rtol=1e-9, atol=1e-12)


def test_start_weights_are_respected(sample: pd.DataFrame, margins: dict) -> None:
    start = pd.Series(np.random.default_rng(3).uniform(0.5, 2, len(sample)), index=sample.index)
    w = rake(sample, margins, start=start, tol=1e-9)
    for var, target in margins.items():
        got = shares(w, sample[var])
        assert max(abs(got[k] - v) for k, v in target.items()) < 1e-9
    # Within a joint cell the ratio to the start weight is constant.
    ratio = w / start
    cell = sample.astype(str).agg("|".join, axis=1)
    assert ratio.groupby(cell).std().fillna(0).max() < 1e-9


def test_integer_and_string_codes_match_categoricals(sample: pd.DataFrame, margins: dict) -> None:
    as_str = sample.assign(org_size=sample["org_size"].astype(str))
    pd.testing.assert_series_equal(rake(as_str, margins), rake(sample, margins))


@pytest.fixture
def coded() -> tuple[pd.DataFrame, dict, dict]:
    """Two variables as int64 codes 0..k-1, margins keyed by the codes and by level names."""
    rng = np.random.default_rng(11)
    n = 2500
    data = pd.DataFrame(
        {"a": rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]), "b": rng.choice(3, n, p=[0.5, 0.3, 0.2])}
    )
    by_code = {"a": {0: 0.25, 1: 0.25, 2: 0.3, 3: 0.2}, "b": {0: 0.3, 1: 0.3, 2: 0.4}}
    by_name = {v: {f"{v}{i}": s for i, s in m.items()} for v, m in by_code.items()}
    return data, by_code, by_name


def test_int_codes_give_the_same_weights(coded: tuple[pd.DataFrame, dict, dict]) -> None:
    data, by_code, by_name = coded
    assert data.dtypes.tolist() == [np.int64, np.int64]
    cats = pd.DataFrame(
        {v: pd.Categorical.from_codes(data[v], categories=list(by_name[v])) for v in data}
    )
    w = rake(data, by_code, tol=1e-10)  # codes used as they are
    pd.testing.assert_series_equal(w, rake(cats, by_name, tol=1e-10), check_exact=True)
    pd.testing.assert_series_equal(w, rake(cats.astype(str), by_name, tol=1e-10), check_exact=True)
    # nullable ints and int32 take other routes to the same codes
    pd.testing.assert_series_equal(
        w, rake(data.astype("Int64"), by_code, tol=1e-10), check_exact=True
    )
    pd.testing.assert_series_equal(
        w, rake(data.astype(np.int32), by_code, tol=1e-10), check_exact=True
    )
    # a level with no respondents and no target is dropped; with a target it is merged
    m0 = {**by_code, "a": {0: 0.3, 1: 0.3, 2: 0.4, 3: 0.0}}
    sub = data[data["a"] != 3]
    pd.testing.assert_series_equal(rake(sub, m0), rake(sub.astype("Int64"), m0), check_exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        fast = weight(sub, by_code, collapse="adjacent")
        slow = weight(sub.astype("Int64"), by_code, collapse="adjacent")
    pd.testing.assert_series_equal(fast.weights, slow.weights, check_exact=True)
    pd.testing.assert_frame_equal(fast.diagnostics.to_frame(), slow.diagnostics.to_frame())
    assert fast.diagnostics.collapses == slow.diagnostics.collapses
    # don't-know codes still become missing
    ex = rake(data, m0, dont_know_levels=[3], missing="exclude")
    assert (ex[data["a"] == 3] == 0).all()
    pd.testing.assert_series_equal(
        ex,
        rake(data.astype("Int64"), m0, dont_know_levels=[3], missing="exclude"),
        check_exact=True,
    )


@pytest.mark.parametrize("bad", [4, -1, 17])
def test_int_code_without_target_still_errors(
    coded: tuple[pd.DataFrame, dict, dict], bad: int
) -> None:
    data, by_code, _ = coded
    data = data.copy()
    data.loc[data.index[[5, 9]], "a"] = bad
    msg = (
        f"level {bad} of weighting variable 'a' occurs in the data (2 respondents) but has "
        "no target"
    )
    with pytest.raises(TargetsError) as info:
        rake(data, by_code)
    assert str(info.value) == msg
    with pytest.raises(TargetsError) as info:
        rake(data.astype("Int64"), by_code)
    assert str(info.value) == msg


def test_yaml_style_keys_match_string_data(sample: pd.DataFrame, margins: dict) -> None:
    data = sample.assign(has_ospo=sample["has_ospo"].astype(str))
    w = rake(data, margins)
    assert shares(w, data["has_ospo"])["1"] == pytest.approx(0.4, abs=1e-6)


# -- targets validation ------------------------------------------------------------------------


def test_targets_must_sum_to_one(sample: pd.DataFrame, margins: dict) -> None:
    bad = {**margins, "region": {**margins["region"], "Other": 0.2}}
    with pytest.raises(TargetsError, match=r"'region' sum to 1\.05"):
        rake(sample, bad)


def test_small_rounding_of_targets_is_accepted(sample: pd.DataFrame, margins: dict) -> None:
    m = {**margins, "has_ospo": {0: 0.6 + 4e-7, 1: 0.4}}
    w = rake(sample, m)
    assert shares(w, sample["has_ospo"]).sum() == pytest.approx(1.0)


def test_data_level_without_target(sample: pd.DataFrame, margins: dict) -> None:
    m = {**margins, "region": {"Europe": 0.5, "North America": 0.3, "Asia": 0.2}}
    with pytest.raises(TargetsError, match=r"level 'Other' of weighting variable 'region'"):
        rake(sample, m)


def test_target_level_without_respondents(sample: pd.DataFrame, margins: dict) -> None:
    m = {**margins, "region": {**margins["region"], "Other": 0.1, "Antarctica": 0.05}}
    with pytest.raises(WeightingError, match=r"'region'.*'Antarctica'.*no respondents"):
        rake(sample, m)


def test_unknown_variable(sample: pd.DataFrame) -> None:
    with pytest.raises(TargetsError, match="'industry' is not a column"):
        rake(sample, {"industry": {"x": 1.0}})


def test_negative_or_non_numeric_targets(sample: pd.DataFrame) -> None:
    with pytest.raises(TargetsError, match="share >= 0"):
        rake(sample, {"has_ospo": {0: 1.2, 1: -0.2}})
    with pytest.raises(TargetsError, match="not a number"):
        rake(sample, {"has_ospo": {0: "half", 1: 0.5}})


def test_errors_are_one_line_and_typed(sample: pd.DataFrame) -> None:
    with pytest.raises(OspoSurveyError) as info:
        rake(sample, {"has_ospo": {0: 0.2, 1: 0.2}})
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


# -- missing values ----------------------------------------------------------------------------


@pytest.fixture
def with_missing(sample: pd.DataFrame) -> pd.DataFrame:
    data = sample.copy()
    data.loc[data.index[:12], "org_size"] = np.nan
    return data


def test_missing_raises_by_default(with_missing: pd.DataFrame, margins: dict) -> None:
    msg = (
        "weighting variable 'org_size' has 12 missing values; pass missing='category' "
        "(and a target for it) or missing='exclude'"
    )
    with pytest.raises(WeightingError) as info:
        rake(with_missing, margins)
    assert str(info.value) == msg


def test_missing_as_category_needs_a_target(with_missing: pd.DataFrame, margins: dict) -> None:
    with pytest.raises(TargetsError, match=r"'\(missing\)' of weighting variable 'org_size'"):
        rake(with_missing, margins, missing="category")
    m = {**margins, "org_size": {**{k: 0.19 for k in SIZES}, MISSING_LEVEL: 0.05}}
    w = rake(with_missing, m, missing="category", tol=1e-9)
    miss = with_missing["org_size"].isna()
    assert w[miss].sum() / w.sum() == pytest.approx(0.05, abs=1e-9)


def test_missing_excluded_get_zero_weight(with_missing: pd.DataFrame, margins: dict) -> None:
    result = weight(with_missing, margins, missing="exclude", tol=1e-9)
    w = result.weights
    miss = with_missing["org_size"].isna()
    assert (w[miss] == 0).all() and (w[~miss] > 0).all()
    assert w[~miss].mean() == pytest.approx(1.0)
    assert result.diagnostics.n == len(w) - 12 and result.diagnostics.n_excluded == 12
    got = shares(w[~miss], with_missing.loc[~miss, "region"])
    assert got["Asia"] == pytest.approx(0.25, abs=1e-9)


def test_dont_know_levels_follow_the_missing_policy(sample: pd.DataFrame, margins: dict) -> None:
    data = sample.copy()
    data["region"] = data["region"].where(np.arange(len(data)) % 50 != 0, "Don't know")
    with pytest.raises(WeightingError, match="missing or don't-know"):
        rake(data, margins, dont_know_levels=["Don't know"])
    w = rake(data, margins, dont_know_levels=["Don't know"], missing="exclude")
    assert (w[data["region"] == "Don't know"] == 0).all()


# -- sparse levels -----------------------------------------------------------------------------


@pytest.fixture
def sparse(sample: pd.DataFrame) -> pd.DataFrame:
    data = sample.copy()
    big = data["org_size"] == "10000+"
    data.loc[big[big].index[3:], "org_size"] = "1000-9999"  # leave 3 respondents in 10000+
    return data


def test_min_cell_without_rule_raises(sparse: pd.DataFrame, margins: dict) -> None:
    with pytest.raises(WeightingError, match=r"'10000\+' has 3 respondents \(< min_cell=10\)"):
        rake(sparse, margins, min_cell=10)


def test_adjacent_collapse_is_reported(sparse: pd.DataFrame, margins: dict) -> None:
    with pytest.warns(CollapseWarning, match=r"merged level\(s\) '10000\+' \(n=3\)"):
        result = weight(sparse, margins, min_cell=10, collapse="adjacent", tol=1e-9)
    diag = result.diagnostics
    assert len(diag.collapses) == 1
    rec = diag.collapses[0]
    assert rec.variable == "org_size" and rec.levels == ("10000+",) and rec.into == "1000-9999"
    frame = diag.to_frame()
    merged = frame[(frame.variable == "org_size") & (frame.level == "1000-9999 + 10000+")]
    assert merged["target"].item() == pytest.approx(0.4)
    assert merged["abs_error_after"].item() < 1e-9
    assert diag.summary()["n_collapses"] == 1
    assert list(diag.collapses_frame().columns) == ["variable", "levels", "into", "n", "reason"]


def test_adjacent_collapse_prefers_the_smaller_neighbour() -> None:
    levels = ["a", "b", "c", "d"]
    data = pd.DataFrame(
        {"v": pd.Categorical(["a"] * 40 + ["b"] * 2 + ["c"] * 20 + ["d"] * 50, categories=levels)}
    )
    m = {"v": dict.fromkeys(levels, 0.25)}
    with pytest.warns(CollapseWarning):
        result = weight(data, m, min_cell=5, collapse="adjacent")
    assert result.diagnostics.collapses[0].into == "c"


def test_explicit_collapse_mapping(sparse: pd.DataFrame, margins: dict) -> None:
    rule = {"org_size": {"10000+": "250-999"}}
    with pytest.warns(CollapseWarning):
        result = weight(sparse, margins, min_cell=5, collapse=rule)
    assert result.diagnostics.collapses[0].into == "250-999"
    got = shares(result.weights, sparse["org_size"])
    assert got["250-999"] + got["10000+"] == pytest.approx(0.4, abs=1e-6)


def test_empty_target_level_collapsed(sample: pd.DataFrame, margins: dict) -> None:
    m = {
        **margins,
        "region": {
            "Europe": 0.3,
            "North America": 0.3,
            "Asia": 0.2,
            "Other": 0.15,
            "Antarctica": 0.05,
        },
    }
    with pytest.warns(CollapseWarning, match="no respondents"):
        result = weight(sample, m, collapse={"region": {"Antarctica": "Other"}})
    assert shares(result.weights, sample["region"])["Other"] == pytest.approx(0.2, abs=1e-6)


# -- convergence -------------------------------------------------------------------------------


@pytest.fixture
def contradictory() -> tuple[pd.DataFrame, dict]:
    # Structural zeros: a=x only with b=u and a=y only with b=v, so the two margins must agree.
    data = pd.DataFrame({"a": ["x"] * 50 + ["y"] * 50, "b": ["u"] * 50 + ["v"] * 50})
    return data, {"a": {"x": 0.5, "y": 0.5}, "b": {"u": 0.3, "v": 0.7}}


def test_non_convergence_raises(contradictory: tuple[pd.DataFrame, dict]) -> None:
    data, m = contradictory
    with pytest.raises(WeightingError, match=r"did not converge in 20 iterations: margin '[ab]'"):
        rake(data, m, max_iter=20)


def test_best_effort_warns_and_records(contradictory: tuple[pd.DataFrame, dict]) -> None:
    data, m = contradictory
    with pytest.warns(ConvergenceWarning, match="best_effort"):
        result = weight(data, m, max_iter=20, best_effort=True)
    assert result.diagnostics.converged is False
    assert result.diagnostics.max_error == pytest.approx(0.2, abs=1e-6)
    assert np.all(np.isfinite(result.weights))


# -- trimming ----------------------------------------------------------------------------------


def test_trim_max_ratio_holds_with_margins(sample: pd.DataFrame, margins: dict) -> None:
    untrimmed = rake(sample, margins)
    assert untrimmed.max() > 3
    result = weight(sample, margins, trim={"max_ratio": 3.0}, tol=1e-6)
    w = result.weights
    assert w.max() <= 3.0 * (1 + 1e-6)
    assert result.diagnostics.max_error <= 1e-6
    info = result.diagnostics.trimming
    assert info["upper"] == 3.0 and info["cycles"] >= 1
    assert info["max_before"] == pytest.approx(untrimmed.max())


def test_trim_quantile_bounds(sample: pd.DataFrame, margins: dict) -> None:
    untrimmed = rake(sample, margins)
    result = weight(
        sample, margins, trim={"upper_quantile": 0.95, "lower_quantile": 0.05}, max_iter=500
    )
    info = result.diagnostics.trimming
    assert info["upper"] == pytest.approx(np.quantile(untrimmed, 0.95))
    assert info["lower"] == pytest.approx(np.quantile(untrimmed, 0.05))
    w = result.weights
    assert w.max() <= info["upper"] * (1 + 1e-6) and w.min() >= info["lower"] * (1 - 1e-6)


def test_infeasible_trim_raises(sample: pd.DataFrame, margins: dict) -> None:
    with pytest.raises(WeightingError, match="trimming bounds"):
        rake(sample, margins, trim={"max_ratio": 1.05}, max_iter=30)


def test_trim_with_start_weights(sample: pd.DataFrame, margins: dict) -> None:
    start = np.random.default_rng(9).uniform(0.2, 5, len(sample))
    w = rake(sample, margins, start=start, trim={"max_ratio": 4.0}, max_iter=300)
    assert w.max() <= 4 * (1 + 1e-6)


def test_bad_trim_spec(sample: pd.DataFrame, margins: dict) -> None:
    with pytest.raises(ValueError, match="unknown trim key"):
        rake(sample, margins, trim={"cap": 5})


# -- one options object -----------------------------------------------------------------------


def test_options_object_and_keywords_give_the_same_weights(
    sample: pd.DataFrame, margins: dict
) -> None:
    opts = RakeOptions(tol=1e-9, max_iter=300, trim={"max_ratio": 4})
    by_keywords = weight(sample, margins, tol=1e-9, max_iter=300, trim={"max_ratio": 4})
    by_options = weight(sample, margins, options=opts)
    pd.testing.assert_series_equal(by_options.weights, by_keywords.weights, check_exact=True)
    assert by_options.diagnostics.trimming == by_keywords.diagnostics.trimming
    cells = pd.MultiIndex.from_product([SIZES, REGIONS], names=["org_size", "region"])
    joint = pd.Series(1 / len(cells), index=cells)
    loose = RakeOptions(missing="exclude", min_cell=2, collapse="adjacent")
    pd.testing.assert_series_equal(
        poststratify(sample, joint, options=loose),
        poststratify(sample, joint, missing="exclude", min_cell=2, collapse="adjacent"),
        check_exact=True,
    )


def test_keywords_replace_the_options_fields_they_name(sample: pd.DataFrame, margins: dict):
    opts = RakeOptions(trim={"max_ratio": 1.05}, max_iter=30)
    with pytest.raises(WeightingError, match="trimming bounds"):
        rake(sample, margins, options=opts)
    pd.testing.assert_series_equal(
        rake(sample, margins, options=opts, trim=None, max_iter=100),
        rake(sample, margins), check_exact=True,
    )
    assert RakeOptions.build(opts, tol=1e-3) == RakeOptions(
        tol=1e-3, trim={"max_ratio": 1.05}, max_iter=30)


def test_options_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="max_ratio must exceed 1"):
        RakeOptions(trim={"max_ratio": 0.5})
    with pytest.raises(ValueError, match="missing must be"):
        RakeOptions(missing="drop")  # type: ignore[arg-type]
    assert RakeOptions(dont_know_levels=["x"]).dont_know_levels == ("x",)


def test_a_misspelt_option_names_the_closest(sample: pd.DataFrame, margins: dict) -> None:
    with pytest.raises(TypeError, match="unknown weighting option 'tols': did you mean 'tol'"):
        rake(sample, margins, tols=1e-3)


def test_bad_options_are_one_typed_line(sample: pd.DataFrame, margins: dict) -> None:
    """WeightingOptionsError: a WeightingError, and a ValueError as the options were before."""
    for options, match in [
        ({"trim": {"max_ratio": "eight"}}, "trim max_ratio must be a number, not 'eight'"),
        ({"trim": {"min_ratio": 1.5}}, r"min_ratio must lie in \[0, 1\).*not 1\.5"),
        ({"tol": 0}, "tol > 0.*not min_cell=0, tol=0"),
        ({"total": -3.0}, "total must be a positive number, not -3.0"),
        ({"collapse": "nearest"}, "collapse must be 'adjacent' or a mapping, not 'nearest'"),
    ]:
        with pytest.raises(WeightingOptionsError, match=match) as info:
            # no respondent in Asia: the collapse rule is read (only a level to merge needs one)
            rake(sample.assign(region="Europe"), {"region": {"Europe": 0.9, "Asia": 0.1}},
                 **options)
        assert isinstance(info.value, WeightingError) and isinstance(info.value, ValueError)
        assert "\n" not in str(info.value)


# -- post-stratification -----------------------------------------------------------------------


def test_poststratify_is_exact(sample: pd.DataFrame) -> None:
    cells = pd.MultiIndex.from_product([SIZES, REGIONS], names=["org_size", "region"])
    target = pd.Series(np.random.default_rng(4).dirichlet(np.ones(len(cells))), index=cells)
    w = poststratify(sample, target)
    got = w.groupby([sample["org_size"], sample["region"]], observed=True).sum() / w.sum()
    for key, t in target.items():
        assert got[key] == pytest.approx(t, abs=1e-12)
    # All respondents of a cell get the same weight.
    assert w.groupby([sample["org_size"], sample["region"]], observed=True).std().max() < 1e-12


def test_poststratify_unknown_cell(sample: pd.DataFrame) -> None:
    cells = pd.MultiIndex.from_product([SIZES, REGIONS[:-1]], names=["org_size", "region"])
    target = pd.Series(1 / len(cells), index=cells)
    with pytest.raises(TargetsError, match="occurs in the data"):
        poststratify(sample, target)


def test_poststratify_diagnostics(sample: pd.DataFrame) -> None:
    cells = pd.MultiIndex.from_product([SIZES, REGIONS], names=["org_size", "region"])
    target = pd.Series(1 / len(cells), index=cells)
    result = weight(sample, target)
    assert result.diagnostics.method == "poststratify"
    assert result.diagnostics.max_error < 1e-12
    assert len(result.diagnostics.to_frame()) == len(cells)


# -- diagnostics -------------------------------------------------------------------------------


def test_deff_and_n_eff_hand_example() -> None:
    data = pd.DataFrame({"g": ["a", "a", "b", "b"]})
    w = pd.Series([1.0, 1.0, 2.0, 4.0])
    diag = diagnose(w, data, {"g": {"a": 0.25, "b": 0.75}})
    # n = 4, sum w = 8, sum w^2 = 22: deff = 4 * 22 / 64, n_eff = 64 / 22.
    assert diag.deff == pytest.approx(4 * 22 / 64)
    assert diag.n_eff == pytest.approx(64 / 22)
    ws = diag.weight_summary
    assert ws["min"] == 1 and ws["max"] == 4 and ws["max_min_ratio"] == 4
    assert diag.deff == pytest.approx(1 + ws["cv"] ** 2)
    frame = diag.to_frame().set_index("level")
    assert frame.loc["a", "unweighted_share"] == 0.5
    assert frame.loc["a", "weighted_share"] == 0.25
    assert frame.loc["a", "abs_error_before"] == pytest.approx(0.25)
    assert frame.loc["a", "asmd_before"] == pytest.approx(0.25 / np.sqrt(0.25 * 0.75))
    assert frame.loc["a", "asmd_after"] == pytest.approx(0.0)
    assert diag.converged is True
    summary = diag.summary()
    assert summary["n"] == 4 and summary["max_abs_error"] == pytest.approx(0.0)


def test_weight_result_diagnostics(sample: pd.DataFrame, margins: dict) -> None:
    result = weight(sample, margins)
    diag = result.diagnostics
    assert diag.converged is True and diag.iterations >= 1
    frame = diag.to_frame()
    assert len(frame) == sum(len(v) for v in margins.values())
    assert (frame["abs_error_after"] <= 1e-6).all()
    assert frame["asmd_before"].max() > 0.1
    assert {"q01", "q50", "q99", "cv"} <= set(diag.weight_summary)
    w = result.weights.to_numpy()
    assert diag.deff == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2)


def test_raker_design_matrix(sample: pd.DataFrame, margins: dict) -> None:
    x = Raker(sample, margins).design_matrix()
    assert x.shape == (len(sample), 5 + 4 + 2)
    assert np.allclose(x.sum(axis=1), 3)


# -- targets files -----------------------------------------------------------------------------


def test_load_example_targets() -> None:
    spec = load_targets("example")
    assert spec["scheme"] == "example"
    for var, levels in spec["margins"].items():
        assert sum(levels.values()) == pytest.approx(1.0), var
    spec_2019 = load_targets("example", year=2019)
    assert spec_2019["margins"]["region"] != spec["margins"]["region"]
    assert spec_2019["margins"]["org_size"] == spec["margins"]["org_size"]


def test_load_targets_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("margins:\n  region:\n    Europe: 0.5\n    Asia: 0.4\n")
    with pytest.raises(
        TargetsError, match=r"targets file 'bad.yaml': targets for variable 'region'"
    ):
        load_targets(bad)
    # the package's one YAML loader keeps Yes/No as text, as answer labels are
    bad.write_text("margins:\n  answered:\n    yes: 0.5\n    No: 0.5\n")
    assert load_targets(bad)["margins"]["answered"] == {"yes": 0.5, "No": 0.5}
    bad.write_text("margins:\n  answered:\n    true: 0.5\n    false: 0.5\n")
    with pytest.raises(TargetsError, match="YAML boolean"):
        load_targets(bad)
    bad.write_text("margin:\n  a: {x: 1}\n")
    with pytest.raises(TargetsError, match="unknown key 'margin'"):
        load_targets(bad)
    bad.write_text("margins: [unclosed\n")
    with pytest.raises(TargetsError, match="not valid YAML"):
        load_targets(bad)
    with pytest.raises(MissingFileError):
        load_targets(tmp_path / "nope.yaml")


def test_write_targets_round_trip(tmp_path: Path) -> None:
    spec = {
        "scheme": "t",
        "description": "d",
        "source": "s",
        "margins": {"v": {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, "u": {1: 0.123456, 2: 0.876544}},
    }
    path = write_targets(spec, tmp_path / "t.yaml", decimals=3)
    text = path.read_text()
    assert write_targets(spec, tmp_path / "t2.yaml", decimals=3).read_text() == text
    back = load_targets(path)
    raw = yaml.safe_load(text)
    assert sum(int(round(x * 1000)) for x in raw["margins"]["v"].values()) == 1000
    assert back["margins"]["u"] == {1: 0.123, 2: 0.877}


def test_write_targets_keeps_tiny_shares_positive(tmp_path: Path) -> None:
    spec = {"margins": {"v": {"a": 0.99999, "b": 0.00001}}}
    back = load_targets(write_targets(spec, tmp_path / "t.yaml", decimals=2))
    assert back["margins"]["v"]["b"] > 0


def test_derive_reference_targets_equal_year_weight() -> None:
    df = pd.DataFrame(
        {
            "year": [2019] * 10 + [2020] * 90,
            "v": ["a"] * 10 + ["b"] * 90,
            "u": [np.nan] * 10 + ["x"] * 45 + ["y"] * 45,
        }
    )
    spec = derive_reference_targets(df, ["v", "u"], by="year")
    assert spec["margins"]["v"] == {"a": 0.5, "b": 0.5}
    assert spec["margins"]["u"] == {"x": 0.5, "y": 0.5}
    assert spec["meta"]["pooled_over"]["u"] == [2020]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = rake(df, {"v": spec["margins"]["v"]})
    assert shares(w, df["v"])["a"] == pytest.approx(0.5)


# -- properties --------------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn) -> tuple[pd.DataFrame, dict, np.ndarray]:
    k = draw(st.integers(1, 3))
    sizes = [draw(st.integers(2, 4)) for _ in range(k)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_extra = draw(st.integers(0, 200))
    grid = np.array(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")).reshape(k, -1).T
    extra = np.column_stack([rng.integers(0, s, n_extra) for s in sizes])
    codes = np.vstack([grid, extra])  # every joint cell occupied: raking is always feasible
    data = pd.DataFrame({f"v{j}": [f"L{c}" for c in codes[:, j]] for j in range(k)})
    m = {}
    for j, s in enumerate(sizes):
        t = rng.dirichlet(np.ones(s)) * 0.9 + 0.1 / s
        m[f"v{j}"] = {f"L{i}": float(t[i]) for i in range(s)}
    start = rng.uniform(0.2, 5, len(data))
    return data, m, start


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.booleans())
def test_property_margins_hit(problem: tuple[pd.DataFrame, dict, np.ndarray], use_start: bool):
    data, m, start = problem
    w = rake(data, m, start=start if use_start else None, tol=1e-7, max_iter=2000)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    assert w.mean() == pytest.approx(1.0)
    for var, target in m.items():
        got = shares(w, data[var])
        for level, t in target.items():
            assert abs(got[level] - t) <= 1e-7


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.floats(2.0, 6.0))
def test_property_trim_bounds(problem: tuple[pd.DataFrame, dict, np.ndarray], cap: float):
    data, m, _ = problem
    try:
        result = weight(data, m, trim={"max_ratio": cap}, tol=1e-6, max_iter=3000)
    except WeightingError:
        return  # the cap can be infeasible for these targets; that must raise, not lie
    assert result.weights.max() <= cap * (1 + 1e-6)
    assert result.diagnostics.max_error <= 1e-6


@settings(max_examples=30, deadline=None)
@given(problems())
def test_property_permutation(problem: tuple[pd.DataFrame, dict, np.ndarray]) -> None:
    data, m, _ = problem
    perm = np.random.default_rng(len(data)).permutation(len(data))
    w = rake(data, m, tol=1e-10, max_iter=5000)
    w2 = rake(data.iloc[perm], m, tol=1e-10, max_iter=5000)
    assert np.allclose(w2.to_numpy(), w.to_numpy()[perm], rtol=1e-7)
