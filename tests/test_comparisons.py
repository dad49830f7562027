"""Comparisons that hold: the 2023 paid panel named and left out of the trend, no test across a
series break, p-values labelled as sampling noise, harmonised beside publisher figures on the
index, and the publisher comparison's three outcomes.

Expected values are recomputed here with pandas from ``load_harmonized`` and the targets, not
read back from the code under test.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pytest

import ospo_survey
from ospo_survey.analysis.common import config
from ospo_survey.analysis.headlines import headline_table
from ospo_survey.analysis.trends import TrendsAnalysis
from ospo_survey.inference.schemes import compute_weights, targets
from ospo_survey.ingest.harmonize import panel_level
from ospo_survey.rendering import plotting
from ospo_survey.rendering.index_page import page_card
from ospo_survey.rendering.trends_page import TrendsPage
from ospo_survey.rendering.year_page import YearPage

pytestmark = pytest.mark.data


@cache
def trends() -> TrendsPage:
    return TrendsPage("reference")


@cache
def year_page(year: int) -> YearPage:
    return YearPage(year, "reference")


def _panel(frame: pd.DataFrame) -> pd.Series:
    return frame["channel"].astype(object) == panel_level()


def test_the_2023_panel_is_what_the_issue_describes():
    h = ospo_survey.load_harmonized([2023], sample="publisher")
    panel = _panel(h)
    large = h["org_size"].astype(object).isin(["1,001-10,000", "over 10,000"])
    has = h["has_ospo"].astype(object)
    assert int(panel.sum()) == 137
    p = year_page(2023).analysis.panel()
    assert p["n"] == 137
    assert p["has_ospo_panel"] == pytest.approx((has[panel].dropna() == "has").mean())
    assert p["has_ospo_same_size_rest"] == pytest.approx(
        (has[large & ~panel].dropna() == "has").mean())
    assert round(100 * p["has_ospo_panel"]) == 91
    assert round(100 * p["has_ospo_same_size_rest"]) == 65
    assert year_page(2022).analysis.panel() is None


def test_trend_leaves_the_panel_out_and_re_rakes_to_the_same_targets():
    tr = trends().analysis
    assert tr.panel_years == [2023]
    h = ospo_survey.load_harmonized([2023])
    kept = tr.frame[tr.frame["year"] == 2023]
    assert len(kept) == int((~_panel(h)).sum()) and not _panel(kept).any()
    # the re-raked weights hit the targets on the rows that are left (known answers)
    spec = targets("reference")
    for var, margin in spec["margins"].items():
        col = kept[var].astype(object)
        known = col.isin(list(margin))
        if not known.any():
            continue
        w = kept["_w"].where(known, 0.0)
        got = w.groupby(col).sum() / w.sum()
        want = pd.Series(margin, dtype=float)
        want = want / want.sum()
        assert np.allclose(got.reindex(want.index).fillna(0), want, atol=1e-4), var
    # the marked with-panel value is the year's ordinary weighted estimate
    s = tr.series("has_ospo", "has")
    marked = s[s["series"] == tr.panel_label]
    assert marked["year"].tolist() == [2023]
    full = h.copy()
    full["_w"] = compute_weights(full, 2023, "reference").weights.to_numpy()
    known = full["has_ospo"].notna()
    want = (full["_w"] * (full["has_ospo"] == "has"))[known].sum() / full["_w"][known].sum()
    assert float(marked["estimate"].iloc[0]) == pytest.approx(want)
    main = s[(s["series"] == tr.main_label) & (s["year"] == 2023)]
    assert float(main["estimate"].iloc[0]) < want - 0.03  # the panel raises 2023


def test_no_year_over_year_test_across_a_break():
    tr = trends()
    d = tr.analysis.year_over_year("has_ospo", "has", "has an OSPO")
    breaks = config()["trend_breaks"]
    for r in d.itertuples(index=False):
        across = any(r[1] <= b["after"] and b["before"] <= r[2] for b in breaks)
        if across:
            assert not r.tested and np.isnan(r.p_value) and "not tested" in r.why
        else:
            assert r.tested and 0 <= r.p_value <= 1
    assert d["tested"].any() and (~d["tested"]).any()
    html = tr.differences().html
    assert "sampling noise only" in html and "not tested" in html
    assert "without the paid panel" in html


def test_trend_lines_stop_at_the_break():
    tr = trends()
    chart = tr.chart(tr.analysis.adoption_series(), "Adoption")
    svg = chart.svg
    breaks = [float(x) for x in re.findall(r'<line x1="([\d.]+)"[^>]*stroke-dasharray', svg)]
    assert len(breaks) == len(config()["trend_breaks"]) == 1
    lines = [[float(p.split(",")[0]) for p in pts.split()]
             for pts in re.findall(r'<polyline points="([^"]+)"', svg)]
    assert len(lines) == 2 * 2  # two line series (unweighted, standardised), two runs each
    for xs in lines:
        assert not any(min(xs) < b < max(xs) for b in breaks)
    # the with-panel value is an open marker (white fill), not joined to any line
    assert re.search(r'<circle [^>]*fill="#ffffff" stroke=', svg)


def test_the_trends_page_holds_the_analysis_it_is_given():
    tr = trends()
    again = TrendsPage.from_analysis(tr.analysis)
    assert again.analysis is tr.analysis and not isinstance(again, TrendsAnalysis)
    assert again.summary() == tr.summary()


def test_trends_findings_describe_the_whole_series():
    text = " ".join(f["text"] for f in trends().findings())
    for year in (2018, 2021, 2022, 2024):
        assert str(year) in text
    assert "without its paid panel" in text
    assert "change of screening" in text


def test_the_2023_page_names_the_panel_where_its_figures_include_it():
    page = year_page(2023)
    findings = page.key_findings().html
    assert "paid panel" in findings and "Without the panel" in findings
    assert "paid panel" in page.title_block().html
    caps = page.adoption_section().html
    assert caps.count("paid panel") >= 2  # every chart caption names it
    assert "paid panel" not in year_page(2022).adoption_section().html


def test_index_cards_lead_with_the_comparable_figure_and_label_the_publisher_one():
    """A year card leads with the comparable series (the trends summary's, from the API) and
    gives the publisher's sample labelled as such; the 2023 card says its panel runs high.
    (The old cards led with the publisher's sample and repeated one paragraph on every card.)"""
    tr = trends().summary()
    comparable = {r["year"]: r for r in tr["comparable"]}
    for year in (2022, 2023):
        ys = year_page(year).summary()
        card = page_card(ys, tr)
        want = plotting.pct(comparable[year]["estimate"])
        assert f'<p class="big">{want} <span>have an OSPO (comparable sample' in card
        unweighted = plotting.pct(ys["has_ospo_unweighted"]["estimate"])
        assert f"Publisher&#x27;s sample, as published (unweighted): {unweighted}" in card
        assert "harmonised one screens every year the same way" not in card
    card2023 = page_card(year_page(2023).summary(), tr)
    assert "without the paid panel" in card2023 and "paid panel" in card2023
    assert "paid panel" not in page_card(year_page(2022).summary(), tr)



def test_weighting_is_described_in_plain_words():
    words = trends().weighting_words()
    labels = {v: ospo_survey.ingest.harmonize.definitions()[v]["label"]
              for v in targets("reference")["margins"]}
    assert words.startswith("standardised to a common")
    for label in labels.values():
        assert label.split(" (")[0].lower() in words
    assert "reference-weighted" not in trends().reading_guide().html


def test_publisher_comparison_has_three_outcomes():
    t = headline_table(2018).set_index("claim")
    smaller = t.loc["Smaller companies running an open source program"]
    assert smaller["status"] == "same number, different definition" and not smaller["reproduced"]
    assert t.loc["Programs located in software engineering or development", "status"] == "differs"
    assert (t["status"] == "reproduced").sum() == int(t["reproduced"].sum()) >= 5
    html = year_page(2018).headline_section().html
    assert "same number, different definition" in html


def test_trend_verb_names_the_panel_and_can_leave_it_out():
    import ospo_survey

    design = ospo_survey.survey([2022, 2023])
    default = design.trend("has_ospo")
    assert any("includes 137 paid-panel respondents" in n for n in default.attrs["notes"])
    without = design.without_panel().trend("has_ospo")
    assert any("without its 137 paid-panel respondents" in n for n in without.attrs["notes"])
    row = without[(without["year"] == 2023) & (without["level"] == "has")].iloc[0]
    tr = trends().analysis
    s = tr.series("has_ospo", "has")
    main = s[(s["series"] == tr.main_label) & (s["year"] == 2023)].iloc[0]
    assert float(row["estimate"]) == pytest.approx(float(main["estimate"]), rel=1e-12)
    assert int(row["n"]) == int(main["n"])
