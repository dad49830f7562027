"""The built pages in a real browser: Debian's chromium driven by Playwright, from file://.

Every page loads without console errors or network requests, every image has loaded and
carries a short alt text with its numbers in a table after it, no code is visible while the
reading guide and methods prose are (judged from Chromium's computed rendering), every link
resolves, every page has a table of contents, a skip link and heading anchors, fits a 390 px
phone screen without sideways scrolling, and axe-core finds no serious or critical
accessibility violation. A full-page screenshot of each page is saved for review
(``reports/screenshots/`` unless ``$OSPO_SCREENSHOT_DIR`` says otherwise). ``.ci/run``
installs chromium and sets ``OSPO_REQUIRE_BROWSER=1``, so there a missing browser fails
instead of skipping. Timeouts are generous and nothing is timed: the machine may be slow.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from _site import SITE_YEARS, build_site, pages

from ospo_survey.core.paths import reports_dir
from ospo_survey.ingest.harmonize import definitions
from ospo_survey.ingest.settings import available_years

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


TIMEOUT_MS = 120_000  # a shared, slow machine: generous, and nothing asserts on time


def _open(browser, url: str, width: int = 1100):
    """A fresh page at ``url`` and what went wrong while loading it."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="load")
    return page, problems, requests


def _screenshot(page, path: Path) -> None:
    """A full-page screenshot for review; a page too tall for one capture on a busy machine
    (Chromium refuses some 20,000 px captures) is shot in parts instead."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.screenshot(path=str(path), full_page=True)
        return
    except PlaywrightError:
        pass
    height = page.evaluate("() => document.documentElement.scrollHeight")
    width = page.viewport_size["width"]
    step = 8000
    for k, top in enumerate(range(0, height, step), start=1):
        page.screenshot(path=str(path.with_name(f"{path.stem}-part{k}{path.suffix}")),
                        full_page=True,
                        clip={"x": 0, "y": top, "width": width,
                              "height": min(step, height - top)})


@pytest.mark.data
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
                   'pre, code.language-python, .jp-CodeCell .jp-InputArea, .jp-InputPrompt,'
                   + ' .highlight'))
                   .filter(e => e.offsetParent !== null && e.textContent.trim()).length"""
        )
        assert visible_code == 0
        text = page.inner_text("body")
        assert "import " not in text and "YearPage" not in text
        _screenshot(page, shots / f"screenshot-{name}.png")
    finally:
        page.close()


@pytest.mark.data
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


# --------------------------------------------------------------------------- seen, not just there

# Why an element cannot be seen, from Chromium's computed rendering: its box, and the display,
# visibility, opacity and clipping of it and every ancestor. An empty list: it is visible.
HIDDEN_WHY = """el => {
    if (!el) return ['missing'];
    const why = [];
    const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '');
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) why.push('zero-size box');
    if (!el.innerText || !el.innerText.trim()) why.push('no rendered text');
    const own = getComputedStyle(el);
    if (own.visibility !== 'visible') why.push('visibility: ' + own.visibility);
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
        const cs = getComputedStyle(e);
        if (cs.display === 'none') why.push('display: none on ' + name(e));
        if (parseFloat(cs.opacity) === 0) why.push('opacity 0 on ' + name(e));
        if (cs.clipPath && cs.clipPath !== 'none') why.push('clip-path on ' + name(e));
        if (cs.clip && cs.clip !== 'auto') why.push('clip on ' + name(e));
        if (e !== el && (cs.overflowX !== 'visible' || cs.overflowY !== 'visible')) {
            const p = e.getBoundingClientRect();
            const w = Math.min(r.right, p.right) - Math.max(r.left, p.left);
            const h = Math.min(r.bottom, p.bottom) - Math.max(r.top, p.top);
            if (w < 1 || h < 1) why.push('clipped by ' + name(e));
        }
    }
    if (r.right + window.scrollX <= 0 || r.bottom + window.scrollY <= 0)
        why.push('off the page');
    return why;
}"""

# The prose a reader must see: the reading guide (the heading and its paragraph) and the
# methods section's paragraphs, found by their headings.
PROSE = """() => {
    const h2s = Array.from(document.querySelectorAll('h2'));
    const after = h => {
        const out = [];
        for (let e = h.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling)
            if (e.tagName === 'P') out.push(e);
        return out;
    };
    const guide = h2s.find(h => h.textContent.trim().startsWith('How to read this report'));
    const methods = h2s.find(h => h.id === 'appendix-methods');
    return {guide: guide ? [guide, ...after(guide)] : [], methods: methods ? [methods,
            ...after(methods)] : []};
}"""


def _prose_hidden(page) -> dict[str, list[list[str]]]:
    """For the reading guide and methods: why each of their elements is hidden (per element)."""
    handle = page.evaluate_handle(PROSE)
    out: dict[str, list[list[str]]] = {}
    for part in ("guide", "methods"):
        items = handle.get_property(part)
        n = items.evaluate("a => a.length")
        out[part] = [items.evaluate(f"(a) => ({HIDDEN_WHY})(a[{i}])") for i in range(n)]
    return out


@pytest.mark.data
@pytest.mark.parametrize("name", ["trends", *map(str, SITE_YEARS)])
def test_reading_guide_and_methods_are_visible(browser, site, name):
    page, problems, _ = _open(browser, pages(site)[name].as_uri())
    try:
        hidden = _prose_hidden(page)
        for part in ("guide", "methods"):
            assert len(hidden[part]) >= 2, f"{name}: no {part} heading with prose after it"
            assert all(why == [] for why in hidden[part]), f"{name} {part}: {hidden[part]}"
        # Playwright's own judgement agrees
        assert page.get_by_role("heading", name=re.compile("^How to read this report")
                                ).first.is_visible()
        assert problems == []
    finally:
        page.close()


OLD_RULE = (".jp-Cell-inputWrapper, .jp-InputArea, .jp-InputPrompt, .jp-OutputPrompt, "
            ".jp-Collapser { display: none; }")
HIDINGS = {
    "visibility": ("guide", "el.style.visibility = 'hidden'"),
    "opacity": ("guide", "el.parentElement.style.opacity = '0'"),
    "clipped": ("guide", "el.parentElement.style.height = '0px';"
                         " el.parentElement.style.overflow = 'hidden'"),
    "off screen": ("guide", "el.style.position = 'absolute'; el.style.left = '-10000px'"),
    "clip-path": ("guide", "el.style.clipPath = 'inset(50%)'"),
}


def test_markdown_prose_shows_and_the_old_rule_would_hide_it(browser, tmp_path):
    """A page whose reading guide and methods are markdown cells, rendered with the report
    template: visible with the site's CSS; with the rule the site used to ship (it hid every
    cell's input wrapper, markdown included), the check reports every element hidden."""
    import nbformat

    from ospo_survey.site.pages import render_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("print('never shown')"),
        nbformat.v4.new_markdown_cell("## How to read this report\n\nEvery chart shows shares "
                                      "of the respondents who answered the question."),
        nbformat.v4.new_markdown_cell('<h2 id="appendix-methods">Methods</h2>\n\nRespondents '
                                      "chose to take part: an opt-in sample."),
    ]
    path = tmp_path / "markdown.html"
    path.write_text(render_html(nb, "Markdown cells"), encoding="utf-8")
    page, problems, _ = _open(browser, path.as_uri())
    try:
        shown = _prose_hidden(page)
        assert len(shown["guide"]) == 2 and len(shown["methods"]) == 2
        assert all(w == [] for part in shown.values() for w in part), shown
        assert "never shown" not in page.inner_text("body")
        page.add_style_tag(content=OLD_RULE)
        hidden = _prose_hidden(page)
        assert all(any("display: none" in w for w in why)
                   for part in hidden.values() for why in part), hidden
        assert problems == []
    finally:
        page.close()


@pytest.mark.data
@pytest.mark.parametrize("how", list(HIDINGS))
def test_the_visibility_check_sees_hidden_prose(browser, site, how):
    """The check above fails on a report page whose reading guide is hidden in any of the
    usual ways."""
    page, _, _ = _open(browser, pages(site)[str(SITE_YEARS[0])].as_uri())
    try:
        assert all(w == [] for w in _prose_hidden(page)["guide"])  # visible before
        _, what = HIDINGS[how]
        page.evaluate(f"""() => {{
            const h = Array.from(document.querySelectorAll('h2')).find(
                h => h.textContent.trim().startsWith('How to read this report'));
            const el = h.nextElementSibling; {what}; }}""")
        hidden = _prose_hidden(page)["guide"]
        assert any(why for why in hidden), f"{how}: the check did not notice"
    finally:
        page.close()


# --------------------------------------------------------------------------- charts and tables

_VARIABLE_KEYS = sorted(
    {v for v in definitions() if "_" in v}
    | {f"{v}_{k}" for v, spec in definitions().items()
       for k in {**(spec.get("rows") or {}), **(spec.get("options") or {})}}
    | {lev for spec in definitions().values() for lev in spec.get("levels", [])
       if str(lev).startswith("has (")}
)


@pytest.mark.data
@pytest.mark.parametrize("name", ["trends", *map(str, SITE_YEARS)])
def test_charts_speak_the_readers_language(browser, site, name):
    """Short alt text, the numbers in a table after each chart, sharp images, scoped headers, no
    variable names or column ids in what a reader sees, non-answers charted last."""
    page, _, _ = _open(browser, pages(site)[name].as_uri())
    try:
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        figs = page.evaluate("""() => Array.from(document.querySelectorAll('figure.chart'))
            .map(f => { const i = f.querySelector('img');
                        const t = f.querySelector('details.numbers table');
                        return {alt: i.getAttribute('alt'), natural: i.naturalWidth,
                                svg: i.src.startsWith('data:image/svg+xml'),
                                width: i.width, rows: t ? t.tBodies[0].rows.length : 0,
                                labels: t ? Array.from(t.tBodies[0].rows)
                                              .map(r => r.cells[0].textContent) : []}; })""")
        assert len(figs) >= 5
        for f in figs:
            assert 20 <= len(f["alt"]) < 200, f["alt"]
            assert f["alt"].endswith(".") and ". " not in f["alt"][:-1], f["alt"]  # one sentence
            assert f["rows"] >= 1, f"no numbers after {f['alt']}"
            # sharp on a high-density screen: vector, or a bitmap with 2 pixels per CSS pixel
            assert f["svg"] or f["natural"] >= 2 * f["width"] > 0, f"{f['alt']}: blurry"
            residual = [bool(re.match(r"(other|don.t know)\s*($|\()", x.strip(), re.I))
                        for x in f["labels"]]
            if name != "trends":
                assert residual == sorted(residual), f"non-answers not last: {f['labels']}"
        assert page.evaluate("() => document.querySelectorAll('th:not([scope])').length") == 0
        text = page.inner_text("body") + " ".join(f["alt"] for f in figs)
        found = [k for k in _VARIABLE_KEYS if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])",
                                                         text)]
        assert found == [], f"{name}: variable names shown to readers: {found}"
        assert not re.search(r"\b[Qq]\d+_\d+\b", text), "a column id is shown"
        assert not re.search(r"\bHarmonised \w+_\w+", text)
    finally:
        page.close()


# --------------------------------------------------------------------------- finding one's way


def _hrefs(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                         ".map(a => a.getAttribute('href'))")


@pytest.mark.data
@pytest.mark.parametrize("name", ["index", "trends", *map(str, SITE_YEARS)])
def test_contents_skip_link_and_heading_anchors(browser, site, name):
    page, _, _ = _open(browser, pages(site)[name].as_uri())
    try:
        # the skip link is the first thing the keyboard reaches, and it shows when focused
        page.keyboard.press("Tab")
        first = page.evaluate("() => [document.activeElement.textContent.trim(),"
                              " document.activeElement.getAttribute('href')]")
        assert first == ["Skip to content", "#content"]
        assert page.evaluate(f"() => ({HIDDEN_WHY})(document.activeElement)") == []
        assert page.locator("#content").count() == 1
        page.keyboard.press("Enter")
        assert page.evaluate("() => location.hash") == "#content"
        # a table of contents linking every section of the page, in order
        toc = page.evaluate("() => Array.from(document.querySelectorAll('nav.toc a'))"
                            ".map(a => a.getAttribute('href'))")
        sections = page.evaluate(
            "() => Array.from(document.querySelectorAll('main h2[id]'))"
            ".filter(h => !h.closest('nav.toc')).map(h => '#' + h.id)")
        assert len(toc) >= (2 if name == "index" else 6)
        assert toc == sections
        if name != "index":
            anchor = page.locator("h2[id] > a.anchor-link").nth(1)
            opacity = "e => getComputedStyle(e).opacity"
            assert anchor.evaluate(opacity) == "0"  # quiet until wanted
            anchor.focus()
            assert anchor.evaluate(opacity) == "1"
            assert anchor.evaluate(HIDDEN_WHY) == []
            page.evaluate("() => document.activeElement.blur()")
            page.locator("h2[id]").nth(3).hover()
            assert page.locator("h2[id]").nth(3).locator("a.anchor-link").evaluate(opacity) == "1"
    finally:
        page.close()


@pytest.mark.data
def test_year_pages_link_their_neighbours_and_trends_links_every_year(browser, site):
    years = available_years()
    for year in SITE_YEARS:
        page, _, _ = _open(browser, pages(site)[str(year)].as_uri())
        try:
            rel = page.evaluate("() => Object.fromEntries(Array.from(document.querySelectorAll("
                                "'nav.crumbs a[rel]')).map(a => [a.rel, a.getAttribute('href')]))")
            hrefs = _hrefs(page)
        finally:
            page.close()
        at = years.index(year)
        want = {}
        if at > 0:
            want["prev"] = f"../{years[at - 1]}/index.html"
        if at < len(years) - 1:
            want["next"] = f"../{years[at + 1]}/index.html"
        assert rel == want
        assert "../trends/index.html" in hrefs and "../index.html" in hrefs
    page, _, _ = _open(browser, pages(site)["trends"].as_uri())
    try:
        hrefs = _hrefs(page)
    finally:
        page.close()
    assert {f"../{y}/index.html" for y in years} <= set(hrefs)


@pytest.mark.data
@pytest.mark.parametrize("name", ["index", "trends", *map(str, SITE_YEARS)])
def test_every_link_on_a_page_resolves(browser, site, name):
    """Same-page links reach an element; links to pages reach a built page, or a year page
    this test site does not build (it builds two years)."""
    page, _, _ = _open(browser, pages(site)[name].as_uri())
    try:
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                              ".map(a => [a.getAttribute('href'), a.href])")
        missing = [h for h, _ in links if h.startswith("#")
                   and page.evaluate("id => !document.getElementById(id)", h[1:])]
    finally:
        page.close()
    assert missing == []
    unbuilt = {str(y) for y in available_years()} - {str(y) for y in SITE_YEARS}
    for href, absolute in links:
        if not absolute.startswith("file://"):
            continue
        target = Path(absolute.split("#")[0].removeprefix("file://"))
        assert target.is_file() or (target.name == "index.html"
                                    and target.parent.name in unbuilt), href


# --------------------------------------------------------------------------- any screen, anyone

PHONE = 390


@pytest.mark.data
@pytest.mark.parametrize("name", ["index", "trends", "claims", *map(str, SITE_YEARS)])
def test_no_sideways_scrolling_on_a_phone(browser, site, shots, name):
    page, problems, _ = _open(browser, pages(site)[name].as_uri(), width=PHONE)
    try:
        widths = page.evaluate("() => [document.documentElement.scrollWidth,"
                               " document.body.scrollWidth]")
        assert max(widths) <= PHONE, f"{name} is {widths} px wide at {PHONE} px"
        # every table scrolls in its own box instead
        loose = page.evaluate("""() => Array.from(document.querySelectorAll('table')).filter(
            t => { const box = t.closest('.table-scroll');
                   return !box || !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)
                          || box.getBoundingClientRect().width > window.innerWidth; }).length""")
        assert loose == 0
        assert problems == []
        page.screenshot(path=str(shots / f"screenshot-{name}-{PHONE}px.png"))
    finally:
        page.close()


@pytest.fixture(scope="module")
def axe():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _unavailable("axe-playwright-python is not installed (pip install -e '.[dev]')")
    return Axe()


@pytest.mark.data
@pytest.mark.parametrize("name", ["index", "trends", "claims", *map(str, SITE_YEARS)])
def test_axe_finds_no_serious_accessibility_violation(browser, site, axe, name):
    """axe-core (WCAG 2 A/AA rules and best practices) on every page, with every chart's
    table of numbers opened so it is checked too."""
    page, _, _ = _open(browser, pages(site)[name].as_uri())
    try:
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        result = axe.run(page)
    finally:
        page.close()
    violations = result.response["violations"]
    for v in violations:  # shown with -s; the minor ones are reported, not failed
        print(f"{name}: {v['impact']} {v['id']} ({len(v['nodes'])} node(s)): {v['help']}")
    serious = [f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes'][0]['target']}"
               for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == []
    assert result.response["passes"], "axe ran no rule"


@pytest.mark.data
def test_axe_reports_what_it_should(browser, site, axe):
    """The accessibility check is live: a nameless link and faint text put on a page are
    reported as serious violations."""
    page, _, _ = _open(browser, pages(site)["trends"].as_uri())
    try:
        page.evaluate("""() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend',
                '<p style="color:#bbbbbb">faint text</p><a href="#content"></a>');
        }""")
        found = {v["id"]: v["impact"] for v in axe.run(page).response["violations"]}
    finally:
        page.close()
    assert found.get("link-name") in ("serious", "critical")
    assert found.get("color-contrast") == "serious"
