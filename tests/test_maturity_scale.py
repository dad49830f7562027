"""Maturity ladders read as scales (analysis.maturity.scalability, rendering/maturity_words.py).

Loevinger's H is checked against a deliberately naive count of Guttman errors, pair by pair,
on the real data; the verdict rule against maturity.yaml read here with plain PyYAML; the page's
words against the public API's frame in Chromium; the trends chart by parsing its SVG.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ospo_survey.analysis import maturity as M
from ospo_survey.analysis.design import Survey
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.maturity_words import RULES_ANCHOR, year_sentences

YAML = Path(M.__file__).resolve().parent.parent / "maturity.yaml"


@cache
def _design(year: int) -> Survey:
    return Survey(year)


@cache
def _scale(year: int, model: str) -> pd.DataFrame:
    return M.scalability(_design(year), model)


def _ticked(h: pd.DataFrame, option: str) -> np.ndarray:
    return h[f"journey_{option}"].fillna(False).astype(bool).to_numpy()


def _items(year: int, model: str) -> tuple[np.ndarray, list[str]]:
    """The 0/1 items. The journey ladder is built here from the raw journey columns (checked
    against the package's placement); the other two ladders' items come from the placement."""
    h = _design(year).frame
    placed = M.place(h, M.get_model(model))
    items = placed.criteria[placed.base]
    if model == "haddad":
        hand = np.column_stack([
            _ticked(h, "consume"), _ticked(h, "collaborate"), _ticked(h, "contribute"),
            _ticked(h, "lead") | _ticked(h, "initiate")])
        hand = hand[hand.any(axis=1)]
        assert np.array_equal(hand, items.to_numpy(dtype=bool))
    return items.to_numpy(dtype=int), list(items.columns)


def _naive_h(x: np.ndarray) -> tuple[float, list[float]]:
    """Loevinger's H and H_j by counting Guttman errors respondent by respondent."""
    n, k = x.shape
    passed = [sum(int(row[j]) for row in x) for j in range(k)]
    observed, expected = {}, {}
    for i in range(k):
        for j in range(i + 1, k):
            easy, hard = (i, j) if passed[i] >= passed[j] else (j, i)
            errors = 0
            for row in x:
                if row[easy] == 0 and row[hard] == 1:
                    errors += 1
            observed[i, j] = errors
            expected[i, j] = (n - passed[easy]) * passed[hard] / n
    h = 1 - sum(observed.values()) / sum(expected.values())
    h_j = []
    for j in range(k):
        f = sum(v for pair, v in observed.items() if j in pair)
        e = sum(v for pair, v in expected.items() if j in pair)
        h_j.append(1 - f / e)
    return h, h_j


# --------------------------------------------------------------------------- the coefficients


@pytest.mark.data
@pytest.mark.parametrize("year", [2019, 2022, 2024])
@pytest.mark.parametrize("model", ["haddad", "todo5", "layers"])
def test_h_and_item_h_match_a_naive_count_of_guttman_errors(year, model):
    x, names = _items(year, model)
    h, h_j = _naive_h(x)
    got = _scale(year, model)
    assert got["item"].tolist() == names
    assert (got["respondents"] == len(x)).all() and (got["measured_stages"] == len(names)).all()
    assert abs(got["H"].iloc[0] - h) < 1e-12
    for name, want in zip(names, h_j, strict=True):
        assert abs(got.loc[got["item"] == name, "item_H"].item() - want) < 1e-12, name
    assert np.allclose(got["p"], x.mean(axis=0), atol=1e-12, rtol=0)
    # pair H: two items alone are their pair
    pair = M.loevinger(x).pair_H
    assert abs(pair[0, 1] - _naive_h(x[:, :2])[0]) < 1e-12


def test_a_perfect_guttman_pattern_has_h_one_and_independent_items_h_zero():
    perfect = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0],
                        [1, 1, 0, 0], [1, 0, 0, 0]])
    g = M.loevinger(perfect)
    assert abs(float(g.H) - 1.0) < 1e-12
    assert np.allclose(g.item_H, 1.0, atol=1e-12)
    assert _naive_h(perfect)[0] == pytest.approx(1.0, abs=1e-12)
    # exactly independent: every pattern of three items as often as its margins say
    p = [0.7, 0.5, 0.2]
    rows = []
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                w = ((p[0] if a else 1 - p[0]) * (p[1] if b else 1 - p[1])
                     * (p[2] if c else 1 - p[2]))
                rows += [[a, b, c]] * round(1000 * w)
    ind = np.array(rows)
    assert abs(M.loevinger(ind).H) < 1e-12
    assert np.allclose(M.loevinger(ind).item_H, 0.0, atol=1e-12)
    # independent random items: H near 0, well under the weakest bound
    rng = np.random.default_rng(7)
    noise = (rng.random((5000, 4)) < [0.8, 0.6, 0.4, 0.2]).astype(int)
    assert abs(M.loevinger(noise).H) < 0.03
    # a reversed item in a perfect ladder: its H_j is negative, the others' are not 1
    flipped = perfect.copy()
    flipped[:, 0] = 1 - flipped[:, 0]
    assert M.loevinger(flipped).item_H[0] < 0


# --------------------------------------------------------------------------- the bootstrap


@pytest.mark.data
def test_the_bootstrap_is_deterministic_and_agrees_with_resampling_rows():
    x, _ = _items(2019, "haddad")
    a = M.bootstrap_loevinger(x, 500, 11)
    b = M.bootstrap_loevinger(x, 500, 11)
    c = M.bootstrap_loevinger(x, 500, 12)
    assert np.array_equal(a.H, b.H) and np.array_equal(a.item_H, b.item_H)
    assert not np.array_equal(a.H, c.H)
    one, two = M.scalability(_design(2019), "haddad"), M.scalability(_design(2019), "haddad")
    pd.testing.assert_frame_equal(one, two)
    assert (one["H_low"] <= one["H"]).all() and (one["H"] <= one["H_high"]).all()
    # the pattern-count draws against the textbook bootstrap: resample the rows themselves
    rng = np.random.default_rng(2024)
    rows = [M.loevinger(x[rng.integers(0, len(x), len(x))]).H for _ in range(400)]
    lo, hi = np.quantile(rows, [0.025, 0.975])
    assert abs(lo - one["H_low"].iloc[0]) < 0.015 and abs(hi - one["H_high"].iloc[0]) < 0.015
    rules = yaml.safe_load(YAML.read_text(encoding="utf-8"))["scaling"]
    want = M.bootstrap_loevinger(x, int(rules["resamples"]), int(rules["seed"])).H
    assert one["H_low"].iloc[0] == pytest.approx(np.quantile(want, 0.025), abs=1e-12)


# --------------------------------------------------------------------------- the verdict


def _verdict_by_yaml(low: float, high: float) -> str:
    rules = yaml.safe_load(YAML.read_text(encoding="utf-8"))["scaling"]
    for c in rules["classes"]:
        if low >= c["min"]:
            return c["name"]
    return "not a scale" if high < min(c["min"] for c in rules["classes"]) else "unclear"


def test_thresholds_are_mokkens_and_stated_once():
    rules = yaml.safe_load(YAML.read_text(encoding="utf-8"))["scaling"]
    assert [(c["name"], c["min"]) for c in rules["classes"]] == [
        ("strong scale", 0.5), ("medium scale", 0.4), ("weak scale", 0.3)]
    assert rules["item_min"] == 0.3 and rules["min_items"] == 3
    # the code reads them from the YAML: no bound of Mokken's written into it
    code = Path(M.__file__).read_text(encoding="utf-8").split("is the ladder a scale?")[1]
    words = (Path(M.__file__).parent.parent / "rendering" / "maturity_words.py").read_text(
        encoding="utf-8")
    for source in (code, words):
        assert not re.search(r"(>=?|<=?)\s*0\.[345]0?(?![\w.])", source)
        assert not re.search(r"(?<![\w.])0\.[34]0?(?![\w.])", source)


@pytest.mark.data
@pytest.mark.parametrize("model", ["haddad", "todo5", "layers"])
def test_the_verdict_is_read_off_the_interval(model):
    design = Survey([2018, 2019, 2020, 2021, 2022, 2023, 2024])
    t = M.scalability(design, model).drop_duplicates("year")
    judged = t[t["verdict"].notna()]
    assert not judged.empty
    for _, r in judged.iterrows():
        assert r["verdict"] == _verdict_by_yaml(r["H_low"], r["H_high"]), r["year"]
        assert r["measured_stages"] >= 3
    # a year's verdict does not depend on the other years in the design
    alone = M.scalability(Survey(2019), model)
    assert alone["verdict"].iloc[0] == t.loc[t["year"] == 2019, "verdict"].item()


@pytest.mark.data
def test_no_verdict_with_fewer_than_three_measured_stages():
    h = _design(2024).frame
    asked = [c for c in ("policy_use", "policy_release") if h[c].notna().any()]
    assert asked == []  # 2024 asked no policy question: two of todo5's stages are unmeasured
    t = _scale(2024, "todo5")
    assert (t["measured_stages"] == 2).all() and t["verdict"].isna().all()
    reason = t["reason"].iloc[0]
    assert "compliance_education" in reason and "hosting_communities" in reason
    assert "at least 3" in reason
    assert np.isfinite(t["H"]).all()  # the coefficient is still there, without a verdict
    # the layers lose one stage in 2024 and keep a verdict on three
    layers = _scale(2024, "layers")
    assert (layers["measured_stages"] == 3).all() and layers["verdict"].notna().all()


# --------------------------------------------------------------------------- invariant ordering


def test_iio_counts_a_planted_reversal_and_none_in_a_perfect_ladder():
    rng = np.random.default_rng(3)
    theta = rng.random(3000)
    ladder = (theta[:, None] > np.array([0.2, 0.4, 0.6, 0.8])).astype(int)
    checks, violations = M.iio_violations(ladder)
    assert checks > 0 and violations == 0
    # item 0 is the more popular overall (500 of 600 against 300), but among the respondents
    # who pass item 2 (rest score 1 for the pair 0-1) item 1 is passed by all and item 0 by
    # two in three: the ordering reverses in that group
    x = np.zeros((600, 3), dtype=int)
    x[:300, 0] = 1
    x[300:, 1] = 1
    x[300:, 2] = 1
    x[400:, 0] = 1
    checks, violations = M.iio_violations(x)
    assert violations >= 1
    assert M.iio_violations(x, alpha=1e-40)[1] == 0  # the test decides: p = 2^-100 (8e-31)


# --------------------------------------------------------------------------- words on the page


@pytest.fixture(scope="module")
def browser():
    from test_browser import ARGS, CHROMIUM, _unavailable

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _visible_text(browser, html: str) -> tuple[str, bool]:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.set_content(f"<!doctype html><html lang='en'><body><main>{html}</main></body>"
                         "</html>")
        text = page.inner_text("main")
        target = page.evaluate(
            "id => { const e = document.getElementById(id); if (!e) return false;"
            " const r = e.getBoundingClientRect(); return r.height > 0 && r.width > 0; }",
            RULES_ANCHOR)
    finally:
        page.close()
    return " ".join(text.split()), target


def _num(x: float) -> str:
    return f"{x:.2f}".replace("-", "−")


@pytest.mark.data
@pytest.mark.parametrize("year", [2019, 2024])
def test_the_year_pages_words_follow_the_scale_frame(browser, year):
    from ospo_survey.rendering.year_page import YearPage

    yp = YearPage(year)
    html = yp.maturity_section().html
    text, target = _visible_text(browser, html)
    assert target  # the stage rules the words link to are on the page, visible
    assert f'href="#{RULES_ANCHOR}"' in html
    assert "ladder holds" not in text and "does not hold in these" not in text
    assert "Guttman" not in text and "reproducibility" not in text
    for key, model in M.models().items():
        t = M.scalability(yp.analysis.design, key)  # the page's design (its sample)
        first = t.iloc[0]
        assert model.label in text
        assert f"H {_num(first['H'])}" in text, key
        if first["verdict"] is None:
            assert "no verdict" in text
            gone = [model.stages[[s.name for s in model.stages].index(n)].label
                    for n in first["unmeasured"].split(", ")]
            assert all(f"“{g}”" in text for g in gone)
        else:
            lo, hi = _num(first["H_low"]), _num(first["H_high"])
            assert f"95% interval {lo}–{hi}" in text, key
            if first["verdict"] != "unclear":
                assert first["verdict"] in text, key
        labels = {s.name: s.label for s in model.stages}
        for _, r in t[t["item_fit"] == "does not fit"].iterrows():
            assert f"“{labels[r['item']]}” does not fit the ladder (its item H is " \
                   f"{_num(r['item_H'])}" in text
        # the scale's sentences are on the page as they are, and name no internal key
        sentences = " ".join(year_sentences(t, year))
        assert sentences in text
        assert "todo5" not in sentences and "maturity.yaml" not in sentences
        assert not any(s.name in sentences for s in model.stages if "_" in s.name)


@pytest.mark.data
def test_the_trends_page_words_follow_the_scale_frame():
    html = _trends().maturity_section().html
    ta = _trends().analysis
    assert "Coefficient of reproducibility" not in html and "it holds" not in html
    for key in M.models():
        t = M.scalability(ta.design, key).drop_duplicates("year")
        for verdict, g in t[t["verdict"].notna()].groupby("verdict"):
            years = [str(int(y)) for y in g["year"]]
            assert all(y in html for y in years)
            if verdict not in ("unclear", "not a scale"):
                assert f"a {verdict} in {years[0]}" in html, (key, verdict)
        for _, r in t[t["verdict"].isna()].iterrows():
            assert f"{int(r['year'])} has no verdict" in html


# --------------------------------------------------------------------------- the trends chart


@cache
def _trends():
    from ospo_survey.rendering.trends_page import TrendsPage

    return TrendsPage("reference")


def _svgs(html: str) -> list[str]:
    return [base64.b64decode(b).decode("utf-8")
            for b in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


def _segments_through(svg: str, year: int) -> list[tuple[float, float]]:
    """Line segments of the chart's polylines that reach into the column of ``year``."""
    ticks = {int(t.rstrip("*")): float(x) for x, t in
             re.findall(r'<text x="([\d.]+)" y="[\d.]+"[^>]*>(\d{4}\*?)</text>', svg)}
    step = min(b - a for a, b in zip(sorted(ticks.values()), sorted(ticks.values())[1:],
                                     strict=False))
    lo, hi = ticks[year] - step / 2, ticks[year] + step / 2
    out = []
    for pts in re.findall(r'<polyline points="([^"]+)"', svg):
        xs = [float(p.split(",")[0]) for p in pts.split()]
        out += [(a, b) for a, b in zip(xs, xs[1:], strict=False) if b >= lo and a <= hi]
    return out


@pytest.mark.data
def test_the_trends_maturity_chart_draws_no_line_through_an_unmeasured_year():
    tr = _trends()
    ta = tr.analysis
    html = tr.maturity_section().html
    charts = re.findall(r'<figure class="chart"[^>]*>.*?</figure>', html, flags=re.S)
    assert len(charts) == len(M.models())
    for (key, model), chart in zip(M.models().items(), charts, strict=True):
        gone = sorted(int(y) for y, g in M.unmeasured(ta.frame, key).items() if g)
        assert gone, key  # every model misses a stage in some year (2018 or 2024)
        series = ta.maturity_series(key)
        for svg in _svgs(chart):
            for year in gone:
                assert (series["year"] == year).any()  # the year's measured stages are shown
                assert f">{year}*<" in svg
                assert _segments_through(svg, year) == [], (key, year)
            measured = [y for y in ta.years if y not in gone]
            assert any(_segments_through(svg, y) for y in measured)  # lines elsewhere
        for year in gone:
            assert f"* {year}:" in chart or f"; {year}:" in chart  # the caption says why
        # without `apart` the same chart would join the unmeasured year to its neighbours
        plain = P.trend_ci(series.assign(series=series["stage_label"]), title=model.label,
                           breaks=ta._breaks(), marked=[ta.panel_label])
        assert any(_segments_through(s, y) for s in _svgs(plain.html) for y in gone)


# --------------------------------------------------------------------------- the command line


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ospo_survey", "maturity", *args],
                          capture_output=True, text=True)


@pytest.mark.data
def test_cli_prints_h_not_holds():
    proc = _cli("2019", "2024", "--model", "todo5")
    assert proc.returncode == 0, proc.stderr
    assert "hold" not in proc.stderr
    t = M.scalability(Survey([2019, 2024]), "todo5").drop_duplicates("year")
    for _, r in t.iterrows():
        assert f"{r['year']} todo5: Loevinger's H {r['H']:.3f}" in proc.stderr
    assert "no verdict" in proc.stderr  # 2024
    scale = _cli("2019", "2024", "--model", "todo5", "--scale")
    assert scale.returncode == 0, scale.stderr
    table = pd.read_csv(io.StringIO(scale.stdout))
    assert list(table.columns) == M.SCALE_COLUMNS
    full = M.scalability(Survey([2019, 2024]), "todo5")
    assert np.allclose(table["H"], full["H"], atol=5e-5)
    bad = _cli("2022", "--by", "size3", "--scale")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_a_bad_scaling_section_is_one_line_naming_the_file(tmp_path, monkeypatch):
    bad = tmp_path / "maturity.yaml"
    text = YAML.read_text(encoding="utf-8").replace("  resamples: 1000", "  resamples: many")
    bad.write_text(text, encoding="utf-8")
    monkeypatch.setattr(M, "MODELS_PATH", bad)
    M.scaling_rules.cache_clear()
    try:
        with pytest.raises(M.MaturityError, match=r"maturity.yaml: scaling: needs") as err:
            M.scaling_rules()
        assert "\n" not in str(err.value)
    finally:
        monkeypatch.undo()
        M.scaling_rules.cache_clear()
