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


def test_2024_page_reports_100_of_222(site):
    s = _summary(site, "2024")
    assert s["n"] == 222
    assert s["has_ospo_unweighted"]["count"] == 100
    assert s["has_ospo_unweighted"]["n"] == 222
    # the publisher's q12 frequencies: formal + informal = 100 of 222
    f = ospo_survey.frequencies(2024, "q12")
    assert int(f[f["option"].str.startswith("Yes")]["n"].sum()) == 100
    assert "unweighted 45%, n = 222" in _html(site, "2024")


def test_key_findings_are_filled_in_from_the_data(site):
    page = _html(site, "2024")
    s = _summary(site, "2024")
    adoption = next(f for f in s["findings"] if "have an OSPO or similar" in f)
    assert adoption.startswith(f"{round(100 * s['has_ospo']['estimate'])}% of organisations")
    assert adoption in page
    # the size gap sentence uses the weighted shares of the large and small bands
    rep = YearPage(2024)
    large, small = rep.size_gap()
    sentence = next(f for f in s["findings"] if "more than 10,000 employees" in f)
    assert sentence.startswith(f"{round(100 * large['estimate'])}%")
    assert f"against {round(100 * small['estimate'])}%" in sentence


def test_2019_key_findings_and_funnel(site):
    page = _html(site, "2019")
    h = ospo_survey.load_harmonized([2019], sample="publisher")
    assert f"covers {len(h):,} respondents" in page
    assert "Screening funnel" in page
    assert "The export carries no response dates." in page  # 2019 exports no dates


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


def test_every_headline_rule_evaluates_and_most_reproduce():
    total = ok = 0
    for year in available_years():
        t = headline_table(year)
        total += len(t)
        ok += int(t["reproduced"].sum())
        assert t["rule"].str.len().gt(0).all()
        assert (t["reproduced"] | t["note"].str.len().gt(0)).all(), year  # differences explained
    assert total >= 30 and ok / total > 0.8


def test_questions_a_year_did_not_ask_are_left_out(site):
    p2019, p2024 = _html(site, "2019"), _html(site, "2024")
    assert "Industry (2019)" in p2019 and "Industry (2024)" not in p2024  # not asked in 2024
    assert "Headquarters region (2024)" in p2024 and "region (2019)" not in p2019
    # reasons for not having a program (2019's Q24), quoted in its words, not its column id
    assert f"The question asked: “{question_text(2019, 'Q24')}”" in html.unescape(p2019)
    assert "Question Q24" not in p2019
    for page in (p2019, p2024):
        assert "<h2" in page and not re.search(r"<h2[^>]*>[^<]*</h2>\s*(<h2|</main)", page)


def test_an_unasked_variable_gives_no_section():
    rep = YearPage(2024)
    rep.frame["has_ospo"] = pd.NA
    rep.frame["ospo_status"] = pd.NA
    rep._adoption.clear()
    assert not rep.adoption_section()
    assert rep.adoption_section().html == ""
    assert rep.adoption().empty


# --------------------------------------------------------------------------- the pages


@pytest.mark.parametrize("name", ["2019", "2024", "trends", "index"])
def test_pages_are_self_contained_without_code(site, name):
    path = pages(site)[name]
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 3_000_000
    assert "<pre" not in html and "jp-InputArea-editor" not in html
    assert "<script" not in html
    assert not re.search(r"<(?:link|img|iframe)[^>]+(?:src|href)=\"(?:https?:)?//", html)
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert all(re.search(r"\balt=([\"'])[^\"']{20,}", i) for i in imgs)  # quoted either way
    assert all('src="data:image/png;base64,' in i for i in imgs)
    if name != "index":
        assert len(imgs) >= 5


@pytest.mark.parametrize("year", SITE_YEARS)
def test_provenance_footer(site, year):
    html = _html(site, str(year))
    raw = fetch.entry(year, "responses")
    assert raw.sha256 in html
    assert fetch.UPSTREAM_COMMIT in html and fetch.UPSTREAM_REPO in html
    assert f"ospo-survey {ospo_survey.__version__}" in html


def test_methods_appendix(site):
    html = _html(site, "2024")
    for text in ("Methods", "Design effect due to weighting", "effective sample size",
                 "Distribution of the weights", "Limits of an opt-in survey",
                 "Weighting targets and achieved shares"):
        assert text in html, text


def test_trends_page(site):
    html = _html(site, "trends")
    s = _summary(site, "trends")
    assert s["years"] == available_years()
    assert set(s["adoption"]) >= {"unweighted", "reference-weighted"}
    h = ospo_survey.load_harmonized(sample="harmonized")
    for year, part in h.groupby("year"):
        share = (part["has_ospo"] == "has").sum() / part["has_ospo"].notna().sum()
        assert s["adoption"]["unweighted"][str(year)] == pytest.approx(share, abs=1e-4)
    for text in ("2022", "panel", "Year-over-year differences", "Formally structured",
                 "Journey stage", "Formal policy"):
        assert text in html, text


def test_index_links_every_page(site):
    html = _html(site, "index")
    links = set(re.findall(r'href="([^"#:]+)"', html))
    assert links == {"trends/index.html"} | {f"{y}/index.html" for y in SITE_YEARS}
    for link in links:
        assert (site / link).is_file()


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


def test_pages_hold_nothing_identifying(site):
    from ospo_survey.site.privacy import scan

    assert scan([site]) == []
    rep = YearPage(2023)  # its codebook names the paid panel's collector id
    text = rep.funnel_table().html + rep.methods_section().html
    assert not re.search(r"(?<!\d)\d{9,12}(?!\d)", text)
    assert "[id withheld]" in text


SMALL_CELL = 10  # the hardening issue's small-cell threshold (respondents)
_BAR_ROW = re.compile(r'<tr><th scope="row">(?P<label>[^<]*)</th><td>(?P<value>[^<]*)</td>'
                      r'<td>[^<]*</td><td class="num">(?P<n>[\d,]+)</td></tr>')


def _bar_tables(html: str) -> list[str]:
    """The numbers tables of a page's bar charts (the ones after a "Bar chart" image)."""
    return re.findall(r'<img[^>]*alt="Bar chart[^"]*"[^>]*>.*?<details class="chart-data">'
                      r"(.*?)</details>", html, re.DOTALL)


def test_no_small_cell_is_published(site):
    """Every bar shown on a page rests on 10+ respondents; smaller bases appear as suppressed.

    Read from the table of numbers after each bar chart, which lists every bar with its base.
    """
    shown = suppressed = 0
    for name in SITE_YEARS:
        html = _html(site, str(name))
        for numbers in _bar_tables(html):
            for m in _BAR_ROW.finditer(numbers):
                if m["value"] != "suppressed":
                    assert re.fullmatch(r"\d+%", m["value"]), m["value"]
                    shown += 1
                    n = int(m["n"].replace(",", ""))
                    assert n >= SMALL_CELL, f"{name}: {m['label'].strip()} shown on n = {n}"
                else:
                    suppressed += 1
        assert "suppression below effective n 30" in html
    assert shown > 100 and suppressed > 0  # the check saw both kinds


def test_cli_rejects_an_unknown_year():
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "report", "1999"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


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


@pytest.mark.parametrize("name", ["01-explore-adoption", "02-explore-impact", "report", "trends"])
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


def _png_chunks(data: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return out


def test_bar_chart_is_deterministic_with_alt_text():
    a = plotting.bar_ci(_frame(), title="Test chart")
    b = plotting.bar_ci(_frame(), title="Test chart")
    assert a.png == b.png
    chunks = _png_chunks(a.png)
    assert b"tEXt" not in chunks and b"tIME" not in chunks and b"iTXt" not in chunks
    assert "Test chart" in a.alt and "alpha, 50%" in a.alt and len(a.alt) < 200
    assert a.alt.count(". ") == 0 and a.alt.endswith(".")  # one short sentence
    assert '<th scope="row">alpha</th><td>50%</td><td>40%–60%</td>' in a.numbers
    assert '<th scope="row">gamma</th><td>suppressed</td><td>–</td>' in a.numbers
    assert a.html.startswith('<figure class="chart"><img src="data:image/png;base64,')
    assert 'alt="Bar chart of 3 bars: Test chart;' in a.html
    assert '<details class="chart-data">' in a.html and a.numbers in a.html
    # drawn at twice the size the page shows it
    w, h = plotting.png_size(a.png)
    assert f'width="{w // 2}" height="{h // 2}"' in a.html and w == 2 * 800
    assert "Base: n = 10–100 per bar" in a.caption
    assert repr(a) == "Chart('Test chart')"


def test_empty_inputs_give_no_chart():
    assert plotting.bar_ci(_frame().iloc[0:0], title="x") is None
    all_sup = _frame().assign(suppressed=True)
    assert plotting.trend_ci(all_sup.assign(year=[2018, 2019, 2020], series="s"), title="t") is None


def test_trend_chart_and_table():
    f = _frame().assign(year=[2018, 2019, 2020], series=["a", "a", "b"])
    chart = plotting.trend_ci(f, title="Trend", breaks=[(2018.5, "change")])
    assert chart is not None and chart.alt.startswith("Line chart: Trend;") and len(chart.alt) < 200
    assert '<th scope="row">2018</th><td>a</td><td>50%</td>' in chart.numbers
    t = plotting.table(pd.DataFrame({"x": ["<b>", "y"], "n": [1, 2000]}), caption="Cap")
    assert "&lt;b&gt;" in t.html and "2,000" in t.html and "<caption>Cap</caption>" in t.html
    w = plotting.weight_histogram(np.array([0.5, 1.0, 1.5]), title="Weights")
    assert "3 weights from 0.50 to 1.50" in w.alt
    assert '<th scope="row">median</th><td>1.00</td>' in w.numbers


def _wcag_contrast(a: str, b: str = "#ffffff") -> float:
    """WCAG 2.x contrast ratio, written out here from the definition (relative luminance of
    sRGB, (L1 + 0.05) / (L2 + 0.05)), independently of the plotting module's helper."""

    def lum(h: str) -> float:
        rgb = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_chart_colours_have_3_to_1_contrast_against_the_background():
    """Every colour that carries data (bars, series lines) is at least 3:1 against the chart
    and page background (WCAG 1.4.11); the seaborn orange it replaces was not."""
    assert 2.5 < _wcag_contrast("#de8f05") < 3  # the old weighted line: the formula is right
    assert _wcag_contrast("#000000") == pytest.approx(21)
    for colour in [plotting.BAR_COLOR, plotting.SECOND_COLOR, *plotting.PALETTE]:
        ratio = _wcag_contrast(colour, plotting.BACKGROUND)
        assert ratio >= 3, f"{colour} is {ratio:.2f}:1 against {plotting.BACKGROUND}"
        assert plotting.contrast_ratio(colour) == pytest.approx(ratio, rel=1e-3)
    assert plotting.PALETTE[1] == plotting.SECOND_COLOR  # the weighted series' colour


def test_bars_are_sorted_by_estimate_with_non_answers_last():
    f = pd.DataFrame({
        "level": ["Other (please specify)", "small", "Don't know", "large", "middle"],
        "estimate": [0.6, 0.1, 0.5, 0.4, 0.2],
        "ci_low": [0.5, 0.05, 0.4, 0.3, 0.1],
        "ci_high": [0.7, 0.15, 0.6, 0.5, 0.3],
        "n": [100] * 5, "n_eff": [100.0] * 5, "suppressed": [False] * 5,
    })
    sorted_chart = plotting.bar_ci(f, title="Sorted", sort=True)
    order = re.findall(r'<th scope="row">([^<]*)</th>', sorted_chart.numbers)
    assert order == ["large", "middle", "small", "Other (please specify)", "Don&#x27;t know"]
    kept = plotting.bar_ci(f, title="Kept", sort=False)  # an ordered variable keeps its order
    order = re.findall(r'<th scope="row">([^<]*)</th>', kept.numbers)
    assert order == ["small", "large", "middle", "Other (please specify)", "Don&#x27;t know"]
    assert "largest: Other" not in sorted_chart.alt and "largest: large, 40%" in sorted_chart.alt


def test_share_axis_ends_near_the_data():
    """The bar axis ends at the largest interval rounded up to 10% (not always at 100%)."""
    assert plotting.nice_max(31.0) == 40 and plotting.nice_max(40.0) == 40
    assert plotting.nice_max(96.0) == 100 and plotting.nice_max(3.0) == 10


def test_write_in_boxes_are_named_in_words_not_column_ids():
    """2020's reasons for having no OSPO carry a write-in box beside the "Other" option (raw
    column Q27_12): the chart names it in words and keeps it with the non-answers, last."""
    from ospo_survey.ingest.answers import multiple

    rep = YearPage(2020)
    options = list(multiple(rep.yd.survey, "Q27").columns)
    assert any(re.search(r"\(Q27_\d+\)$", o) for o in options)  # the raw option list has it
    chart = rep.topic_chart("reasons")
    shown = re.findall(r'<th scope="row">([^<]*)</th>', chart.numbers)
    assert not any(re.search(r"Q\d+_\d+", s) for s in shown)
    assert shown[-1].endswith(", written in") and shown[-2].startswith("Other")
