"""The findings on the pages: "What goes with having an OSPO" (raw beside adjusted), "Maturity"
by OSPO status with how well each ladder nests, OSPO age against criticality and benefits, the
key findings' strongest adjusted contrasts and change from the previous comparable year, and
maturity across the years on the trends page.

Expected values are recomputed here with pandas from ``load_harmonized``.
"""

from __future__ import annotations

import re
from functools import cache

import pytest

import ospo_survey
from ospo_survey.analysis import maturity as M
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.trends_page import TrendsPage
from ospo_survey.rendering.year_page import YearPage


@cache
def page(year: int, weights: str = "reference") -> YearPage:
    return YearPage(year, weights)


def test_associations_section_shows_raw_beside_adjusted_with_the_caveat():
    html = page(2022, "none").associations_section().html
    assert "What goes with having an OSPO" in html
    assert "adjusted for organisation size and technology industry" in html
    assert "not effects of having an OSPO" in html and "sampling noise only" in html
    h = ospo_survey.load_harmonized([2022], sample="publisher")
    valid = h["activity_contribute"].astype(object).isin(
        ["never", "rarely", "sometimes", "frequently"])
    for group in ("has", "none"):
        rows = h[valid & (h["has_ospo"].astype(object) == group)]
        share = (rows["activity_contribute"].astype(object) == "frequently").mean()
        assert P.pct(share) in html
    row = re.search(r"<tr><td>Contribute code upstream \(frequently\)</td>(.*?)</tr>", html)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[-1] == f"{int((valid & (h['has_ospo'] == 'has')).sum()):,} / " \
                        f"{int((valid & (h['has_ospo'] == 'none')).sum()):,}"
    assert "org_size" not in html and "tech_industry" not in html  # words, not names


def test_age_contrast_matches_a_hand_count():
    got = page(2022, "none").analysis.age_contrast()
    crit = got[got["measure"].str.contains("extremely or very critical")]
    h = ospo_survey.load_harmonized([2022], sample="publisher")
    has = h[h["has_ospo"].astype(object) == "has"]
    c = has["criticality"].astype(object)
    known = c.notna() & (c != "don't know")
    for age, part in has[known].groupby(has["ospo_age"].astype(object)):
        if age == "don't know":
            continue
        want = part["criticality"].astype(object).isin(
            ["extremely critical", "very critical"]).mean()
        row = crit[crit["age"].astype(str) == age]
        assert float(row["estimate"].iloc[0]) == pytest.approx(want), age
    assert got["measure"].str.startswith("Benefit: ").sum() == 3 * crit["age"].nunique()


def test_maturity_section_names_each_ladder_and_whether_it_holds():
    html = page(2022).maturity_section().html
    for model in M.models().values():
        assert model.label in html
        for stage in model.stages:
            assert stage.label in html
    cr = M.reproducibility([2022], "haddad")
    assert f"CR {cr['cr'].iloc[0]:.2f}" in html
    assert "does not hold" in html  # the haddad ladder's CR is under 0.90 in 2022
    assert "compliance_education" not in html  # stage names are words


def test_key_findings_state_contrasts_and_the_change_from_the_previous_year():
    f22 = {f["id"]: f["text"] for f in page(2022).findings()}
    assert "not compared with 2021" in f22["change"]
    contrasts = [k for k in f22 if k.startswith("contrast_")]
    assert len(contrasts) == 2
    for k in contrasts:
        assert "Adjusted for organisation size and technology industry" in f22[k]
        assert "an association among respondents, not an effect" in f22[k]
    f23 = {f["id"]: f["text"] for f in page(2023).findings()}
    assert "2022 to" in f23["change"] and "sampling noise only" in f23["change"]
    assert "without the paid panel" in f23["change"]
    # the strongest contrast is the largest adjusted gap among the page's outcomes
    a = page(2022).analysis.associations()
    none = a[(a["group"] == "none") & a["diff"].notna()]
    top = none.loc[none["diff"].abs().idxmax(), "outcome"]
    assert f"contrast_{top}" in f22


def test_trends_page_shows_maturity_across_years_without_unmeasured_stages():
    tr = TrendsPage("reference")
    s = tr.analysis.maturity_series("haddad")
    assert set(s["year"]) == set(tr.analysis.years)
    assert not ((s["year"] == 2018) & (s["stage"] == "participation")).any()
    assert ((s["year"] == 2019) & (s["stage"] == "participation")).any()
    for year, part in s.groupby("year"):
        assert part["estimate"].sum() == pytest.approx(1.0, abs=1e-9) or year == 2018
    html = tr.maturity_section().html
    assert "Maturity across the years" in html and "Coefficient of reproducibility" in html
