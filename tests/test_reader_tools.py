"""What a reader can do with the site (issue #20): link to one chart, download its numbers,
cite it, search, and follow one question across every year.

Expected numbers come from the public API at test time (``ospo_survey.survey`` verbs), flags
from the codebooks, the citation from ``CITATION.cff``; the browser tests judge what Chromium
shows (computed visibility, links followed), from ``file://``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
import test_browser
import yaml
from _site import build_site, pages

import ospo_survey
from ospo_survey.core.errors import OspoSurveyError
from ospo_survey.core.meta import VERSION
from ospo_survey.ingest.fetch import UPSTREAM_COMMIT
from ospo_survey.rendering import plotting as P

ROOT = Path(__file__).resolve().parents[1]
CFF = ROOT / "CITATION.cff"


def _frame(levels=("alpha", "beta")) -> pd.DataFrame:
    k = len(levels)
    return pd.DataFrame({"level": list(levels), "estimate": [0.5] * k, "ci_low": [0.4] * k,
                         "ci_high": [0.6] * k, "n": [100] * k, "n_eff": [90.0] * k,
                         "suppressed": [False] * k, "reason": [""] * k})


# --------------------------------------------------------------------------- citation (unit)


def test_citation_cff_parses_and_says_what_cite_says():
    cff = yaml.safe_load(CFF.read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "date-released"):
        assert cff.get(key), f"CITATION.cff lacks {key}"
    assert str(cff["version"]) == VERSION == ospo_survey.__version__
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    data = [r for r in cff["references"] if r["type"] == "data"]
    assert len(data) == 1 and data[0]["commit"] == UPSTREAM_COMMIT
    assert data[0]["license"] == "CC-BY-SA-4.0" and data[0]["authors"][0]["name"] == "TODO Group"
    text = ospo_survey.cite()
    assert str(cff["date-released"]) in text and VERSION in text
    assert UPSTREAM_COMMIT in text and "CC-BY-SA-4.0" in text and "TODO Group" in text
    assert cff["title"] in ospo_survey.cite("toolkit")
    assert UPSTREAM_COMMIT not in ospo_survey.cite("toolkit")


def test_cite_rejects_an_unknown_part_in_one_line():
    with pytest.raises(OspoSurveyError, match="use one of"):
        ospo_survey.cite("everything")


# --------------------------------------------------------------------------- chart markup (unit)


def test_a_chart_id_comes_from_what_it_shows_not_its_place():
    """Adding a chart before another leaves the other's id (and CSV name) as it was."""
    alone = P.bar_ci(_frame(), title="Benefits of the OSPO (2024)")
    other = P.bar_ci(_frame(("x", "y")), title="Challenges (2024)")
    page_a = P.Html().add(alone).html
    page_b = P.Html().add(other, P.bar_ci(_frame(), title="Benefits of the OSPO (2024)")).html
    ids_a = re.findall(r'<figure class="chart"[^>]* id="([^"]+)"', page_a)
    ids_b = re.findall(r'<figure class="chart"[^>]* id="([^"]+)"', page_b)
    assert ids_a == ["chart-benefits-of-the-ospo-2024"]
    assert ids_b[1] == ids_a[0] and ids_b[0] != ids_b[1]
    keyed = P.bar_ci(_frame(), title="Any title", key="ospo_status-2024")
    assert keyed.figure_id == "chart-ospo-status-2024"


def test_a_chart_carries_its_permalink_csv_and_citation():
    chart = P.bar_ci(_frame(), title="Shares (2024)", question="Which one? (select one)",
                     weighting="Reference weights")
    html = chart.html
    assert f'href="#{chart.figure_id}"' in html and "Link to this chart" in html
    assert "Download the numbers (CSV)" in html and f'download="{chart.figure_id}.csv"' in html
    assert "Cite this" in html and UPSTREAM_COMMIT in html
    frame = chart.csv_frame()
    assert list(frame.columns) == ["year", "question", "level", "group", "estimate", "ci_low",
                                   "ci_high", "n", "weighting", "suppressed", "reason"]
    assert frame["year"].tolist() == [2024, 2024]  # from the title, as the page has none
    assert set(frame["question"]) == {"Which one? (select one)"}


def test_a_crafted_title_stays_text_in_the_figure_and_its_citation():
    chart = P.bar_ci(_frame(), title='<script>x</script> "q"')
    assert "<script>x" not in chart.html and "&lt;script&gt;" in chart.html


def test_a_repeated_chart_id_on_one_page_gets_a_suffix(tmp_path):
    from ospo_survey.site.charts import write_chart_files

    one = P.bar_ci(_frame(), title="Same title").html
    body, written = write_chart_files(one + one, tmp_path)
    ids = re.findall(r'<figure class="chart"[^>]* id="([^"]+)"', body)
    assert ids == ["chart-same-title", "chart-same-title-2"] and written == 2
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "chart-same-title-2.csv", "chart-same-title.csv"]
    assert 'href="#chart-same-title-2"' in body and "data:text/csv" not in body


# --------------------------------------------------------------------------- the built site




@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(tmp_path_factory)


def _figures(html: str) -> list[str]:
    return re.findall(r'<figure class="chart"[^>]* id="([^"]+)"', html)


@pytest.mark.data
@pytest.mark.parametrize("name", ["trends", "2024", "2019"])
def test_chart_ids_are_unique_and_every_chart_links_its_csv(site, name):
    page = pages(site)[name]
    html = page.read_text(encoding="utf-8")
    ids = _figures(html)
    assert len(ids) >= 5 and len(ids) == len(set(ids))
    assert "data:text/csv" not in html  # the numbers are files beside the page
    for fid in ids:
        assert f'href="#{fid}"' in html
    csvs = re.findall(r'download="([^"]+)" href="(charts/[^"]+\.csv)"', html)
    assert csvs, "no CSV link"
    for name_, href in csvs:
        assert (page.parent / href).is_file(), href
        assert name_.removesuffix(".csv") in ids


@pytest.mark.data
def test_chart_ids_are_stable_across_builds(site, tmp_path):
    """The question pages built again elsewhere give every chart the same id (and bytes)."""
    from ospo_survey.site.questions import build_questions

    build_questions(tmp_path, progress=None)
    for page in sorted((site / "questions").glob("*/index.html")):
        again = tmp_path / "questions" / page.parent.name / "index.html"
        assert again.read_bytes() == page.read_bytes(), page
        for csv_file in sorted((page.parent / "charts").glob("*.csv")):
            twin = again.parent / "charts" / csv_file.name
            assert twin.read_bytes() == csv_file.read_bytes(), csv_file


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8", newline="") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)))


@pytest.mark.data
@pytest.mark.parametrize("year", [2019, 2024])
def test_a_question_chart_csv_holds_the_apis_numbers(site, year):
    folder = site / "questions" / "ospo_status"
    html = (folder / "index.html").read_text(encoding="utf-8")
    fid = f"chart-ospo-status-{year}"
    assert fid in _figures(html)
    assert f'href="charts/{fid}.csv"' in html
    got = _read_csv(folder / "charts" / f"{fid}.csv")
    want = ospo_survey.survey(year, "harmonized", "reference").proportion("ospo_status")
    want = want[want["estimate"].notna()].reset_index(drop=True)
    got = got[got["estimate"] != ""].reset_index(drop=True)
    assert got["level"].tolist() == want["level"].astype(str).tolist()
    for col in ("estimate", "ci_low", "ci_high"):
        assert got[col].astype(float).tolist() == pytest.approx(want[col].tolist(), rel=1e-12)
    assert got["n"].astype(int).tolist() == want["n"].astype(int).tolist()
    assert set(got["year"]) == {str(year)}
    asked = ospo_survey.codebook(year, "ospo_status")["question"].unique()
    assert all(q.split("?")[0][:30] in got["question"].iloc[0] for q in asked)
    assert got["weighting"].iloc[0].startswith("Reference weights")


@pytest.mark.data
def test_the_panel_year_is_shown_without_its_panel_too(site):
    """2023's paid panel: a second chart without it, with the API's re-weighted numbers."""
    folder = site / "questions" / "has_ospo"
    s = ospo_survey.survey(2023, "harmonized", "reference").without_panel()
    panel_years = [y for y, k in s.excluded.items() if k]
    assert panel_years == [2023]
    got = _read_csv(folder / "charts" / "chart-has-ospo-2023-without-the-paid-panel.csv")
    want = s.proportion("has_ospo")
    assert got["estimate"].astype(float).tolist() == pytest.approx(
        want["estimate"].tolist(), rel=1e-12)
    assert got["n"].astype(int).tolist() == want["n"].astype(int).tolist()


@pytest.mark.data
def test_question_flags_follow_the_codebooks(site):
    """A year whose codebook says the question was not asked shows "not asked"; a year that
    asked it shows another flag; "same wording" years asked the same words."""
    from ospo_survey.ingest.harmonize import definitions
    from ospo_survey.ingest.processed import table

    summary = table("codebook")
    checked = 0
    for page in sorted((site / "questions").glob("*/index.html")):
        var = page.parent.name
        html = page.read_text(encoding="utf-8")
        rows = dict(re.findall(r'<tr><th scope="row">(\d{4})</th><td>([^<]*)</td>', html))
        mine = summary[summary["variable"] == var].set_index("year")
        spec = definitions()[var]
        source = spec["from"] if spec["type"] == "derived" else var
        previous = None
        for year, flag in sorted(rows.items()):
            y = int(year)
            asked = bool(mine.at[y, "asked"]) and not ospo_survey.codebook(y, source).empty
            assert (flag == "not asked") == (not asked), (var, year, flag)
            if asked:
                words = {re.sub(r"\(.*?\)|[^a-z0-9]", "", q.lower())
                         for q in ospo_survey.codebook(y, source)["question"]}
                if flag == "same wording":
                    assert words == previous, (var, year)
                previous = words
            checked += 1
    assert checked >= 7 * 20


@pytest.mark.data
def test_every_question_page_is_listed_and_linked_from_the_year_pages(site):
    index = (site / "questions" / "index.html").read_text(encoding="utf-8")
    listed = set(re.findall(r'<a href="([a-z0-9_]+)/index\.html">', index))
    built = {p.parent.name for p in (site / "questions").glob("*/index.html")}
    assert listed == built and "ospo_status" in built and "channel" not in built
    html = pages(site)["2019"].read_text(encoding="utf-8")
    links = re.findall(r'<p class="question-links">(.*?)</p>', html)
    assert links, "no section links to its questions"
    for href in re.findall(r'href="([^"]+)"', " ".join(links)):
        assert (pages(site)["2019"].parent / href).resolve().is_file(), href


# --------------------------------------------------------------------------- in a browser


browser = test_browser.browser  # the one Chromium fixture of the browser tests


def _open(browser, url: str, width: int = 1100):
    from test_browser import _open as open_page

    return open_page(browser, url, width)


VISIBLE = """e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility === 'visible' && s.display !== 'none'
           && parseFloat(s.opacity) > 0; }"""


@pytest.mark.data
def test_a_reader_sees_the_permalink_csv_link_and_a_citation(browser, site):
    page, problems, _ = _open(browser, pages(site)["2024"].as_uri())
    try:
        fig = page.locator("figure.chart").nth(2)
        fid = fig.get_attribute("id")
        link = fig.locator("a.chart-link")
        assert link.evaluate(VISIBLE) and link.inner_text().strip().endswith("Link to this chart")
        assert link.get_attribute("href") == f"#{fid}"
        csv_link = fig.locator("a.chart-csv")
        assert csv_link.evaluate(VISIBLE)
        assert Path(csv_link.evaluate("a => a.href").removeprefix("file://")).is_file()
        fig.locator("details.cite summary").click()
        cite = fig.locator("details.cite p")
        assert cite.evaluate(VISIBLE)
        text = cite.inner_text()
        released = str(yaml.safe_load(CFF.read_text(encoding="utf-8"))["date-released"])
        assert released in text and UPSTREAM_COMMIT in text and VERSION in text
        assert cite.locator("time").get_attribute("datetime") == released
        link.click()
        assert page.evaluate("() => location.hash") == f"#{fid}"
        assert problems == []
    finally:
        page.close()


@pytest.mark.data
def test_search_finds_a_question_and_its_page_opens(browser, site):
    """Type words of a question as the codebook has it, see the question page's link, follow
    it, and land on the page of that question."""
    from ospo_survey.ingest.harmonize import definitions

    question = ospo_survey.codebook(2019, "benefits_2018_2022")["question"].iloc[0]
    words = " ".join(re.findall(r"[A-Za-z]{5,}", question)[-3:])  # e.g. "benefited open source"
    page, problems, _ = _open(browser, pages(site)["2024"].as_uri())
    try:
        box = page.get_by_label("Search the reports")
        assert box.evaluate(VISIBLE) and box.get_attribute("type") == "search"
        box.fill(words)
        result = page.locator('.search-results a[href$="questions/benefits_2018_2022/index.html"]')
        result.wait_for(state="visible")
        result.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/questions/benefits_2018_2022/index.html")
        assert page.locator("h1").inner_text().strip() == \
            definitions()["benefits_2018_2022"]["label"]
        assert problems == []
    finally:
        page.close()


@pytest.mark.data
def test_search_finds_a_chart_by_its_permalink(browser, site):
    page, _, _ = _open(browser, pages(site)["trends"].as_uri())
    try:
        title = page.locator("figure.chart").first.get_attribute("data-title")
        fid = page.locator("figure.chart").first.get_attribute("id")
        page.get_by_label("Search the reports").fill(title)
        hit = page.locator(f'.search-results a[href$="trends/index.html#{fid}"]')
        hit.wait_for(state="visible")
    finally:
        page.close()


@pytest.mark.data
def test_without_javascript_the_search_box_leads_to_the_question_list(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(pages(site)["2024"].as_uri(), wait_until="load")
        page.get_by_label("Search the reports").fill("benefits")
        page.get_by_role("button", name="Search").click()
        page.wait_for_load_state("load")
        assert page.url.split("?")[0].endswith("/questions/index.html")
        assert page.locator("ul.questions a").count() >= 20
    finally:
        context.close()


@pytest.mark.data
@pytest.mark.parametrize("name", ["index", "ospo_status", "activity"])
def test_question_pages_are_accessible_and_fit_a_phone(browser, site, name):
    from axe_playwright_python.sync_playwright import Axe

    path = site / "questions" / ("index.html" if name == "index" else f"{name}/index.html")
    page, problems, _ = _open(browser, path.as_uri(), width=390)
    try:
        widths = page.evaluate("() => [document.documentElement.scrollWidth,"
                               " document.body.scrollWidth]")
        assert max(widths) <= 390
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        violations = Axe().run(page).response["violations"]
        serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == []
        assert problems == []
        if name != "index":
            text = page.inner_text("main")
            assert "not asked" in text or name == "ospo_status"
            assert "Every year side by side" in text
    finally:
        page.close()


@pytest.mark.data
def test_chart_csv_writer_writes_what_to_csv_writes() -> None:
    """The chart CSVs' writer (``plotting.frame_csv``) against pandas' ``to_csv`` on the kinds
    of values a chart's numbers hold: quoted text, floats in their shortest form, missing
    values, booleans, integers, mixed text and years."""
    import numpy as np

    frame = pd.DataFrame({
        "year": [2023, 2024, 2022], "question": ['a, "b"', "line\nbreak", "plain"],
        "estimate": [0.1 + 0.2, 1e-5, np.nan], "n": [222.0, np.nan, 3.0], "count": [1, 2, 3],
        "suppressed": [True, False, True], "reason": [None, "x", np.nan],
        "group": ["", 2024, "2022"], "big": [1e17, 123456789.123, -0.0]})
    assert P.frame_csv(frame) == frame.to_csv(index=False, lineterminator="\n")
    est = ospo_survey.survey(2024).proportion("org_size")
    chart = P.bar_ci(est, title="Organisation size (2024)", year=2024)
    assert chart.csv_text() == chart.csv_frame().to_csv(index=False, lineterminator="\n")
