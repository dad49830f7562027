"""One number per fact: every page's ``facts.json`` on the built site, checked together.

A fact (a number stated for a population, a year and a measure) has one id on every page that
states it; two pages giving one id two values is the bug these tests catch (the 2021 OSPO
share stated as 34% on one page and 40% on another, with nothing beside either to say why).
Expected values come from the public API (``ospo_survey.survey(...)``) or a hand count in
pandas, computed here, never copied from a page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _site import SITE_YEARS, build_site, pages

import ospo_survey
from ospo_survey.core.errors import ReportError
from ospo_survey.ingest.harmonize import panel_level
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering.facts import facts_json, merged
from ospo_survey.rendering.formats import pct


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(tmp_path_factory)


def _all_facts(site: Path) -> dict[Path, list[dict]]:
    return {p: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(site.rglob("facts.json"))}


def _values(site: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for facts in _all_facts(site).values():
        for f in facts:
            out[f["id"]] = f["value"]
    return out


def _has(frame, year: int) -> float:
    row = frame[(frame["level"] == "has") & (frame["year"] == year)]
    assert len(row) == 1
    return float(row["estimate"].iloc[0])


def test_merged_refuses_one_fact_with_two_numbers():
    one = {"id": "has_ospo/harmonized/reference/2021", "value": 0.4, "definition": "a"}
    two = {**one, "value": 0.34}
    assert merged([one, dict(one)]) == [one]
    with pytest.raises(ReportError, match="has_ospo/harmonized/reference/2021"):
        merged([one, two])
    # sorted by id whatever the order given: the same facts give the same bytes
    later = {"id": "respondents/publisher/2021", "value": 1141, "definition": "b"}
    assert facts_json([later, one]) == facts_json([one, later])


@pytest.mark.data
def test_every_page_writes_its_facts_and_no_fact_has_two_values(site):
    found = _all_facts(site)
    folders = {p.parent for p in found}
    assert site in folders and site / "trends" in folders  # the index and the trends page
    assert {site / str(y) for y in SITE_YEARS} <= folders  # every year page
    seen: dict[str, tuple[object, Path]] = {}
    conflicts = []
    for path, facts in found.items():
        ids = [f["id"] for f in facts]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), path
        for f in facts:
            assert set(f) == {"id", "value", "definition"} and f["definition"], f
            assert f["id"].count("/") >= 2, f  # measure/sample[/weights]/year
            old = seen.setdefault(f["id"], (f["value"], path))
            if old[0] != f["value"]:
                conflicts.append(f"{f['id']}: {old[0]} ({old[1]}) vs {f['value']} ({path})")
    assert conflicts == []
    # the facts several pages state are the ones that could disagree: check they are shared
    shared = [i for i in seen if sum(i in {f["id"] for f in v} for v in found.values()) > 1]
    assert any(i.startswith("has_ospo/harmonized/") for i in shared)
    assert any(i.startswith("has_ospo/publisher/unweighted/") for i in shared)


@pytest.mark.data
def test_the_comparable_series_facts_are_the_api(site):
    """has_ospo on the comparable sample (harmonised, reference weights, the 2023 paid panel
    left out and the rest re-weighted) is ``survey(years).without_panel()``, every year."""
    values = _values(site)
    years = available_years()
    design = ospo_survey.survey(years)
    without = design.without_panel().proportion("has_ospo")
    with_panel = design.proportion("has_ospo")
    panel = design.frame["channel"].astype(object) == panel_level()
    panel_years = sorted(int(y) for y in design.frame.loc[panel, "year"].unique())
    assert panel_years == [2023]
    for y in years:
        sample = "harmonized_without_panel" if y in panel_years else "harmonized"
        assert values[f"has_ospo/{sample}/reference/{y}"] == pytest.approx(
            _has(without, y), abs=5e-5), y
    assert values["has_ospo/harmonized/reference/2023"] == pytest.approx(
        _has(with_panel, 2023), abs=5e-5)


@pytest.mark.data
@pytest.mark.parametrize("year", SITE_YEARS)
def test_year_page_facts_are_the_api_and_a_hand_count(site, year):
    values = _values(site)
    h = ospo_survey.load_harmonized([year], sample="publisher")
    assert values[f"respondents/publisher/{year}"] == len(h)
    answered = h["has_ospo"].notna()
    hand = float((h.loc[answered, "has_ospo"].astype(object) == "has").mean())
    assert values[f"has_ospo/publisher/unweighted/{year}"] == pytest.approx(hand, abs=5e-5)
    api = ospo_survey.survey(year, sample="publisher").proportion("has_ospo")
    assert values[f"has_ospo/publisher/reference/{year}"] == pytest.approx(
        _has(api, year), abs=5e-5)


@pytest.mark.data
@pytest.mark.parametrize("year", SITE_YEARS)
def test_pages_show_the_numbers_their_facts_state(site, year):
    """The figure each page prints for the comparable share is the API's, on the year page
    (its first key finding), its card on the index and the front page's chart."""
    years = available_years()
    est = ospo_survey.survey(years).without_panel().proportion("has_ospo")
    want = pct(_has(est, year))
    html = pages(site)[str(year)].read_text(encoding="utf-8")
    findings = html[html.index('id="key-findings"'):html.index('id="how-to-read"')]
    assert f"<strong>{want} of respondents&#x27;" in findings or \
        f"<strong>{want} of respondents'" in findings
    index = pages(site)["index"].read_text(encoding="utf-8")
    card = index[index.index(f'id="y{year}"'):]
    card = card[:card.index("</article>")]
    assert f'<p class="big">{want} <span>have an OSPO (comparable sample' in card
