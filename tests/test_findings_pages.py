"""The findings on the pages: "What goes with having an OSPO" (raw beside adjusted), "Maturity"
by OSPO status with how well each ladder nests, OSPO age against criticality and benefits, the
key findings' strongest adjusted contrasts and change from the previous comparable year, and
maturity across the years on the trends page.

Expected values are recomputed here with pandas from ``load_harmonized`` (hand counts, with
statsmodels' Wilson interval as the oracle for the unweighted intervals) and, for the change
between years, from ``ospo_survey.survey(...).proportion``.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd
import pytest

import ospo_survey
from ospo_survey.analysis import maturity as M
from ospo_survey.ingest.harmonize import definitions, panel_level
from ospo_survey.rendering.trends_page import TrendsPage
from ospo_survey.rendering.year_page import YearPage

pytestmark = pytest.mark.data

# the practices of the associations table: matrix variable -> (the answer counted, the answers
# of the base: every answer but "don't know"), and the words after the practice's label
PRACTICES = {
    "activity": ("frequently", ["never", "rarely", "sometimes", "frequently"], "frequently"),
    "policy": ("yes", ["yes", "no"], "formal policy"),
}


@cache
def page(year: int, weights: str = "reference") -> YearPage:
    return YearPage(year, weights)


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _table(html: str) -> dict[str, list[str]]:
    """A rendered table's body: first cell -> the row's other cells, in column order."""
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", html)
    return {first: re.findall(r"<td[^>]*>(.*?)</td>", rest) for first, rest in rows}


def _hand_count(h: pd.DataFrame, column: str, counted: str, base: list[str], group: str):
    """(respondents giving ``counted``, respondents answering within ``base``) in ``group``."""
    answer = h[column].astype(object)
    in_group = h["has_ospo"].astype(object) == group
    return int((in_group & (answer == counted)).sum()), int((in_group & answer.isin(base)).sum())


def _korn_graubard(k: int, n: int, rows: int) -> tuple[float, float]:
    """R's svyciprop(method="beta") for an unweighted domain of n in a design of ``rows``: the
    linearised variance is rows/(rows-1) p(1-p)/n, so the effective n is n (rows-1)/rows."""
    from scipy import stats

    p, m = k / n, n * (rows - 1) / rows
    return (stats.beta.ppf(0.025, p * m, m - p * m + 1) if k else 0.0,
            stats.beta.ppf(0.975, p * m + 1, m - p * m) if k < n else 1.0)


def test_associations_section_shows_raw_beside_adjusted_with_the_caveat():
    """Each practice's row shows, in its own cells, the raw share with an OSPO and without (and
    their Korn-Graubard intervals: the page is unweighted) and the two bases, all counted by
    hand."""
    html = page(2022, "none").associations_section().html
    assert "What goes with having an OSPO" in html
    assert "adjusted for organisation size and technology industry" in html
    assert "not effects of having an OSPO" in html and "sampling noise only" in html
    assert "org_size" not in html and "tech_industry" not in html  # words, not names
    h = ospo_survey.load_harmonized([2022], sample="publisher")
    table = _table(html)
    checked = 0
    for var, (counted, base, words) in PRACTICES.items():
        for key, label in definitions()[var]["rows"].items():
            cells = table[f"{label} ({words})"]
            want, bases = [], []
            for group in ("has", "none"):
                k, n = _hand_count(h, f"{var}_{key}", counted, base, group)
                low, high = _korn_graubard(k, n, len(h))
                want.append(f"{_pct(k / n)} ({_pct(low)}–{_pct(high)})")
                bases.append(f"{n:,}")
            assert cells[:2] == want, (var, key)  # with an OSPO, raw; without, raw
            assert cells[-1] == " / ".join(bases), (var, key)  # n (with / without)
            checked += 1
    assert checked == 11  # 7 activities, 4 policies: every practice asked in 2022
    assert table["Contribute code upstream (frequently)"][-1] == "454 / 302"  # by hand, once


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
    scale = M.scalability(page(2022).analysis.design, "haddad")  # H, not Guttman's CR
    assert f"H {scale['H'].iloc[0]:.2f}" in html
    assert (scale["item_fit"] == "does not fit").any() and "does not fit the ladder" in html
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
    # each contrast's bases, counted by hand
    h22 = ospo_survey.load_harmonized([2022], sample="publisher")
    for k in contrasts:
        column = k.removeprefix("contrast_")
        counted, base, _ = PRACTICES[column.split("_", 1)[0]]
        n_has = _hand_count(h22, column, counted, base, "has")[1]
        n_none = _hand_count(h22, column, counted, base, "none")[1]
        assert f"n = {n_has:,} and {n_none:,})" in f22[k], f22[k]
    # the change from 2022: the harmonised series, reference weights, without the paid panel
    est = ospo_survey.survey([2022, 2023], exclude={"channel": [panel_level()]}).proportion(
        "has_ospo")
    has = est[est["level"] == "has"].set_index("year")["estimate"]
    assert (f"from {_pct(has[2022])} in 2022 to {_pct(has[2023])} in 2023 "
            f"({100 * (has[2023] - has[2022]):+.1f} points") in f23["change"], f23["change"]


def test_trends_page_shows_maturity_across_years_without_unmeasured_stages():
    tr = TrendsPage("reference")
    s = tr.analysis.maturity_series("haddad")
    assert set(s["year"]) == set(tr.analysis.years)
    assert not ((s["year"] == 2018) & (s["stage"] == "participation")).any()
    assert ((s["year"] == 2019) & (s["stage"] == "participation")).any()
    for year, part in s.groupby("year"):
        assert part["estimate"].sum() == pytest.approx(1.0, abs=1e-9) or year == 2018
    html = tr.maturity_section().html
    assert "Maturity across the years" in html and "no verdict" in html  # H, not CR
