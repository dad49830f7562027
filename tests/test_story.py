"""Pages for readers: what a reader sees in Chromium before the appendices, and the front page.

A year page's story (everything above its first appendix heading) fits in about ten screens at
1280 px; the machinery (model diagnostics, weighting, stage rules) is below it, in appendices
whose ids begin with ``appendix``; key findings lead with the finding in under 25 words and
never open with method; the glossary the pages link to exists. The front page charts the
comparable series with the API's numbers. Expected values come from ``ospo_survey.survey``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _site import SITE_YEARS, build_site, pages
from test_browser import _open, browser  # noqa: F401  (the browser fixture)

import ospo_survey
from ospo_survey.ingest.harmonize import panel_level
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering.formats import pct

pytestmark = pytest.mark.data

WIDTH = 1280
#: About ten screens: ten 1280 x 1024 screens.
STORY_MAX_PX = 10 * 1024
#: Words of model diagnostics and weighting machinery, which belong in the appendices.
MACHINERY = ("design effect", "raking", "raked", "converge", "separation", "logistic",
             "guttman", "reproducibility", "kish", "linearis", "wilson", "iterative proportional",
             "maturity.yaml", "reports.yaml", "todo5", "answered one way only")
#: How a finding must not begin: with its method.
METHOD_OPENINGS = ("adjusted", "weighted", "weighting", "the analysis", "effective",
                   "on the harmonised", "estimates", "standardised", "using", "based on")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(tmp_path_factory)


# What a reader sees above the first appendix: the story's height and its visible text.
STORY = """() => {
    const first = Array.from(document.querySelectorAll('h2[id]'))
        .find(h => h.id.startsWith('appendix'));
    if (!first) return null;
    const top = first.getBoundingClientRect().top + window.scrollY;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (!(first.compareDocumentPosition(n) & Node.DOCUMENT_POSITION_PRECEDING)) continue;
        const el = n.parentElement;
        if (!el || el.closest('nav.toc')) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        if (getComputedStyle(el).visibility !== 'visible') continue;
        parts.push(n.textContent);
    }
    const h2 = Array.from(document.querySelectorAll('h2[id]')).map(h => h.id);
    return {top, text: parts.join(' '), ids: h2, first: first.id};
}"""


@pytest.mark.parametrize("year", SITE_YEARS)
def test_year_story_is_short_and_the_machinery_is_in_appendices(browser, site, year):  # noqa: F811
    page, problems, _ = _open(browser, pages(site)[str(year)].as_uri(), width=WIDTH)
    try:
        got = page.evaluate(STORY)
        assert got is not None, "no appendix heading"
        assert got["top"] <= STORY_MAX_PX, f"{year}: story {got['top']:.0f} px"
        text = " ".join(got["text"].split()).lower()
        assert "key findings" in text and "who answered" in text
        found = [w for w in MACHINERY if w in text]
        assert found == [], f"{year}: {found} above the appendices"
        ids = got["ids"]
        after = ids[ids.index(got["first"]):]
        assert {"appendix-methods", "appendix-glossary", "appendix-headlines"} <= set(after)
        # nothing of the story comes after the first appendix
        assert not {"key-findings", "how-to-read", "who-answered", "adoption"} & set(after)
        # every glossary link lands on a glossary entry
        targets = page.evaluate("""() => Array.from(document.querySelectorAll(
            'a[href^="#glossary-"]')).map(a => [a.getAttribute('href').slice(1),
            !!document.getElementById(a.getAttribute('href').slice(1))])""")
        assert targets and all(ok for _, ok in targets), targets
        assert problems == []
    finally:
        page.close()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9−+“])", text.strip()) if s]


@pytest.mark.parametrize("year", SITE_YEARS)
def test_key_findings_lead_with_the_finding_in_short_sentences(browser, site, year):  # noqa: F811
    page, _, _ = _open(browser, pages(site)[str(year)].as_uri(), width=WIDTH)
    try:
        items = page.evaluate("""() => Array.from(document.querySelectorAll(
            'ul.findings > li')).map(li => ({lead: li.querySelector('strong').innerText,
            all: li.innerText}))""")
    finally:
        page.close()
    assert len(items) >= 4
    for item in items:
        lead = item["lead"]
        assert len(lead.split()) < 25, lead
        assert not lead.lower().startswith(METHOD_OPENINGS), lead
        for sentence in _sentences(item["all"]):
            assert len(sentence.split()) < 25, sentence
    leads = " ".join(i["lead"] for i in items)
    assert "effective sample" not in leads and "design effect" not in leads
    # findings about a question name its type, so two years' answers are not read as one
    typed = [i["lead"] for i in items if "most often" in i["lead"] or "most common" in i["lead"]]
    assert typed and all(re.match(r"^(Select-all list|Single-choice question|Impact rating|"
                                  r"Frequency scale|Criticality rating|Likelihood scale|"
                                  r"Rating scale):", t) for t in typed), typed


def test_front_page_charts_the_comparable_series_from_the_api(browser, site):  # noqa: F811
    years = available_years()
    est = ospo_survey.survey(years).without_panel().proportion("has_ospo")
    est = est[est["level"] == "has"].set_index("year")
    page, problems, _ = _open(browser, pages(site)["index"].as_uri(), width=WIDTH)
    try:
        chart = page.locator("#series ~ figure.chart, section:has(#series) figure.chart").first
        assert chart.is_visible()
        rows = page.evaluate("""() => Array.from(document.querySelectorAll(
            'section:has(#series) details.numbers tbody tr')).map(tr =>
            Array.from(tr.cells).map(c => c.textContent.trim()))""")
        comparable = {int(r[0]): r for r in rows if r[1] == "comparable sample"}
        assert sorted(comparable) == years
        for y in years:
            r = est.loc[y]
            assert comparable[y][2] == pct(r["estimate"], 1), y
            assert comparable[y][3] == f"{pct(r['ci_low'], 1)}–{pct(r['ci_high'], 1)}", y
        # three quotable sentences, each with how to quote it, before the year cards
        quotes = page.locator("ol.quotable > li")
        assert quotes.count() == 3
        for k in range(3):
            assert quotes.nth(k).locator("p.how").inner_text().startswith("How to quote:")
        text = page.inner_text("main")
        assert text.index("How to quote") < text.index("Read the 2024 report")
        latest = pct(est.loc[years[-1], "estimate"])
        assert f"In {years[-1]}, {latest} of respondents' organisations" in text
        # the paragraph once repeated on every card is gone; the publisher's figure is labelled
        assert "The first figure uses the publisher's own sample" not in text
        assert text.count("Publisher's sample, as published") == len(SITE_YEARS)
        assert problems == []
    finally:
        page.close()


def test_claims_page_lists_each_claim_with_verdicts_from_the_api(browser, site):  # noqa: F811
    """Every claim of claims.yaml is on the page, linked from the front page as "Claims
    checked"; its verdict and the comparable shares are the API's, recomputed here."""
    from ospo_survey.analysis.claims import load_claims

    index, problems, _ = _open(browser, pages(site)["index"].as_uri(), width=WIDTH)
    try:
        link = index.get_by_role("link", name="Claims checked").first
        assert link.is_visible()
        href = link.get_attribute("href")
    finally:
        index.close()
    assert problems == []
    page, problems, _ = _open(browser, (site / href).as_uri(), width=WIDTH)
    try:
        claims = load_claims()
        for claim in claims:
            article = page.locator(f"#claim-{claim['id']}")
            assert article.is_visible(), claim["id"]
            text = " ".join(article.inner_text().split())
            assert " ".join(str(claim["quote"]).split()) in text
            if claim["kind"] != "change" or claim.get("subset"):
                continue
            a, b = (int(y) for y in claim["years"])
            design = ospo_survey.survey([a, b])
            panel = design.frame["channel"].astype(object) == panel_level()
            if panel.any():
                design = design.without_panel()
            levels = claim["level"] if isinstance(claim["level"], list) else [claim["level"]]
            d = design.difference(claim["variable"], "x", combine={"x": levels}).iloc[0]
            est = design.proportion(claim["variable"], combine={"x": levels})
            est = est[est["level"] == "x"].set_index("year")["estimate"]
            for y in (a, b):
                assert f"{y}: {pct(est[y])} (" in text, (claim["id"], y)
            if not np.isfinite(d["ci_low"]):
                assert "Not tested" in text
                continue
            sign = 1 if claim["direction"] == "up" else -1
            lo, hi = sorted((sign * d["ci_low"], sign * d["ci_high"]))
            want = ("Holds" if lo > 0 else "Reversed" if hi < 0 else "Not shown")
            if claim["direction"] == "same":
                want = ("Holds: no change beyond sampling noise"
                        if d["ci_low"] <= 0 <= d["ci_high"] else "Does not hold")
            assert f"Verdict on the comparable series: {want}" in text, (claim["id"], text)
            diff = f"{100 * d['estimate']:+.1f}".replace("-", "−")
            assert f"is {diff} points" in text
        # the 2023 claim crosses the paid panel and says so
        panel_claims = [c["id"] for c in claims if 2023 in c.get("years", [])]
        for cid in panel_claims:
            assert "paid panel" in page.locator(f"#claim-{cid}").inner_text()
        assert problems == []
    finally:
        page.close()
