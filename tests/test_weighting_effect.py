"""Weighting said as it is: how far the weights move the headline, and what the cap did."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _site import ensure_processed

import ospo_survey
from ospo_survey.analysis import policy
from ospo_survey.analysis.weighting import EFFECT_COLUMNS, weighting_effect
from ospo_survey.inference import schemes
from ospo_survey.inference import weights as W
from ospo_survey.ingest.dataset import load_harmonized
from ospo_survey.ingest.settings import available_years

pytestmark = pytest.mark.data


def _hand_shares(frame: pd.DataFrame, weight: np.ndarray | None) -> pd.DataFrame:
    """Each year's has_ospo shares among those who answered, counted in pandas."""
    col = frame["has_ospo"].astype(object)
    base = col.notna() & ~col.isin(policy.UNKNOWN_LEVELS)
    w = pd.Series(np.ones(len(frame)) if weight is None else weight, index=frame.index)
    num = w[base].groupby([frame.loc[base, "year"], col[base]]).sum()
    den = w[base].groupby(frame.loc[base, "year"]).sum()
    return (num / den.reindex(num.index.get_level_values(0)).to_numpy()).rename("share")


def test_weighting_effect_equals_a_hand_count() -> None:
    ensure_processed()
    years = available_years()
    effect = weighting_effect()
    assert list(effect.columns) == EFFECT_COLUMNS
    frame = ospo_survey.survey(years).frame
    weighted = _hand_shares(frame, frame["weight"].to_numpy())
    unweighted = _hand_shares(frame, None)
    assert len(effect) == len(weighted) == 3 * len(years)
    for row in effect.itertuples(index=False):
        key = (row.year, row.level)
        assert row.unweighted == pytest.approx(unweighted[key], abs=1e-12)
        assert row.weighted == pytest.approx(weighted[key], abs=1e-12)
        assert row.effect == pytest.approx(weighted[key] - unweighted[key], abs=1e-12)
        assert "pooled from 2018-2024" in row.targets
    counts = frame.groupby(["year", "has_ospo"], observed=True).size()
    assert effect.set_index(["year", "level"])["count"].to_dict() == {
        (int(y), str(lv)): int(k) for (y, lv), k in counts.items()}


@pytest.mark.parametrize("year", [2023, 2024])
def test_no_trimmed_claim_when_no_weight_reached_the_cap(year) -> None:
    """The weights stay far under the cap: diagnostics say trimmed False and the methods
    paragraph says no weight reached the cap, naming the largest weight."""
    from ospo_survey.rendering.year_page import YearPage

    s = ospo_survey.survey(year)
    info = s.weight_info[year]
    cap = schemes.TRIM["max_ratio"]
    top = float(s.frame["weight"].max())
    assert top < cap
    assert not bool(s.diagnostics()["trimmed"].iloc[0])
    html = YearPage(year).methods_section().html
    assert "trimmed" not in html
    assert f"no weight reached the cap (the largest is {top:.2f} times the mean)" in html
    assert info.trim_sentence in html


def test_trimmed_only_when_a_weight_was_capped() -> None:
    """A cap that binds (1.9 times the mean on 2023, whose largest raked weight is above it)
    is reported as trimmed, with the number of weights cut."""
    frame = load_harmonized([2023], sample="harmonized", columns=["org_size", "tech_industry"])
    data, margins = schemes._margins_for(frame, schemes.targets("reference"))
    free = W.weight(data, margins, tol=1e-8, max_iter=500)
    assert free.weights.max() > 1.9
    assert not W.weight(data, margins, tol=1e-8, max_iter=500,
                        trim={"max_ratio": 8.0}).diagnostics.trimmed
    capped = W.weight(data, margins, tol=1e-6, max_iter=2000, trim={"max_ratio": 1.9})
    assert capped.diagnostics.trimmed and capped.diagnostics.summary()["trimmed"]
    over = int((free.weights > 1.9).sum())
    info = schemes.WeightInfo("reference", capped.weights, margins,
                              diagnostics=capped.diagnostics, trim={"max_ratio": 1.9})
    assert info.capped
    assert info.trim_sentence == (
        f"weights are capped at 1.9 times the mean ({over:,} weight{'' if over == 1 else 's'}"
        " reached the cap)")
