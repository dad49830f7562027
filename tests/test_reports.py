"""Research reports: computed contents, clean omission of unasked questions, self-contained and
byte-reproducible pages, the index, the exploration notebooks (nbval) and the chart helpers.

The report notebook is executed for 2019 (two header rows) and 2024 (three header rows); the
numbers on the pages are checked against values computed independently with the package's
data API (``load_harmonized``, ``frequencies``) and the raw-file registry.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from _site import SITE_YEARS, build_site, pages

import ospo_survey
from ospo_survey.analysis.common import question_text
from ospo_survey.analysis.headlines import headline_table
from ospo_survey.analysis.year import YearAnalysis
from ospo_survey.core.paths import project_root
from ospo_survey.ingest import fetch
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering import plotting
from ospo_survey.rendering.year_page import YearPage
from ospo_survey.site import pages as site_pages

NOTEBOOKS = project_root() / "notebooks"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    return build_site(tmp_path_factory)


def _summary(site: Path, name: str) -> dict:
    return json.loads((site / name / "summary.json").read_text(encoding="utf-8"))


def _html(site: Path, name: str) -> str:
    return pages(site)[name].read_text(encoding="utf-8")


# --------------------------------------------------------------------------- computed contents


@pytest.mark.data
@pytest.mark.parametrize("year", SITE_YEARS)
def test_summary_counts_equal_the_harmonised_data(site, year):
    h = ospo_survey.load_harmonized([year], sample="publisher")
    counts = h["has_ospo"].value_counts()
    answered = int(h["has_ospo"].notna().sum())
    s = _summary(site, str(year))
    assert s["year"] == year and s["n"] == len(h)
    unw = s["has_ospo_unweighted"]
    assert unw["count"] == int(counts["has"])
    assert unw["n"] == answered
    assert unw["estimate"] == pytest.approx(counts["has"] / answered, abs=1e-4)
    assert unw["ci_low"] < unw["estimate"] < unw["ci_high"]
    w = s["has_ospo"]
    assert w["ci_low"] < w["estimate"] < w["ci_high"]
    assert 0 < s["n_eff"] <= s["n"]


@pytest.mark.data
def test_2024_page_reports_100_of_222(site):
    s = _summary(site, "2024")
    assert s["n"] == 222
    assert s["has_ospo_unweighted"]["count"] == 100
    assert s["has_ospo_unweighted"]["n"] == 222
    # the publisher's q12 frequencies: formal + informal = 100 of 222
    f = ospo_survey.frequencies(2024, "q12")
    assert int(f[f["option"].str.startswith("Yes")]["n"].sum()) == 100
    assert "n = 222; unweighted, as the publisher reports: 45%." in _html(site, "2024")


@pytest.mark.data
def test_key_findings_are_filled_in_from_the_data(site):
    page = _html(site, "2024")
    s = _summary(site, "2024")
    adoption = next(f for f in s["findings"] if f.startswith("In the publisher's own"))
    assert adoption.endswith(f": {round(100 * s['has_ospo']['estimate'])}% have an OSPO.")
    assert html.escape(adoption, quote=False) in page
    # the size gap sentence uses the weighted shares of the large and small bands
    large, small = YearAnalysis(2024).size_gap()
    sentence = next(f for f in s["findings"] if "over 10,000 employees" in f)
    assert sentence.startswith(f"{round(100 * large['estimate'])}%")
    assert f"against {round(100 * small['estimate'])}%" in sentence


@pytest.mark.data
def test_2019_key_findings_and_funnel(site):
    page = _html(site, "2019")
    h = ospo_survey.load_harmonized([2019], sample="publisher")
    assert f"{len(h):,} respondents are in the publisher's 2019 sample" in page
    assert "Screening funnel" in page
    assert "The export carries no response dates." in page  # 2019 exports no dates


@pytest.mark.data
def test_publisher_headlines_beside_ours(site):
    table = headline_table(2024)
    row = table.set_index("claim").loc["Large organisations (10,000+ employees) with an OSPO"]
    assert row["published"] == 77 and row["ours"] == pytest.approx(100 * 49 / 64)
    assert row["reproduced"]
    assert not table.set_index("claim").loc["OSPOs involved in managing security issues",
                                            "reproduced"]
    s = _summary(site, "2024")
    assert s["headlines_reproduced"] == int(table["reproduced"].sum())
    assert s["headlines_total"] == len(table)
    assert "headline figures" in _html(site, "2024")


@pytest.mark.data
def test_every_headline_rule_evaluates_and_most_reproduce():
    total = ok = 0
    for year in available_years():
        t = headline_table(year)
        total += len(t)
        ok += int(t["reproduced"].sum())
        assert t["rule"].str.len().gt(0).all()
        assert (t["reproduced"] | t["note"].str.len().gt(0)).all(), year  # differences explained
    assert total >= 30 and ok / total > 0.8


@pytest.mark.data
def test_questions_a_year_did_not_ask_are_left_out(site):
    p2019, p2024 = _html(site, "2019"), _html(site, "2024")
    assert "Industry (2019)" in p2019 and "Industry (2024)" not in p2024  # not asked in 2024
    assert "Headquarters region (2024)" in p2024 and "region (2019)" not in p2019
    # reasons for not having a program (2019's Q24), quoted in its words, not its column id
    assert f"The question asked: “{question_text(2019, 'Q24')}”" in html.unescape(p2019)
    assert "Question Q24" not in p2019
    for page in (p2019, p2024):
        assert "<h2" in page and not re.search(r"<h2[^>]*>[^<]*</h2>\s*(<h2|</main)", page)


@pytest.mark.data
def test_an_unasked_variable_gives_no_section():
    ya = YearAnalysis(2024)
    ya.frame["has_ospo"] = pd.NA
    ya.frame["ospo_status"] = pd.NA
    ya._adoption.clear()
    rep = YearPage.from_analysis(ya)  # the page renders the analysis it is given
    assert rep.analysis is ya and not isinstance(rep, YearAnalysis)
    assert not rep.adoption_section()
    assert rep.adoption_section().html == ""
    assert ya.adoption().empty


# --------------------------------------------------------------------------- the pages


@pytest.mark.data
@pytest.mark.parametrize("name", ["2019", "2024", "trends", "index"])
def test_pages_are_self_contained_without_code(site, name):
    path = pages(site)[name]
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 3_000_000
    assert "<pre" not in html and "jp-InputArea-editor" not in html
    # one script only: the search box's, inline (it loads the search index when first used)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ["<script>"] and "form.site-search" in html.split("<script>")[1]
    assert not re.search(r"<(?:link|img|iframe)[^>]+(?:src|href)=\"(?:https?:)?//", html)
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert all(re.search(r"\balt=([\"'])[^\"']{20,}", i) for i in imgs)  # quoted either way
    assert all('src="data:image/svg+xml;base64,' in i for i in imgs)
    if name != "index":
        assert len(imgs) >= 5


@pytest.mark.data
@pytest.mark.parametrize("year", SITE_YEARS)
def test_provenance_footer(site, year):
    html = _html(site, str(year))
    raw = fetch.entry(year, "responses")
    assert raw.sha256 in html
    assert fetch.UPSTREAM_COMMIT in html and fetch.UPSTREAM_REPO in html
    assert f"ospo-survey {ospo_survey.__version__}" in html


@pytest.mark.data
def test_methods_appendix(site):
    html = _html(site, "2024")
    for text in ("Appendix: methods", "Design effect due to weighting", "effective sample size",
                 "Distribution of the weights", "Limits of an opt-in survey",
                 "Weighting targets and achieved shares"):
        assert text in html, text


@pytest.mark.data
def test_trends_page(site):
    html = _html(site, "trends")
    s = _summary(site, "trends")
    assert s["years"] == available_years()
    assert set(s["adoption"]) >= {"unweighted", "standardised"}
    h = ospo_survey.load_harmonized(sample="harmonized")
    panel = h["channel"].astype(object) == "panel (1,000+ employees)"
    for year, part in h[~panel].groupby("year"):  # the default trend leaves the panel out
        share = (part["has_ospo"] == "has").sum() / part["has_ospo"].notna().sum()
        assert s["adoption"]["unweighted"][str(year)] == pytest.approx(share, abs=1e-4)
    for text in ("2022", "panel", "Year-over-year differences", "Formally structured",
                 "Journey stage", "Formal policy"):
        assert text in html, text


@pytest.mark.data
def test_index_links_every_page(site):
    html = _html(site, "index")
    links = set(re.findall(r'href="([^"#:]+)"', html))
    # the claims page is written with the trends page and linked as "Claims checked"; the
    # question pages, built with the site, are linked as "Questions across the years"
    assert links == {"trends/index.html", "claims/index.html", "benchmark/index.html",
                     "questions/index.html"} | {f"{y}/index.html" for y in SITE_YEARS}
    assert '>Claims checked</a>' in html
    assert '>Questions across the years</a>' in html
    for link in links:
        assert (site / link).is_file()


def test_the_index_words_come_from_the_summaries_alone():
    """The index prose is made from page summaries (no file read): cards in the site's order,
    a contents line, and the open data only when a release is given."""
    from ospo_survey.rendering.index_page import index_main

    empty = index_main([], None)
    assert "No report has been built yet" in empty and "open-data" not in empty
    codebook = {"kind": "codebook", "title": "Codebook", "href": "codebook/index.html"}
    year = {"kind": "year", "year": 2021, "href": "2021/index.html", "n": 1234,
            "has_ospo": {"estimate": 0.5, "ci_low": 0.4, "ci_high": 0.6, "suppressed": False}}
    html = index_main([codebook, year], None)
    assert html.index('id="y2021"') < html.index("Read the codebook")
    assert '<a href="#y2021">2021</a>' in html and "2021–2021" in html
    assert "1,234 respondents (publisher sample)" in html and "No report" not in html


@pytest.mark.data
def test_building_twice_gives_identical_bytes(site, tmp_path):
    """Determinism: a second build of the same inputs reproduces the page byte for byte."""
    out = site_pages.page_path("year", 2024, tmp_path)
    site_pages.build_page("year", 2024, out=out, progress=None)
    assert out.read_bytes() == pages(site)["2024"].read_bytes()
    summary = (site / "2024" / "summary.json").read_bytes()
    assert (out.parent / "summary.json").read_bytes() == summary
    site_pages.build_index(tmp_path, progress=None)
    again = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "2024/index.html" in again and "2019/index.html" not in again


@pytest.mark.data
def test_pages_hold_nothing_identifying(site):
    from ospo_survey.site.privacy import scan

    assert scan([site]) == []
    rep = YearPage(2023)  # the year of the paid panel's collector
    text = rep.funnel_table().html + rep.methods_section().html
    text = re.sub(r"\b[0-9a-f]{40}\b", "", text)  # the public upstream commit ("Cite this")
    assert not re.search(r"(?<!\d)\d{9,12}(?!\d)", text)  # no collector id


SMALL_CELL = 10  # the hardening issue's small-cell threshold (respondents)


@pytest.mark.data
def test_no_small_cell_is_published(site):
    """Every bar shown on a page rests on 10+ respondents; smaller bases appear as suppressed.

    Read from the numbers table that follows every chart, which lists each bar with its base.
    """
    shown = suppressed = 0
    for name in SITE_YEARS:
        html = _html(site, str(name))
        for block in re.findall(r'<details class="numbers">(.*?)</details>', html, re.S):
            for row in re.findall(r"<tr>(.*?)</tr>", block, re.S):
                cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>",
                                                                     row, re.S)]
                if "share" in cells or len(cells) < 4 or cells[-3:-2] == ["respondents"]:
                    continue
                share, n = cells[-3], int(cells[-1].replace(",", ""))
                if share == "suppressed":
                    suppressed += 1
                else:
                    shown += 1
                    assert n >= SMALL_CELL, f"{name}: {cells[0]} shown on n = {n}"
        assert "suppression below effective n 30" in html
    assert shown > 100 and suppressed > 0  # the check saw both kinds


def test_cli_rejects_an_unknown_year():
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "report", "1999"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "unknown survey year 1999: known years are 2018-2024" in proc.stderr


# --------------------------------------------------------------------------- notebooks


def test_clean_notebook_strips_everything_run_specific():
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"start_time": "2024-01-01T00:00:00", "duration": 1.5}
    nb.metadata["widgets"] = {"state": {}}
    code = nbformat.v4.new_code_cell("x")
    code.metadata["papermill"] = {"duration": 0.1}
    code.metadata["execution"] = {"iopub.status.busy": "2024-01-01T00:00:00"}
    code.execution_count = 7
    code.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("execute_result", data={"text/html": "<p>x</p>"},
                               execution_count=7),
    ]
    empty = nbformat.v4.new_code_cell("y = 1")
    blank = nbformat.v4.new_code_cell("z")
    blank.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "  "})]
    md = nbformat.v4.new_markdown_cell("# Title")
    nb.cells = [md, code, empty, blank]
    logged = []
    site_pages.clean_notebook(nb, log=logged.append)
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata
    assert [c["id"] for c in nb.cells] == ["cell-0001", "cell-0002"]
    assert nb.cells[1].execution_count == 1 and nb.cells[1].outputs[0]["execution_count"] == 1
    assert nb.cells[1].metadata == {}
    assert [o["output_type"] for o in nb.cells[1].outputs] == ["execute_result"]
    assert logged and "a warning" in logged[0]


@pytest.mark.parametrize(
    "name", ["01-explore-adoption", "02-explore-impact", "03-explore-maturity", "report", "trends"]
)
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    if name in ("report", "trends"):
        assert "parameters" in nb.cells[0].metadata.get("tags", [])
    else:
        assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4  # prose between cells


@pytest.mark.data
def test_exploration_notebooks_run_under_nbval():
    nbs = sorted(str(p) for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    assert len(nbs) >= 2
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", *nbs],
        capture_output=True, text=True, cwd=project_root(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


# --------------------------------------------------------------------------- chart helpers


def _frame(n=(100, 100, 10)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "level": ["alpha", "beta", "gamma"],
            "estimate": [0.5, 0.25, 0.1],
            "ci_low": [0.4, 0.17, 0.02],
            "ci_high": [0.6, 0.35, 0.4],
            "n": list(n),
            "n_eff": [100.0, 100.0, 10.0],
            "suppressed": [False, False, True],
        }
    )


def test_bar_chart_is_deterministic_svg_with_short_alt_and_numbers():
    import xml.etree.ElementTree as ET

    a = plotting.bar_ci(_frame(), title="Test chart")
    b = plotting.bar_ci(_frame(), title="Test chart")
    assert a.svg == b.svg
    root = ET.fromstring(a.svg)  # well-formed SVG
    assert root.tag.endswith("svg") and root.get("viewBox").startswith("0 0 800 ")
    texts = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "alpha" in texts and "50%" in texts and "suppressed" in texts
    assert a.alt == "Bar chart: Test chart; highest: alpha, 50%." and len(a.alt) < 200
    assert a.html.startswith('<figure class="chart" data-title="Test chart" '
                             'id="chart-test-chart"><img src="data:image/svg+xml;base64,')
    numbers = a.numbers.set_index("answer")
    assert numbers.loc["alpha", "share"] == "50.0%"
    assert numbers.loc["gamma", "share"] == "suppressed"
    assert "<details" in a.html and "The numbers in this chart" in a.html
    assert "Base: n = 10–100 per bar" in a.caption
    assert repr(a) == "Chart('Test chart')"


def test_bar_axis_is_scaled_to_the_data_and_residual_answers_go_last():
    small = _frame().assign(estimate=[0.02, 0.08, 0.05], ci_low=[0.01, 0.05, 0.03],
                            ci_high=[0.04, 0.12, 0.09], suppressed=False,
                            level=["Other (please specify)", "b", "c"])
    chart = plotting.bar_ci(small, title="Small shares", sort=True)
    assert chart.numbers["answer"].tolist() == ["b", "c", "Other (please specify)"]
    ticks = re.findall(r'text-anchor="middle"[^>]*>(\d+)</text>', chart.svg)
    assert ticks[-1] == "15"  # the axis ends just above the largest interval (12%), not 100


def test_empty_inputs_give_no_chart():
    assert plotting.bar_ci(_frame().iloc[0:0], title="x") is None
    all_sup = _frame().assign(suppressed=True)
    assert plotting.trend_ci(all_sup.assign(year=[2018, 2019, 2020], series="s"), title="t") is None


def test_trend_chart_and_table():
    f = _frame().assign(year=[2018, 2019, 2020], series=["a", "a", "b"])
    chart = plotting.trend_ci(f, title="Trend", breaks=[(2018.5, "change")])
    assert chart is not None and chart.alt.startswith("Line chart: Trend;")
    assert chart.numbers[["series", "year", "share"]].values.tolist()[0] == ["a", "2018", "50.0%"]
    t = plotting.table(pd.DataFrame({"x": ["<b>", "y"], "n": [1, 2000]}), caption="Cap")
    assert "&lt;b&gt;" in t.html and "2,000" in t.html and "<caption>Cap</caption>" in t.html
    w = plotting.weight_histogram(np.array([0.5, 1.0, 1.5]), title="Weights")
    assert "3 weights from 0.50 to 1.50" in w.alt


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_chart_colours_have_at_least_3_to_1_contrast_with_white():
    colours = [*plotting.PALETTE, plotting.SUPPRESSED_EDGE, plotting.MUTED_COLOR,
               plotting.TEXT_COLOR]
    for colour in colours:
        ratio = (1.0 + 0.05) / (_luminance(colour) + 0.05)
        assert ratio >= 3.0, (colour, round(ratio, 2))
    assert (1.05 / (_luminance("#de8f05") + 0.05)) < 3  # the old orange would fail


@pytest.mark.data
def test_write_in_boxes_are_named_in_words_not_column_ids():
    """2020's reasons for having no OSPO carry a write-in box beside the "Other" option (raw
    column Q27_12): by the one write-in rule it counts as that option, so the chart shows one
    "Other" bar, last, and no column id."""
    from ospo_survey.ingest.answers import multiple

    rep = YearPage(2020)
    options = list(multiple(rep.analysis.yd.survey, "Q27").columns)
    assert any(re.search(r"\(Q27_\d+\)$", o) for o in options)  # the raw option list has it
    chart = rep.topic_chart("reasons")
    shown = chart.numbers["answer"].tolist()
    assert not any(re.search(r"Q\d+_\d+", s) for s in shown)
    assert not any(s.endswith("written in") for s in shown)
    assert shown[-1].startswith("Other") and sum(s.startswith("Other") for s in shown) == 1
    assert not re.search(r"Q\d+_\d+", chart.html)
