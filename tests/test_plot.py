"""Figures for a paper (``ospo_survey.plot``): what a figure draws is what the frame says.

Every figure is drawn from a real verb's frame and its artists are read back: bar widths and
interval ends against the frame's ``estimate``/``ci_low``/``ci_high``, where a suppressed or
structurally missing row sits (a label, no bar), where a line stops (the series-break rule of
``policy.breaks``), the level order (the codebook's ``variables.yaml`` levels). Expected
numbers are read from the frame at test time, never pasted. Saving twice gives the same bytes,
in this process and in a fresh one; importing the package (and building an estimate) loads
neither matplotlib nor seaborn.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import doctest
import io
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from PIL import Image  # noqa: E402

import ospo_survey  # noqa: E402
from ospo_survey import plot  # noqa: E402
from ospo_survey.analysis import policy  # noqa: E402
from ospo_survey.core.errors import ReportError, UnknownVariableError  # noqa: E402
from ospo_survey.ingest.harmonize import definitions  # noqa: E402
from ospo_survey.rendering.labels import level_word  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def s2022(mirror):
    return ospo_survey.survey(2022)


@pytest.fixture(scope="module")
def by_size(s2022) -> pd.DataFrame:
    return s2022.proportion("has_ospo", by="size3")


@pytest.fixture(scope="module")
def all_years(mirror):
    return ospo_survey.survey(range(2018, 2025))


@pytest.fixture(scope="module")
def adoption(all_years) -> pd.DataFrame:
    return all_years.trend("has_ospo")


@pytest.fixture(scope="module")
def by_region_2024(mirror) -> pd.DataFrame:
    """A small subgroup in 2024: Latin America, Middle East & Africa and "other" are
    suppressed."""
    return ospo_survey.survey(2024).proportion("has_ospo", by="region")


# --------------------------------------------------------------------------- reading a figure


def _legend_colours(fig, ax) -> dict[str, str]:
    """Legend entry -> its colour (bars: face colour; lines: line colour)."""
    legend = ax.get_legend() or (fig.legends[0] if fig.legends else None)
    assert legend is not None, "the figure has a legend"
    out = {}
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        colour = handle.get_facecolor() if hasattr(handle, "get_width") else handle.get_color()
        out[text.get_text()] = to_hex(colour)
    return out


def _bars(fig, ax) -> pd.DataFrame:
    """Every bar: its category (the y tick it sits on), series (legend colour), width."""
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    by_colour = {c: name for name, c in _legend_colours(fig, ax).items()} if (
        ax.get_legend() or fig.legends) else {}
    rows = []
    for patch in ax.patches:
        if not str(patch.get_gid() or "").startswith("bar-"):
            continue
        y = patch.get_y() + patch.get_height() / 2
        rows.append({"category": ticks[int(round(y))], "y": y, "width": patch.get_width(),
                     "series": by_colour.get(to_hex(patch.get_facecolor()), "")})
    return pd.DataFrame(rows, columns=["category", "y", "width", "series"])


def _segments(ax, prefix: str) -> list[np.ndarray]:
    """The segments of every interval (LineCollection) whose gid starts with ``prefix``."""
    out = []
    for coll in ax.collections:
        if str(coll.get_gid() or "").startswith(prefix):
            out += [np.asarray(s) for s in coll.get_segments()]
    return out


def _texts(ax, prefix: str) -> list:
    return [t for t in ax.texts if str(t.get_gid() or "").startswith(prefix)]


def _lines(ax, prefix: str) -> list:
    return [ln for ln in ax.lines if str(ln.get_gid() or "").startswith(prefix)]


def _codebook_levels(var: str) -> list[str]:
    """The variable's levels in ``variables.yaml`` order, "don't know" (outside every base)
    left out."""
    return [lv for lv in definitions()[var]["levels"] if not policy.is_unknown(lv)]


# --------------------------------------------------------------------------- bars


@pytest.mark.data
def test_bars_and_intervals_are_the_frames_rows(by_size):
    fig, ax = plot.estimates(by_size, words=False)
    bars = _bars(fig, ax)
    assert len(bars) == len(by_size)  # one bar per row (none is suppressed here)
    assert not by_size["suppressed"].any()
    expected = by_size.set_index(["level", "group"])
    for bar in bars.itertuples():
        assert bar.width == pytest.approx(expected.at[(bar.category, bar.series), "estimate"])
    # the interval at each bar's height spans the row's ci_low..ci_high
    segs = _segments(ax, "ci-")
    assert len(segs) == len(by_size)
    for seg in segs:
        (lo, y0), (hi, y1) = seg
        assert y0 == pytest.approx(y1)
        bar = bars.iloc[int(np.argmin(np.abs(bars["y"] - y0)))]
        row = expected.loc[(bar["category"], bar["series"])]
        assert (lo, hi) == (pytest.approx(row["ci_low"]), pytest.approx(row["ci_high"]))
    # base n beside each bar, at its height
    labels = _texts(ax, "n-")
    assert len(labels) == len(by_size)
    for text in labels:
        bar = bars.iloc[int(np.argmin(np.abs(bars["y"] - text.xy[1])))]
        n = int(expected.at[(bar["category"], bar["series"]), "n"])
        assert text.get_text() == f"n={n:,}"


@pytest.mark.data
def test_levels_follow_the_codebook_and_groups_the_by_variables_order(by_size):
    fig, ax = plot.estimates(by_size, words=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == _codebook_levels("has_ospo")
    assert list(_legend_colours(fig, ax)) == [str(c) for c in by_size["size3"].cat.categories]
    # top to bottom: the first level is at the top (y grows downwards)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]


@pytest.mark.data
def test_other_and_dont_know_go_last_whatever_the_frames_order(by_region_2024):
    other_first = pd.concat([by_region_2024[by_region_2024["group"] == "other"],
                             by_region_2024[by_region_2024["group"] != "other"]])
    fig, ax = plot.estimates(other_first, words=False)
    groups = list(_legend_colours(fig, ax))
    assert groups[-1] == "other"
    assert groups[:-1] == [g for g in _codebook_levels("region") if g != "other"]


@pytest.mark.data
def test_a_suppressed_row_has_no_bar_and_says_so(by_region_2024):
    frame = by_region_2024
    hidden = frame[frame["suppressed"]]
    assert len(hidden) and (hidden["n_eff"] < policy.MIN_N_EFF).all()  # the policy's rule
    fig, ax = plot.estimates(frame, words=False)
    bars = _bars(fig, ax)
    assert len(bars) == int((~frame["suppressed"]).sum())
    assert set(bars["series"]) == set(frame.loc[~frame["suppressed"], "group"])
    assert (bars["width"] > 0).all()
    labels = [t.get_text() for t in _texts(ax, "missing-")]
    assert len(labels) == len(hidden)
    for row in hidden.itertuples():
        assert f"{row.group}: suppressed (n = {row.n})" in labels


@pytest.mark.data
def test_a_level_that_could_not_be_chosen_is_labelled_with_its_reason(mirror):
    frame = ospo_survey.survey(2024).proportion("ospo_status")
    gone = frame[(frame["reason"] != "") & ~frame["suppressed"]]
    assert len(gone) == 1 and gone["estimate"].isna().all()
    fig, ax = plot.estimates(frame, words=False)
    bars = _bars(fig, ax)
    assert gone["level"].iloc[0] not in set(bars["category"])
    assert len(bars) == len(frame) - 1
    texts = [t for t in _texts(ax, "missing-")]
    assert [t.get_text() for t in texts] == [gone["reason"].iloc[0]]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks.index(gone["level"].iloc[0]) == round(texts[0].xy[1])  # on its own row


@pytest.mark.data
def test_words_are_the_pages_words(by_size):
    fig, ax = plot.estimates(by_size)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        level_word("has_ospo", lv) for lv in _codebook_levels("has_ospo")]
    assert ax.get_title().startswith(definitions()["has_ospo"]["label"])


@pytest.mark.data
def test_compare_draws_raw_and_adjusted_shares(mirror):
    frame = ospo_survey.survey(2022).compare("activity_contribute", "has_ospo",
                                             adjust=["org_size"])
    one = frame[frame["outcome_level"] == "frequently"]
    fig, ax = plot.estimates(frame, level="frequently", words=False)
    bars = _bars(fig, ax)
    assert len(bars) == 2 * len(one)
    raw = bars[bars["series"] == "raw"].set_index("category")["width"]
    adj = bars[bars["series"] != "raw"].set_index("category")["width"]
    assert raw.to_dict() == pytest.approx(one.set_index("group")["estimate"].to_dict())
    assert adj.to_dict() == pytest.approx(one.set_index("group")["adj_estimate"].to_dict())
    with pytest.raises(UnknownVariableError, match="'often' is not a outcome level"):
        plot.estimates(frame, level="often")


@pytest.mark.data
def test_options_of_a_multiple_choice_question_in_codebook_order_other_last(mirror):
    frame = ospo_survey.survey(2023).proportions("benefits_2023")
    options = [o for o in definitions()["benefits_2023"]["options"] if not policy.is_unknown(o)]
    shuffled = frame.iloc[::-1]  # whatever order the frame comes in: "other" still goes last
    fig, ax = plot.estimates(shuffled, words=False)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[-1] == "other" and sorted(ticks) == sorted(options)
    fig, ax = plot.estimates(frame)  # the options' own labels, wrapped
    labels = definitions()["benefits_2023"]["options"]
    assert [re.sub(r"\s", "", t.get_text()) for t in ax.get_yticklabels()] == [
        re.sub(r"\s", "", labels[o]) for o in options]
    bars = _bars(fig, ax)
    assert sorted(bars["width"]) == pytest.approx(sorted(frame["estimate"]))


@pytest.mark.data
def test_a_pooled_comparison_is_drawn_and_captioned_as_pooled(mirror):
    frame = ospo_survey.survey([2022, 2023, 2024]).compare("has_ospo", "size3", pooled=True)
    has = frame[frame["outcome_level"] == "has"]
    fig, ax = plot.estimates(frame, level="has", words=False)
    assert ax.get_title().endswith("years pooled")
    assert sorted(_bars(fig, ax)["width"]) == pytest.approx(sorted(has["estimate"]))
    assert "years pooled" in plot.caption(frame)


# --------------------------------------------------------------------------- lines


def _expected_runs(years: list[int]) -> list[list[int]]:
    """Consecutive years split wherever ``policy.breaks`` names a break between them."""
    runs = [[years[0]]]
    for a, b in zip(years[:-1], years[1:], strict=True):
        if policy.breaks(a, b):
            runs.append([b])
        else:
            runs[-1].append(b)
    return runs


@pytest.mark.data
def test_a_series_break_splits_the_line(adoption):
    has = adoption[adoption["level"] == "has"]
    fig, ax = plot.trend(has, dodge=0.0)
    segments = _lines(ax, "line-")
    years = sorted(has["year"].unique())
    runs = _expected_runs(years)
    assert len(runs) == 2 and len(segments) == 2  # 2018-2021 | 2022-2024
    estimate = has.set_index("year")["estimate"]
    for line, run in zip(segments, runs, strict=True):
        assert list(line.get_xdata()) == run
        assert list(line.get_ydata()) == pytest.approx(estimate.loc[run].tolist())
    # the dotted line sits between the two years of the break, with its label
    cut = _lines(ax, "break-")
    assert len(cut) == 1 and cut[0].get_xdata()[0] == pytest.approx((runs[0][-1] + runs[1][0]) / 2)
    assert [t.get_text() for t in _texts(ax, "break-label")] == policy.breaks(runs[0][-1],
                                                                              runs[1][0])
    # every year's interval: its ci_low..ci_high at its year
    ci = has.set_index("year")
    segs = _segments(ax, "ci-")
    assert len(segs) == len(years)
    for (x0, lo), (_, hi) in segs:
        year = int(round(x0))
        assert (lo, hi) == (pytest.approx(ci.at[year, "ci_low"]),
                            pytest.approx(ci.at[year, "ci_high"]))


@pytest.mark.data
def test_the_paid_panel_year_is_an_open_marker(adoption, all_years):
    panel = all_years.diagnostics().query("panel_share > 0")["year"].tolist()
    assert panel  # 2023
    fig, ax = plot.trend(adoption[adoption["level"] == "has"])
    hollow = _lines(ax, "open-")
    assert len(hollow) == 1
    assert [int(round(x)) for x in hollow[0].get_xdata()] == panel
    assert to_hex(hollow[0].get_markerfacecolor()) == "#ffffff"
    filled = _lines(ax, "points-")
    assert sorted(int(round(x)) for x in filled[0].get_xdata()) == sorted(
        set(adoption["year"]) - set(panel))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("paid panel" in t for t in legend)
    # left out and re-weighted: no open marker
    fig, ax = plot.trend(all_years.without_panel().trend("has_ospo").query("level == 'has'"))
    assert not _lines(ax, "open-")


@pytest.mark.data
def test_every_level_is_a_line_in_codebook_order(adoption):
    fig, ax = plot.trend(adoption, words=False)
    assert list(_legend_colours(fig, ax))[:3] == _codebook_levels("has_ospo")
    assert len(_lines(ax, "line-")) == 3 * len(_expected_runs(sorted(adoption["year"].unique())))


@pytest.mark.data
def test_a_suppressed_year_has_no_point_and_a_label(mirror):
    frame = ospo_survey.survey([2022, 2023, 2024]).proportion("has_ospo", by="region")
    frame = frame[frame["level"] == "has"]
    fig, ax = plot.estimates(frame, words=False, dodge=0.0)
    colours = _legend_colours(fig, ax)
    for group, part in frame.groupby("group", sort=False):
        shown = sorted(part.loc[~part["suppressed"], "year"])
        drawn = sorted(int(round(x)) for ln in ax.lines if ln.get_linestyle() == "None"
                       and to_hex(ln.get_color()) == colours[group] for x in ln.get_xdata())
        assert drawn == shown, group
    labels = [(int(round(t.xy[0])), t.get_text()) for t in _texts(ax, "missing-")]
    hidden = frame[frame["suppressed"]]
    assert sorted(labels) == sorted((int(y), f"suppressed n={n}")
                                    for y, n in zip(hidden["year"], hidden["n"], strict=True))


@pytest.mark.data
def test_a_stage_not_measured_is_labelled_not_drawn(all_years):
    frame = all_years.maturity("haddad")
    gone = frame[(frame["reason"] != "") & ~frame["suppressed"]]
    assert len(gone)
    fig, ax = plot.estimates(frame)
    texts = [t.get_text() for t in _texts(ax, "missing-")]
    assert sorted(texts) == sorted(gone["reason"])


@pytest.mark.data
@pytest.mark.parametrize("panel", ["included", "left out"])
def test_a_change_across_a_break_or_the_panel_is_drawn_untested(all_years, panel):
    design = all_years if panel == "included" else all_years.without_panel()
    frame = design.difference("has_ospo", "has")
    untested = frame[frame["ci_low"].isna() & frame["estimate"].notna()]
    panel_years = set(design.diagnostics().query("panel_share > 0")["year"])
    # why a change is not tested, from the policy's break rule and the design's panel share
    expected = {int(b): "not tested: series break" if policy.breaks(a, b) else
                "not tested: paid panel" for a, b in zip(untested["year_a"], untested["year_b"],
                                                        strict=True)}
    assert all(policy.breaks(a, b) or {a, b} & panel_years
               for a, b in zip(untested["year_a"], untested["year_b"], strict=True))
    assert ("not tested: paid panel" in expected.values()) == bool(panel_years)
    fig, ax = plot.estimates(frame, dodge=0.0)
    assert not _lines(ax, "line-")  # changes are points, never joined
    open_points = _lines(ax, "open-")
    assert [int(x) for x in open_points[0].get_xdata()] == untested["year_b"].tolist()
    assert list(open_points[0].get_ydata()) == pytest.approx(untested["estimate"].tolist())
    assert {int(round(x0)) for (x0, _), _ in _segments(ax, "ci-")} == set(
        frame.loc[frame["ci_low"].notna(), "year_b"])
    labels = {int(round(t.xy[0])): t.get_text() for t in _texts(ax, "untested-")}
    assert labels == expected
    assert _lines(ax, "zero")


@pytest.mark.data
def test_difference_ticks_name_both_years_bases(all_years):
    frame = all_years.difference("has_ospo", "has")
    fig, ax = plot.estimates(frame)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == [f"{a}→{b}\n{na:,}→{nb:,}" for a, b, na, nb in zip(
        frame["year_a"], frame["year_b"], frame["n_a"], frame["n_b"], strict=True)]


@pytest.mark.data
def test_drawing_leaves_the_sessions_settings_as_they_were(by_size, monkeypatch):
    """The figure's style is in force while it is drawn and only its own settings are put
    back: a setting made meanwhile (Jupyter's inline backend turns ``interactive`` on when
    the session's first figure is made) stays, so later figures are still shown."""
    before = dict(matplotlib.rcParams)
    plot.estimates(by_size)
    assert dict(matplotlib.rcParams) == before
    real_figure = plt.figure

    def first_figure(*args, **kwargs):
        matplotlib.rcParams["interactive"] = True
        return real_figure(*args, **kwargs)

    monkeypatch.setattr(plt, "figure", first_figure)
    monkeypatch.setitem(matplotlib.rcParams, "interactive", False)
    plot.estimates(by_size)
    assert matplotlib.rcParams["interactive"] is True


# --------------------------------------------------------------------------- colours


def _contrast(colour: str) -> float:
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 1.05 / (0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05)


@pytest.mark.data
def test_text_and_marks_keep_the_sites_contrast(by_region_2024, adoption):
    for frame in (by_region_2024, adoption):
        fig, ax = plot.estimates(frame)
        texts = [*ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels(), ax.title,
                 ax.xaxis.label, ax.yaxis.label]
        for text in texts:
            assert _contrast(to_hex(text.get_color())) >= 4.5, text.get_text()
        marks = [to_hex(p.get_facecolor()) for p in ax.patches if p.get_gid()]
        marks += [to_hex(ln.get_color()) for ln in ax.lines]
        assert marks and all(_contrast(c) >= 3.0 for c in marks)


# --------------------------------------------------------------------------- caption


@pytest.mark.data
def test_caption_names_sample_weighting_years_interval_break_and_panel(adoption, all_years):
    text = plot.caption(adoption, design=all_years)
    assert "harmonised sample" in text and "weighted to the reference mix" in text
    assert "2018–2024" in text and "95% interval: sampling noise only" in text
    assert "Opt-in survey" in text
    assert all(label in text for label in policy.breaks(2021, 2022))
    panel = [n for n in all_years.notes if "paid-panel" in n]
    assert panel and all(n in text for n in panel)
    n = adoption["n"]
    assert f"n = {n.min():,}–{n.max():,}" in text
    assert "unknown or missing; they keep" not in text  # weighting details stay in methods


@pytest.mark.data
def test_caption_says_unweighted_publisher_and_when_nothing_is_recorded(mirror, by_size):
    s = ospo_survey.survey(2024, sample="publisher", weights="unweighted")
    frame = s.proportion("has_ospo", by="region")
    text = plot.caption(frame, design=s)
    assert "publisher's analysed sample; unweighted" in text and "Share of respondents" in text
    assert f"effective n under {policy.MIN_N_EFF}" in text  # suppressed groups
    # a verb's frame records its design (sample, weights, years), so no design= is needed;
    # a frame that lost its attrs says so rather than guess
    assert "not recorded" not in plot.caption(by_size)
    bare = by_size.copy()
    bare.attrs.clear()
    assert "not recorded in the frame" in plot.caption(bare)


# --------------------------------------------------------------------------- saving


def _save_all(frame: pd.DataFrame, folder: Path) -> dict[str, bytes]:
    fig, _ = plot.estimates(frame)
    out = {}
    for fmt in plot.FORMATS:
        out[fmt] = plot.save(fig, folder / f"figure.{fmt}", dpi=120,
                             caption=plot.caption(frame)).read_bytes()
    plt.close(fig)
    return out


@pytest.mark.data
def test_every_format_saves_the_same_bytes_twice_and_in_a_fresh_process(adoption, tmp_path):
    for name in "abc":
        (tmp_path / name).mkdir()
    first = _save_all(adoption, tmp_path / "a")
    second = _save_all(adoption, tmp_path / "b")
    assert set(first) == {"png", "pdf", "svg"}
    for fmt in first:
        assert first[fmt] == second[fmt], fmt
    assert first["png"].startswith(b"\x89PNG") and first["pdf"].startswith(b"%PDF")
    assert b"<svg" in first["svg"]
    assert b"CreationDate" not in first["pdf"] and b"<dc:date>" not in first["svg"]
    assert b"ospo-survey" in first["pdf"] and b"ospo-survey" in first["svg"]
    # a new process: no clock, no random ids
    fresh = tmp_path / "c"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r});"
        " from test_plot import _save_all; import ospo_survey; from pathlib import Path;"
        f" _save_all(ospo_survey.survey(range(2018, 2025)).trend('has_ospo'), Path({str(fresh)!r}))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={**os.environ, "MPLBACKEND": "Agg"})
    for fmt in first:
        assert (fresh / f"figure.{fmt}").read_bytes() == first[fmt], fmt


@pytest.mark.data
def test_png_resolution_follows_dpi_and_a_bad_format_is_one_line(by_size, tmp_path):
    fig, _ = plot.estimates(by_size)
    small = Image.open(plot.save(fig, tmp_path / "small.png", dpi=100))
    large = Image.open(plot.save(fig, tmp_path / "large.png", dpi=200))
    assert large.size[0] == pytest.approx(2 * small.size[0], abs=2)
    assert large.size[0] == pytest.approx(fig.get_figwidth() * 200, abs=2)
    assert small.info.get("Software", "").startswith("ospo-survey")
    with pytest.raises(ReportError, match=r"cannot save 'figure.jpg' as 'jpg': use one of"):
        plot.save(fig, tmp_path / "figure.jpg")


def test_a_frame_that_is_not_an_estimate_is_one_line():
    with pytest.raises(ReportError, match="plot needs an estimate frame"):
        plot.estimates([1, 2])
    with pytest.raises(ReportError, match="has no column 'ci_high'"):
        plot.estimates(pd.DataFrame({"estimate": [0.5], "ci_low": [0.4]}))


# --------------------------------------------------------------------------- no cost when unused


@pytest.mark.data  # builds an estimate
def test_import_and_estimates_load_neither_matplotlib_nor_seaborn():
    code = (
        "import sys, ospo_survey;"
        " s = ospo_survey.survey(2024); s.proportion('has_ospo', by='size3');"
        " import ospo_survey.rendering.year_page, ospo_survey.rendering.trends_page;"
        " import ospo_survey.rendering.index_page, ospo_survey.site.pages;"
        " assert 'plot' in dir(ospo_survey); exec('from ospo_survey import *');"
        " print(sorted(m for m in ('matplotlib', 'seaborn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    # and `ospo_survey.plot` is there when asked for
    code = "import sys, ospo_survey; ospo_survey.plot.estimates; print('seaborn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.stdout.strip() == "True"


# --------------------------------------------------------------------------- README


@pytest.mark.data
def test_readme_figures_section_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Figures for a paper\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README has a 'Figures for a paper' section"
    blocks = re.findall(r"^```python\n(.*?)^```", m.group(1), re.S | re.M)
    assert blocks and all(">>> " in b for b in blocks)
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "README: Figures",
                                               "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir())  # it wrote its files here
