"""Weighting schemes on the real data: reference targets, per-year weights, weighted tables."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import ospo_survey
from ospo_survey.analysis.policy import COLUMNS
from ospo_survey.analysis.tables import frequencies
from ospo_survey.core.errors import TargetsError
from ospo_survey.inference import schemes
from ospo_survey.inference import weights as W
from ospo_survey.ingest.settings import available_years

YEARS = available_years()


@pytest.mark.data
def test_committed_reference_targets_match_the_data(tmp_path):
    """The reference targets version is derived data: re-deriving it must give the same file."""
    fresh = W.write_targets(schemes.derive_reference(), tmp_path / "reference.yaml")
    committed = schemes.reference_path()
    assert fresh.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    spec = W.load_targets(committed)
    assert set(spec["margins"]) == {"org_size", "tech_industry"}
    for shares in spec["margins"].values():
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.data
@pytest.mark.parametrize("year", YEARS)
def test_reference_weights_hit_the_reference_composition(year):
    yw = schemes.year_weights(year)
    w = yw.weights.to_numpy()
    assert np.isfinite(w).all() and (w > 0).all()
    assert w.mean() == pytest.approx(1.0)
    ref = schemes.targets("reference")["margins"]
    for var, margin in yw.margins.items():
        col = yw.frame[var]
        achieved = pd.Series(w).groupby(col.to_numpy()).sum() / w.sum()
        for level, share in margin.items():
            assert achieved[level] == pytest.approx(share, abs=1e-6), (var, level)
        known = {k: v for k, v in margin.items() if k != schemes.MISSING}
        total = sum(known.values())
        for level, share in known.items():  # known levels in the reference proportions
            assert share / total == pytest.approx(
                ref[var][level] / sum(ref[var].values()), abs=1e-9
            )


@pytest.mark.data
def test_2023_panel_shows_in_the_diagnostics():
    diag = schemes.diagnostics_table().set_index("year")
    assert diag.loc[2023, "panel_share"] == pytest.approx(137 / 489)
    assert diag["deff"].idxmax() == 2023
    assert (diag["converged"]).all()


@pytest.mark.data
def test_trend_has_ospo_weighted_and_unweighted():
    weighted = ospo_survey.survey(YEARS).trend("has_ospo")
    plain = ospo_survey.survey(YEARS, weights="unweighted").trend("has_ospo")
    assert set(weighted["year"]) == set(YEARS)
    has = weighted[weighted["level"] == "has"].set_index("year")
    has_plain = plain[plain["level"] == "has"].set_index("year")
    # weighting to the reference composition pulls the 2023 panel year down
    assert has.loc[2023, "estimate"] < has_plain.loc[2023, "estimate"]
    h = ospo_survey.load_harmonized(2023)
    assert has_plain.loc[2023, "estimate"] == pytest.approx(
        (h["has_ospo"] == "has").sum() / h["has_ospo"].notna().sum())
    for t in (has, has_plain):
        assert t["ci_low"].between(0, 1).all() and t["ci_high"].between(0, 1).all()
        assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()
    assert np.allclose(weighted.groupby("year")["estimate"].sum(), 1.0)


@pytest.mark.data
def test_trend_cli_prints_the_table():
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "trend", "has_ospo"],
        capture_output=True, text=True, check=True,
    )
    table = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False, na_values=[""])
    assert set(COLUMNS) | {"note"} <= set(table.columns)
    assert len(table) == 3 * len(YEARS)
    api = ospo_survey.survey(YEARS).trend("has_ospo")
    np.testing.assert_allclose(table["estimate"], api["estimate"], rtol=1e-12)
    assert "2023 includes 137 paid-panel respondents" in proc.stderr
    without = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "trend", "has_ospo", "--exclude-panel"],
        capture_output=True, text=True, check=True,
    )
    assert "2023: without its 137 paid-panel respondents" in without.stderr


@pytest.mark.data
def test_weights_cli_is_the_designs_diagnostics():
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "weights"], capture_output=True, text=True,
        check=True,
    )
    table = pd.read_csv(io.StringIO(proc.stdout))
    assert table["year"].tolist() == YEARS
    h = ospo_survey.load_harmonized()
    assert table["n"].tolist() == h.groupby("year").size().tolist()
    w = ospo_survey.survey(YEARS).frame
    kish = w.groupby("year")["weight"].apply(lambda x: len(x) * (x**2).sum() / x.sum() ** 2)
    np.testing.assert_allclose(table["deff"], kish.to_numpy(), rtol=1e-9)


@pytest.mark.data
def test_freq_weighted_columns():
    f = frequencies(2023, "q9", weights="reference", sample="harmonized")
    assert list(f.columns[-4:]) == ["pct_w", "ci_low", "ci_high", "n_eff"]
    assert f["pct_w"].sum() == pytest.approx(100.0)
    assert ((f["ci_low"] <= f["pct_w"]) & (f["pct_w"] <= f["ci_high"])).all()
    plain = frequencies(2023, "q9", weights="unweighted", sample="harmonized")
    assert np.allclose(plain["pct_w"], plain["pct"])


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(TargetsError, match="unknown weighting scheme 'nope'"):
        schemes.targets("nope")
