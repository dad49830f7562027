"""Weighting schemes on the real data: reference targets, per-year weights, weighted tables."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ospo_survey.analysis.tables import frequencies
from ospo_survey.core.errors import TargetsError
from ospo_survey.inference import schemes
from ospo_survey.inference import weights as W
from ospo_survey.ingest.settings import available_years

YEARS = available_years()


def test_committed_reference_targets_match_the_data(tmp_path):
    """targets/reference.yaml is derived data: re-deriving it must give the same file."""
    fresh = W.write_targets(schemes.derive_reference(), tmp_path / "reference.yaml")
    committed = schemes.TARGETS_DIR / "reference.yaml"
    assert fresh.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    spec = W.load_targets(committed)
    assert set(spec["margins"]) == {"org_size", "tech_industry"}
    for shares in spec["margins"].values():
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)


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


def test_2023_panel_shows_in_the_diagnostics():
    diag = schemes.diagnostics_table().set_index("year")
    assert diag.loc[2023, "panel_share"] == pytest.approx(137 / 489)
    assert diag["deff"].idxmax() == 2023
    assert (diag["converged"]).all()


def test_trend_has_ospo_weighted_and_unweighted():
    t = schemes.trend("has_ospo")
    assert set(t["year"]) == set(YEARS)
    has = t[t["level"] == "has"].set_index("year")
    # weighting to the reference composition pulls the 2023 panel year down
    assert has.loc[2023, "estimate_w"] < has.loc[2023, "estimate"]
    for col in ("ci_low", "ci_high", "ci_low_w", "ci_high_w"):
        assert has[col].between(0, 1).all()
    assert (has["ci_low_w"] < has["estimate_w"]).all()
    assert (has["estimate_w"] < has["ci_high_w"]).all()
    sums = t.groupby("year")["estimate_w"].sum()
    assert np.allclose(sums, 1.0)


def test_trend_cli_prints_the_table():
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "trend", "has_ospo"],
        capture_output=True, text=True, check=True,
    )
    table = pd.read_csv(io.StringIO(proc.stdout))
    assert {"estimate", "estimate_w", "ci_low_w", "ci_high_w", "n_eff_w"} <= set(table.columns)
    assert len(table) == 3 * len(YEARS)


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
