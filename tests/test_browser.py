"""The built pages in a real browser: Debian's chromium driven by Playwright, from file://.

Every page loads without console errors or network requests, every image has loaded and
carries alt text, no code is visible, every link from the index resolves, and a full-page
screenshot of each page is saved for review (``reports/screenshots/`` unless
``$OSPO_SCREENSHOT_DIR`` says otherwise). ``.ci/run`` installs chromium and sets
``OSPO_REQUIRE_BROWSER=1``, so there a missing browser fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _site import build_site, pages

from ospo_survey.core.paths import reports_dir

CHROMIUM = os.environ.get("OSPO_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]
REQUIRED = os.environ.get("OSPO_REQUIRE_BROWSER") == "1"


def _unavailable(why: str):
    if REQUIRED:
        pytest.fail(f"{why} (OSPO_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(tmp_path_factory)


@pytest.fixture(scope="module")
def shots() -> Path:
    out = Path(os.environ.get("OSPO_SCREENSHOT_DIR") or reports_dir() / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _open(browser, url: str):
    """A fresh page at ``url`` and what went wrong while loading it."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="load")
    return page, problems, requests


@pytest.mark.parametrize("name", ["index", "trends", "2019", "2024"])
def test_page_loads_cleanly(browser, site, shots, name):
    path = pages(site)[name]
    url = path.as_uri()
    page, problems, requests = _open(browser, url)
    try:
        assert problems == []
        assert [r for r in requests if not r.startswith("data:")] == [url]  # nothing fetched
        assert page.title()
        images = page.evaluate(
            """() => Array.from(document.images).map(i => ({
                   ok: i.complete && i.naturalWidth > 0,
                   alt: (i.getAttribute('alt') || '').trim()}))"""
        )
        assert all(i["ok"] for i in images), "an image did not load"
        assert all(len(i["alt"]) >= 20 for i in images), "an image lacks alt text"
        if name != "index":
            assert len(images) >= 5
        visible_code = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                   'pre, code.language-python, .jp-InputArea, .jp-InputPrompt, .highlight'))
                   .filter(e => e.offsetParent !== null && e.textContent.trim()).length"""
        )
        assert visible_code == 0
        text = page.inner_text("body")
        assert "import " not in text and "YearPage" not in text
        page.screenshot(path=str(shots / f"screenshot-{name}.png"), full_page=True)
    finally:
        page.close()


def test_every_link_from_the_index_resolves(browser, site):
    page, problems, _ = _open(browser, pages(site)["index"].as_uri())
    try:
        hrefs = page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
        )
    finally:
        page.close()
    local = sorted({h.split("#")[0] for h in hrefs if h.startswith("file://")})
    assert len(local) >= 3  # trends and two years
    for href in local:
        target, errors, _ = _open(browser, href)
        try:
            assert errors == [], href
            assert target.locator("h1").count() == 1, href
        finally:
            target.close()
    # links back from each page to the index resolve too
    for name in ("2024", "trends"):
        p, _, _ = _open(browser, pages(site)[name].as_uri())
        try:
            back = p.evaluate("() => document.querySelector('nav.crumbs a').href")
        finally:
            p.close()
        assert back == pages(site)["index"].as_uri()


CRAFTED = [
    "<script>window.__pwned = 1</script>",
    "<img src=x onerror=\"window.__pwned = 2\">",
    "Tech & \"Media\" <b>bold</b>",
]


def test_crafted_labels_are_escaped_and_never_run(browser, tmp_path):
    """Option labels and free text reach HTML only escaped: a script tag stays text."""
    import nbformat
    import pandas as pd

    from ospo_survey.rendering import plotting
    from ospo_survey.site.pages import render_html

    frame = pd.DataFrame(
        {
            "level": CRAFTED,
            "estimate": [0.5, 0.3, 0.2],
            "ci_low": [0.4, 0.2, 0.1],
            "ci_high": [0.6, 0.4, 0.3],
            "n": [200, 200, 200],
            "n_eff": [180.0, 180.0, 180.0],
            "suppressed": [False, False, False],
        }
    )
    chart = plotting.bar_ci(frame, title=CRAFTED[0], alt=CRAFTED[1], caption=CRAFTED[2])
    table = plotting.table(frame[["level", "n"]], caption=CRAFTED[0])
    nb = nbformat.v4.new_notebook()
    for item in (chart, table):
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [
            nbformat.v4.new_output("display_data", data={"text/html": item._repr_html_()})
        ]
        nb.cells.append(cell)
    page = tmp_path / "crafted.html"
    page.write_text(render_html(nb, CRAFTED[0]), encoding="utf-8")
    p = browser.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(page.as_uri())
    assert p.evaluate("window.__pwned") is None
    assert p.locator("script:not([type]), script[type='text/javascript']").evaluate_all(
        "els => els.filter(e => e.textContent.includes('__pwned')).length"
    ) == 0
    text = p.inner_text("body")
    assert CRAFTED[0] in text  # shown literally, as text
    assert errors == []
    p.close()
