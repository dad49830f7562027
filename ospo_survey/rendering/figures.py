"""Figures for a paper: seaborn/matplotlib drawings of any verb's tidy estimate frame.

The site draws its charts as hand-written SVG (:mod:`ospo_survey.rendering.plotting`); a
researcher in JupyterLab wants a figure to restyle and save. :func:`estimates` draws the frame
of ``proportion``, ``proportions``, ``trend``, ``maturity``, ``difference`` or ``compare``
and returns the matplotlib ``(Figure, Axes)``, showing what the numbers mean under the
project's policy (:mod:`ospo_survey.analysis.policy`):

- shares as bars (one year) or as points joined by a line over years, each with its 95%
  interval (``ci_low``-``ci_high``, sampling noise only);
- ``by=`` groups side by side; levels in their codebook order, "other"/"don't know" last;
- a line stops at a series break (``policy.breaks``) and at a year without an estimate; a
  year that includes a paid panel is an open marker;
- a suppressed estimate is a label "suppressed (n = ...)", never a zero bar, and a level that
  could not be chosen is labelled with its reason;
- the base ``n`` as a label beside each bar (or under each year).

:func:`caption` writes the figure's caption from the frame (sample, weighting, years, what the
interval means, breaks, panel, suppression) and :func:`save` writes PNG, PDF or SVG with the
same bytes for the same figure (fixed metadata, no clock).

This module imports matplotlib and seaborn: it is loaded only on demand (``from ospo_survey
import plot``), never by ``import ospo_survey`` or the page builds. Examples:
:mod:`ospo_survey.plot`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, PercentFormatter

from ospo_survey.analysis import policy
from ospo_survey.core.errors import ReportError, UnknownVariableError, did_you_mean
from ospo_survey.core.meta import VERSION
from ospo_survey.rendering import svg as S
from ospo_survey.rendering.formats import fmt_int
from ospo_survey.rendering.labels import level_word, variable_label
from ospo_survey.rendering.plotting import (
    GRID_COLOR,
    MUTED_COLOR,
    PALETTE,
    RESIDUAL,
    SUPPRESSED_COLOR,
    SUPPRESSED_EDGE,
    TEXT_COLOR,
    wrap,
)

__all__ = ["FORMATS", "bars", "caption", "estimates", "lines", "save", "style", "trend"]

SOFTWARE = f"ospo-survey {VERSION} (matplotlib)"  # the files' fixed creator text
FORMATS = ("png", "pdf", "svg")
INTERVAL_TEXT = "95% interval: sampling noise only"
SUPPRESSED_TEXT = "suppressed"
PANEL_TEXT = "open marker: includes a paid panel"
MARKERS = ("o", "s", "^", "D", "v", "P")
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
SAMPLE_WORDS = {
    "harmonized": "harmonised sample (the cross-year screen)",
    "publisher": "the publisher's analysed sample",
}
WEIGHT_WORDS = {
    "reference": "weighted to the reference mix of organisation size and tech industry"
                 " (standardised; targets/reference.yaml)",
    "unweighted": "unweighted",
}
# weighting details a methods section holds, not a caption (one per year and variable)
_DETAIL_NOTE = re.compile(r"unknown or missing; they keep their observed share|"
                          r"not asked in \d{4}; not used")
_PANEL_NOTE = re.compile(r"^(\d{4}) includes [\d,]+ paid-panel respondents")


def style() -> dict[str, Any]:
    """The figures' rcParams: seaborn's white-grid "paper" style in the site's colours and
    contrast (text #1f2328, muted ticks #57606a, grid #d0d7de; every series colour at least
    4.5:1 on white). For drawings of your own: ``matplotlib.rcParams.update(plot.style())``."""
    rc = dict(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=1.2))
    rc.update({
        "axes.edgecolor": MUTED_COLOR, "axes.labelcolor": TEXT_COLOR, "text.color": TEXT_COLOR,
        "xtick.color": MUTED_COLOR, "ytick.color": MUTED_COLOR, "grid.color": GRID_COLOR,
        "axes.prop_cycle": mpl.cycler(color=list(PALETTE)), "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"], "svg.hashsalt": "ospo-survey",
        "pdf.fonttype": 42, "ps.fonttype": 42,
    })
    return rc


@contextmanager
def _styled(rc: dict[str, Any]) -> Iterator[None]:
    """``rc`` in force inside the block, and only ``rc`` put back after it.

    Not ``matplotlib.rc_context``: it restores every parameter, so the first figure of a
    Jupyter session, which activates the inline backend inside the block, would have the
    backend's own settings (``interactive``) undone and no later figure would be shown.
    """
    saved = {k: mpl.rcParams[k] for k in rc}
    mpl.rcParams.update(rc)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


# --------------------------------------------------------------------------- the frame


@dataclass(frozen=True)
class _Kind:
    """What a frame is and how its rows map to a drawing."""

    name: str  # "share" (proportion, proportions, trend, maturity), "difference", "compare"
    frame: pd.DataFrame  # rows to draw: x, category, series, estimate, ci_low, ci_high, n, ...
    variable: str
    years: list[int]


def _check(frame: Any) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ReportError(f"plot needs an estimate frame (a verb's result), not a"
                          f" {type(frame).__name__}")
    if frame.empty:
        raise ReportError("the estimate frame is empty: nothing to draw")
    need = {"estimate", "ci_low", "ci_high", "suppressed", "reason"}
    missing = sorted(need - set(frame.columns))
    if missing:
        raise ReportError(f"the frame has no column {missing[0]!r}: pass a frame returned by a"
                          " survey verb (proportion, trend, difference, compare, maturity)")
    return frame


def _residual(text: Any) -> bool:
    """"other", "don't know" and their kin go last whatever their codebook place."""
    return bool(RESIDUAL.match(str(text).replace("_", " ")))


def _ordered(values: Iterable[Any]) -> list[Any]:
    """Values in the order they first appear (the codebook's), residual answers last."""
    seen = list(dict.fromkeys(values))
    return [v for v in seen if not _residual(v)] + [v for v in seen if _residual(v)]


def _maturity_models() -> dict[str, Any]:
    from ospo_survey.analysis.maturity import models

    return models()


def _variable_text(variable: str, words: bool) -> str:
    """A variable (or maturity model) as a reader sees it: its label, or its key."""
    if not words:
        return variable
    model = _maturity_models().get(variable)
    return model.label if model is not None else variable_label(variable)


def _level_text(variable: str, level: Any, words: bool) -> str:
    """A level as a reader sees it: the option's label (multiple choice), a maturity stage's
    label, the page's words (``reports.yaml`` level_words) or, with ``words=False``, the key."""
    if not words:
        return str(level)
    model = _maturity_models().get(variable)
    if model is not None:
        return next((st.label for st in model.stages if st.name == str(level) and st.label),
                    str(level))
    option = variable_label(f"{variable}_{level}")
    if option != f"{variable}_{level}":
        return option
    return level_word(variable, level)


def _pick(frame: pd.DataFrame, column: str, wanted: Any, what: str) -> pd.DataFrame:
    if wanted is None:
        return frame
    keys = [wanted] if isinstance(wanted, str) else list(wanted)
    known = [str(v) for v in dict.fromkeys(frame[column].astype(str))]
    for key in keys:
        if str(key) not in known:
            raise UnknownVariableError(f"{key!r} is not a {what} of this frame:"
                                       f"{did_you_mean(key, known)} ({what}s: {', '.join(known)})")
    order = {str(k): i for i, k in enumerate(keys)}
    out = frame[frame[column].astype(str).isin(order)]
    return out.iloc[np.argsort(out[column].astype(str).map(order).to_numpy(), kind="stable")]


def _by_columns(frame: pd.DataFrame) -> list[str]:
    """The ``by=`` variables of a frame: its columns beyond a verb's fixed ones."""
    from ospo_survey.analysis.design import DIFFERENCE_COLUMNS

    if "outcome_level" in frame.columns:
        by = frame.attrs.get("by")
        return [str(by)] if by else []
    fixed = {*policy.COLUMNS, *DIFFERENCE_COLUMNS, "note"}
    return [c for c in frame.columns if c not in fixed]


def _group_text(frame: pd.DataFrame, rows: pd.DataFrame, words: bool) -> list[str]:
    """Each row's group as a reader sees it (the by= variable's level words)."""
    by = _by_columns(frame)
    if not words or len(by) != 1:
        return rows["group"].astype(str).tolist()
    return [level_word(by[0], g) if g else "" for g in rows["group"].astype(str)]


def _kind(frame: pd.DataFrame, level: Any, words: bool) -> _Kind:
    """The frame's kind and its rows in one drawing vocabulary."""
    if "year_a" in frame.columns:  # Survey.difference
        f = _pick(frame, "level", level, "level")
        var = str(f["variable"].iloc[0])
        out = pd.DataFrame({
            "x": f["year_b"].astype(int).to_numpy(),
            "category": [f"{a}→{b}" for a, b in zip(f["year_a"], f["year_b"], strict=True)],
            "level": f["level"].astype(str).to_numpy(),
            "group": f["group"].astype(str).to_numpy(),
            "n": f["n_b"].to_numpy(),
            "n_a": f["n_a"].to_numpy(),
            "note": f["note"].astype(str).to_numpy(),
        })
        years = sorted({int(y) for y in (*f["year_a"], *f["year_b"])})
    elif "outcome_level" in frame.columns:  # compare
        f = _pick(frame, "outcome_level", level, "outcome level")
        var = str(f["outcome"].iloc[0])
        year = f["year"].astype(str) if "year" in f else pd.Series("", index=f.index)
        out = pd.DataFrame({"x": year.to_numpy(),  # a year, or "pooled" (pooled=True)
                            "level": f["outcome_level"].astype(str).to_numpy(),
                            "group": f["group"].astype(str).to_numpy(),
                            "n": f["n"].to_numpy()})
        years = sorted({int(y) for y in year if y.isdigit()})
    else:  # proportion, proportions, trend, maturity
        f = _pick(frame, "level", level, "level")
        var = str(f["variable"].iloc[0])
        out = pd.DataFrame({"x": f["year"].astype(int).to_numpy(),
                            "level": f["level"].astype(str).to_numpy(),
                            "group": f["group"].astype(str).to_numpy(),
                            "n": f["n"].to_numpy()})
        years = sorted({int(y) for y in f["year"]})
        if f["variable"].nunique() > 1:  # frames of several variables, concatenated
            out["variable"] = f["variable"].astype(str).to_numpy()
    for c in ("estimate", "ci_low", "ci_high"):
        out[c] = f[c].astype(float).to_numpy()
    out["suppressed"] = f["suppressed"].astype(bool).to_numpy()
    out["reason"] = f["reason"].fillna("").astype(str).to_numpy()
    out["row"] = f.index.to_numpy()  # the frame's own index, for a researcher to match
    out["group"] = _group_text(frame, f, words)
    if "variable" in out:
        out["level_text"] = [
            f"{_variable_text(v, words)}: {_level_text(v, lv, words)}"
            for v, lv in zip(out["variable"], out["level"], strict=True)]
    else:
        out["level_text"] = [_level_text(var, lv, words) for lv in out["level"]]
    name = ("difference" if "year_a" in frame.columns else
            "compare" if "outcome_level" in frame.columns else "share")
    if name == "compare" and "adj_estimate" in f.columns and out["level"].nunique() == 1:
        adj = out.copy()
        for c in ("estimate", "ci_low", "ci_high"):
            adj[c] = f[f"adj_{c}"].astype(float).to_numpy()
        adjusted = str(f["adjusted_for"].iloc[0]) if "adjusted_for" in f else "adjustment"
        adjusted = " and ".join(_variable_text(a.strip(), words) for a in adjusted.split("+"))
        out["measure"], adj["measure"] = "raw", f"adjusted for {adjusted}"
        out = pd.concat([out, adj], ignore_index=True)
    return _Kind(name, out.reset_index(drop=True), var, years)


def _series_key(data: pd.DataFrame, parts: Sequence[str]) -> pd.Series:
    """One label per row naming what tells its series apart (only the columns that vary)."""
    varying = [p for p in parts if p in data and data[p].nunique() > 1]
    if not varying:
        return pd.Series([""] * len(data), index=data.index)
    return data[varying].astype(str).agg(" · ".join, axis=1)


def _notes(frame: pd.DataFrame) -> list[str]:
    notes = [str(n) for n in frame.attrs.get("notes", [])]
    if "note" in frame.columns:
        for text in frame["note"].dropna().astype(str):
            notes += [t.strip() for t in text.split(";") if t.strip()]
    return list(dict.fromkeys(notes))


def panel_years(frame: pd.DataFrame) -> list[int]:
    """Years whose estimates include a paid panel, as the frame's notes say
    (:func:`ospo_survey.analysis.policy.panel_note`)."""
    years = {int(m.group(1)) for n in _notes(frame) if (m := _PANEL_NOTE.match(n))}
    return sorted(years)


def break_positions(years: Sequence[int]) -> list[tuple[float, str]]:
    """(x between the two years, label) of each series break between consecutive years
    (:func:`ospo_survey.analysis.policy.breaks`, the one rule)."""
    ys = sorted({int(y) for y in years})
    return [((a + b) / 2, label) for a, b in zip(ys[:-1], ys[1:], strict=False)
            for label in policy.breaks(a, b)]


# --------------------------------------------------------------------------- drawing helpers


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _missing_label(row: pd.Series, *, short: bool = False) -> str:
    """What a row without an estimate says instead of a bar or point."""
    n = fmt_int(row["n"])
    if row["suppressed"]:
        return f"{SUPPRESSED_TEXT} n={n}" if short else f"{SUPPRESSED_TEXT} (n = {n})"
    return str(row["reason"] or "no estimate")


def _share_axis(axis: Any, top: float, *, percent: bool = True) -> list[float]:
    ticks = [t / 100 for t in S.ticks(100 * top)]
    axis.set_major_locator(FixedLocator(ticks))
    if percent:
        axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    return ticks


def _top(data: pd.DataFrame) -> float:
    hi = np.fmax(data["ci_high"].to_numpy(dtype=float), data["estimate"].to_numpy(dtype=float))
    peak = float(np.nanmax(hi)) if np.isfinite(hi).any() else 0.1
    return S.nice_max(100 * peak, floor=10.0, cap=100.0) / 100


def _legend(fig: Figure, ax: Axes, handles: list[Any], title: str, own: bool, *,
            below: bool) -> None:
    """The legend outside the plot (beside bars, under a time axis) when the figure is
    ours; inside, where it covers least, on a researcher's own axes."""
    if not handles:
        return
    if not own:
        ax.legend(handles=handles, title=title or None, frameon=False, loc="best")
        return
    longest = max(len(h.get_label()) for h in handles)
    if below or longest > 24:  # a long legend beside the plot would squeeze it
        cols = 3 if longest <= 24 else 2 if longest <= 40 else 1
        fig.legend(handles=handles, title=title or None, frameon=False,
                   loc="outside lower center", ncols=min(cols, len(handles)))
        rows = -(-len(handles) // cols) + (1 if title else 0)
        fig.set_figheight(fig.get_figheight() + 0.25 * rows)  # the plot keeps its height
    else:
        ax.legend(handles=handles, title=title or None, frameon=False)
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


# --------------------------------------------------------------------------- bars


def bars(frame: pd.DataFrame, *, level: Any = None, ax: Axes | None = None,
         title: str | None = None, words: bool = True, show_n: bool = True
         ) -> tuple[Figure, Axes]:
    """Horizontal bars with their 95% intervals, one per row of ``frame``: levels down the
    axis in codebook order, groups (and years, with several) side by side in the palette.
    A suppressed or structurally missing row has no bar, only its label. Example:
    ``fig, ax = bars(survey(2022).proportion("has_ospo", by="size3"))``.
    """
    frame = _check(frame)
    kind = _kind(frame, level, words)
    if kind.name == "difference":
        return lines(frame, level=level, ax=ax, title=title, words=words, show_n=show_n)
    data = kind.frame
    if kind.name == "compare" and "measure" in data:
        data = data.assign(level_text=data["group"])
        hue_parts = ["measure", "x"]
    else:
        hue_parts = ["x", "group"]  # the level's text names its question when there are several
    data = data.assign(series=_series_key(data, hue_parts))
    categories = _ordered(data["level_text"])
    series = _ordered(data["series"])
    k_series = len(series)
    height = 0.8 / k_series
    rows = len(categories) * max(1, k_series)
    with _styled(style()):
        own = ax is None
        fig, ax = _axes(ax, (6.4, 1.3 + 0.28 * rows + 0.12 * len(categories)))
        top = _top(data)
        room = 0.2 * top if show_n else 0.02 * top
        handles = []
        for k, name in enumerate(series):
            part = data[data["series"] == name]
            color, hatch = PALETTE[k % len(PALETTE)], HATCHES[(k // len(PALETTE)) % 6]
            y = np.array([categories.index(c) for c in part["level_text"]], dtype=float)
            y += (k - (k_series - 1) / 2) * height
            est = part["estimate"].to_numpy(dtype=float)
            shown = np.isfinite(est) & ~part["suppressed"].to_numpy()
            unsure = np.isfinite(est) & part["suppressed"].to_numpy()  # suppress=False frames
            for i in np.flatnonzero(shown | unsure):
                bar = ax.barh(y[i], est[i], height=height * 0.92,
                              color=SUPPRESSED_COLOR if unsure[i] else color,
                              edgecolor=SUPPRESSED_EDGE if unsure[i] else color,
                              hatch="///" if unsure[i] else hatch, linewidth=0.8)
                bar.patches[0].set_gid(f"bar-{k}-{i}")
            lo = part["ci_low"].to_numpy(dtype=float)
            hi = part["ci_high"].to_numpy(dtype=float)
            ci = shown & np.isfinite(lo) & np.isfinite(hi)
            if ci.any():
                eb = ax.errorbar(est[ci], y[ci], xerr=[est[ci] - lo[ci], hi[ci] - est[ci]],
                                 fmt="none", ecolor=TEXT_COLOR, elinewidth=1.1, capsize=2.5)
                eb.lines[2][0].set_gid(f"ci-{k}")
            for i, (_, row) in enumerate(part.iterrows()):
                if shown[i]:
                    if show_n:
                        edge = hi[i] if np.isfinite(hi[i]) else est[i]
                        ax.annotate(f"n={fmt_int(row['n'])}", (edge, y[i]),
                                    xytext=(4, 0), textcoords="offset points", va="center",
                                    fontsize="x-small", color=MUTED_COLOR, gid=f"n-{k}-{i}")
                    continue
                text = _missing_label(row) if not unsure[i] else (
                    f"effective n under the threshold (n = {fmt_int(row['n'])})")
                text = f"{name}: {text}" if name else text
                ax.annotate(text, (0, y[i]), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize="x-small", color=TEXT_COLOR,
                            fontstyle="italic", gid=f"missing-{k}-{i}")
            if name:
                handles.append(Patch(facecolor=color, edgecolor=color, hatch=hatch, label=name))
        _share_axis(ax.xaxis, top)
        ax.set_xlim(0, top + room)
        ax.set_yticks(range(len(categories)), [wrap(c, 40, 3) for c in categories])
        ax.set_ylim(len(categories) - 0.5, -0.5)  # first level at the top
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(_value_label(kind))
        ax.set_ylabel("")
        _legend(fig, ax, handles, _legend_title(kind, frame, data, hue_parts, words), own,
                below=False)
        ax.set_title(_title(kind, title, words))
        _finish(ax)
    return fig, ax


def _value_label(kind: _Kind) -> str:
    if kind.name == "difference":
        return "Change in share (percentage points)"
    if kind.name == "compare":
        return "Share of each group"
    return "Share of respondents"


def _legend_title(kind: _Kind, frame: pd.DataFrame, data: pd.DataFrame,
                  parts: Sequence[str], words: bool) -> str:
    """What the legend's entries are: the by= variable, the year, the question."""
    by = _by_columns(frame)
    names = {"x": "Survey year", "variable": "Question",
             "group": " × ".join(_variable_text(b, words) for b in by)}
    varying = [p for p in parts if p in data and data[p].nunique() > 1]
    return " · ".join(names[p] for p in varying if names.get(p))


def _title(kind: _Kind, title: str | None, words: bool) -> str:
    if title is not None:
        return title
    label = _variable_text(kind.variable, words)
    if kind.name == "compare" and (kind.frame["x"] == "pooled").any():
        return f"{label}, years pooled"
    years = kind.years
    span = "" if not years else (f", {years[0]}" if len(years) == 1
                                 else f", {years[0]}–{years[-1]}")
    return f"{label}{span}"


# --------------------------------------------------------------------------- lines


def lines(frame: pd.DataFrame, *, level: Any = None, ax: Axes | None = None,
          title: str | None = None, words: bool = True, show_n: bool = True,
          dodge: float = 0.08) -> tuple[Figure, Axes]:
    """Points with their 95% intervals over survey years, one line per level (or group),
    each line stopping at a series break and at a year without an estimate. A year that
    includes a paid panel is an open marker; a suppressed year is a "suppressed" label at the
    foot of the axis. ``dodge`` (years) sets the series apart so intervals do not overlap.

    A :meth:`Survey.difference` frame draws each year's change from the year before, with
    a zero line; a change the verb does not test (across a series break, or where the paid
    panel changes the sample's make-up) is an open marker labelled "not tested". Example:
    ``fig, ax = lines(survey(range(2018, 2025)).trend("has_ospo"), level="has")``.
    """
    frame = _check(frame)
    kind = _kind(frame, level, words)
    data = kind.frame
    parts = ["level_text", "group"] if kind.name != "compare" else ["group"]
    if kind.name == "compare" and "measure" in data:
        parts = ["measure"]
    data = data.assign(series=_series_key(data, parts))
    series = _ordered(data["series"])
    xs_all = sorted({int(x) for x in data["x"]})
    cuts = break_positions(kind.years) if kind.name != "compare" else []
    panel = set(panel_years(frame)) if kind.name == "share" else set()
    with _styled(style()):
        own = ax is None
        fig, ax = _axes(ax, (7.0, 4.2))
        handles = []
        k_series = len(series)
        step = min(dodge, 0.5 / max(1, k_series - 1))  # all series within half a year
        for k, name in enumerate(series):
            part = data[data["series"] == name].sort_values("x", kind="stable")
            color, marker = PALETTE[k % len(PALETTE)], MARKERS[(k // len(PALETTE)) % 6]
            x = part["x"].to_numpy(dtype=float)
            xd = x + (k - (k_series - 1) / 2) * step
            est = part["estimate"].to_numpy(dtype=float)
            lo = part["ci_low"].to_numpy(dtype=float)
            hi = part["ci_high"].to_numpy(dtype=float)
            ok = np.isfinite(est) & ~part["suppressed"].to_numpy()
            if kind.name != "difference":
                for j, run in enumerate(_runs(x, ok, xs_all, cuts)):
                    ax.plot(xd[run], est[run], "-", color=color, linewidth=1.8,
                            gid=f"line-{k}-{j}")
            ci = ok & np.isfinite(lo) & np.isfinite(hi)
            if ci.any():
                eb = ax.errorbar(xd[ci], est[ci], yerr=[est[ci] - lo[ci], hi[ci] - est[ci]],
                                 fmt="none", ecolor=color, elinewidth=1.2, capsize=2.5)
                eb.lines[2][0].set_gid(f"ci-{k}")
            hollow = np.array([int(v) in panel for v in x]) & ok
            if kind.name == "difference":
                hollow = ok & ~ci  # not tested (a break, the panel): no interval
            for mask, face, tag in ((ok & ~hollow, color, "points"), (hollow, "white", "open")):
                if mask.any():
                    ax.plot(xd[mask], est[mask], ls="none", marker=marker, markersize=6,
                            color=color, markerfacecolor=face, markeredgewidth=1.4,
                            gid=f"{tag}-{k}")
            for i in np.flatnonzero(~ok):  # upright at the foot of the axis, one per series
                ax.annotate(_missing_label(part.iloc[i], short=True), (xd[i], 0), xycoords=(
                    "data", "axes fraction"), xytext=((k - (k_series - 1) / 2) * 9, 3),
                    textcoords="offset points", ha="center", va="bottom", rotation=90,
                    fontsize="x-small", color=color, fontstyle="italic",
                    gid=f"missing-{k}-{i}")
            if kind.name == "difference":
                for i in np.flatnonzero(hollow):
                    last = int(x[i]) == xs_all[-1]  # the last one's label reads leftwards
                    ax.annotate(_untested_label(part["reason"].iloc[i]),
                                (xd[i], est[i]), xytext=(-6 if last else 6, 0),
                                textcoords="offset points", ha="right" if last else "left",
                                va="center", fontsize="x-small", color=color,
                                gid=f"untested-{k}-{i}")
            if name:
                handles.append(Line2D([], [], color=color, marker=marker, label=name))
        for j, (pos, label) in enumerate(cuts):
            ax.axvline(pos, color=MUTED_COLOR, linestyle=":", linewidth=1.2, gid=f"break-{j}")
            ax.annotate(label, (pos, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                        textcoords="offset points", va="top", fontsize="x-small",
                        color=TEXT_COLOR, gid=f"break-label-{j}")
        if panel:
            handles.append(Line2D([], [], color=MUTED_COLOR, marker="o", ls="none",
                                  markerfacecolor="white", label=PANEL_TEXT))
        ax.set_xticks(xs_all, [_year_tick(kind, data, x, show_n) for x in xs_all])
        ax.set_xlim(min(xs_all) - 0.5, max(xs_all) + 0.5)
        ax.grid(axis="x", visible=False)
        if kind.name == "difference":
            ax.axhline(0, color=MUTED_COLOR, linewidth=1.0, gid="zero")
            if cuts:  # room above the intervals for the break's label
                low, high = ax.get_ylim()
                ax.set_ylim(low, high + 0.12 * (high - low))
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0, symbol=""))
        else:
            top = _top(data)
            _share_axis(ax.yaxis, top)
            ax.set_ylim(0, top * (1.1 if cuts else 1.0))  # room for the break's label
        ax.set_ylabel(_value_label(kind))
        ax.set_xlabel("Survey year" if kind.name != "difference" else
                      "Change to survey year" + (" (under each: both years' bases n)"
                                                 if show_n else ""))
        _legend(fig, ax, handles, _legend_title(kind, frame, data, parts, words), own,
                below=True)
        ax.set_title(_title(kind, title, words))
        _finish(ax)
    return fig, ax


def _untested_label(reason: str) -> str:
    """A change without an interval says why, in two words (``reason`` has the sentence)."""
    if "series break" in reason:
        return "not tested: series break"
    if "paid-panel" in reason or "make-up" in reason:
        return "not tested: paid panel"
    return "not tested"


def _runs(x: np.ndarray, ok: np.ndarray, years: list[int],
          cuts: Sequence[tuple[float, str]]) -> list[list[int]]:
    """Row positions of each line segment: runs of shown estimates in consecutive survey
    years (of ``years``) that cross no series break; a lone point is no segment."""
    runs: list[list[int]] = []
    run: list[int] = []
    for i in range(len(x)):
        if run and ok[i]:
            prev = int(x[run[-1]])
            if years.index(int(x[i])) == years.index(prev) + 1 and not any(
                    prev < pos < x[i] for pos, _ in cuts):
                run.append(i)
                continue
        runs.append(run)
        run = [i] if ok[i] else []
    runs.append(run)
    return [r for r in runs if len(r) > 1]


def _finish(ax: Axes) -> None:
    """Ticks drawn later (at save time, outside the style) keep the style's colours and
    sizes."""
    rc = style()
    ax.tick_params(colors=MUTED_COLOR, labelcolor=TEXT_COLOR,
                   labelsize=rc["xtick.labelsize"])
    ax.tick_params(axis="both", which="both", grid_color=GRID_COLOR)


def _year_tick(kind: _Kind, data: pd.DataFrame, year: int, show_n: bool) -> str:
    """A year's tick: the year (or the pair of a difference) and its base n, or their
    range when the series' bases differ."""
    label = (str(data.loc[data["x"] == year, "category"].iloc[0]) if kind.name == "difference"
             else str(year))
    if not show_n:
        return label
    rows = data.loc[data["x"] == year]
    if kind.name == "difference":  # both years' bases
        pairs = rows[["n_a", "n"]].dropna().astype(int).drop_duplicates()
        if len(pairs) != 1:
            return label
        return f"{label}\n{fmt_int(pairs.iloc[0, 0])}→{fmt_int(pairs.iloc[0, 1])}"
    ns = rows["n"].dropna().astype(int).unique()
    if len(ns) == 1:
        return f"{label}\nn={fmt_int(ns[0])}"
    return f"{label}\nn={fmt_int(ns.min())}–{fmt_int(ns.max())}"


# --------------------------------------------------------------------------- dispatch


def estimates(frame: pd.DataFrame, *, kind: str | None = None, level: Any = None,
              ax: Axes | None = None, title: str | None = None, words: bool = True,
              show_n: bool = True, dodge: float = 0.08) -> tuple[Figure, Axes]:
    """A figure of any verb's estimate frame: :func:`lines` over years when the frame holds
    several years (``trend``, a several-year ``proportion`` or ``maturity``) or is a
    ``difference``; :func:`bars` for one year (``proportion``, ``proportions``, ``compare``,
    ``maturity``). ``kind="bar"`` or ``"line"`` chooses; ``level`` keeps one level (or a list);
    ``words=False`` shows the variables' keys instead of their labels; ``title=""`` draws
    none; ``dodge`` (years) sets a line chart's series apart. Returns the matplotlib
    ``(Figure, Axes)`` to restyle; :func:`caption` gives the caption and :func:`save` writes
    the file. Example: ``fig, ax = estimates(survey(2022).proportion("has_ospo",
    by="size3"))`` (see :mod:`ospo_survey.plot`).
    """
    frame = _check(frame)
    if kind not in (None, "bar", "line"):
        raise ReportError(f"kind must be 'bar' or 'line', not {kind!r}")
    if kind is None:
        if "year_a" in frame.columns:
            kind = "line"
        elif "outcome_level" in frame.columns:
            kind = "bar"
        else:
            kind = "line" if frame["year"].nunique() > 1 else "bar"
    if kind == "line":
        return lines(frame, level=level, ax=ax, title=title, words=words, show_n=show_n,
                     dodge=dodge)
    return bars(frame, level=level, ax=ax, title=title, words=words, show_n=show_n)


def trend(frame: pd.DataFrame, **options: Any) -> tuple[Figure, Axes]:
    """:func:`estimates` as lines over years (``kind="line"``)."""
    return estimates(frame, kind="line", **options)


# --------------------------------------------------------------------------- caption


def caption(frame: pd.DataFrame, design: Any = None) -> str:
    """The figure's caption, in sentences: what is shown, the sample, the weighting, the
    years, what the interval means, and the frame's notes a reader needs (series breaks, the
    paid panel, a subset, suppressed or structurally missing estimates, who is outside the
    base).

    Sample and weighting come from the frame's ``attrs`` (``sample``, ``weights``) or from
    ``design`` (the :class:`~ospo_survey.analysis.design.Survey` that made the frame).
    Example: ``caption(s.proportion("has_ospo"), design=s)``.
    """
    frame = _check(frame)
    kind = _kind(frame, None, True)
    attrs = frame.attrs
    sample = attrs.get("sample") or getattr(design, "sample", None)
    scheme = attrs.get("weights") if attrs.get("weights") not in (None, "weight") else None
    scheme = scheme or getattr(design, "scheme", None)
    years = kind.years or [int(y) for y in attrs.get("years", []) or
                           getattr(design, "years", [])]
    span = "" if not years else (str(years[0]) if len(years) == 1 else
                                 f"{years[0]}–{years[-1]}")
    what = {"difference": "Change in the weighted share from one survey year to the next",
            "compare": "Weighted share of each group" + (
                ", raw and adjusted (marginal standardisation)" if "measure" in kind.frame
                else ""),
            "share": "Weighted share of respondents"}[kind.name]
    if scheme == "unweighted":
        what = what.replace("Weighted share", "Share").replace("weighted share", "share")
    if kind.name == "compare" and (kind.frame["x"] == "pooled").any():
        span = "years pooled (year as a fixed effect)"
    parts = [f"{what}: {_variable_text(kind.variable, True)}" + (f", {span}" if span else "") + "."]
    parts.append("Opt-in survey: estimates describe its respondents, not all organisations.")
    sample_text = SAMPLE_WORDS.get(str(sample), str(sample)) if sample else (
        "sample not recorded in the frame (pass design=)")
    if scheme:
        weight_text = WEIGHT_WORDS.get(str(scheme), f"weighted to the targets in {scheme}")
    else:
        weight_text = "weighting not recorded in the frame (pass design=)"
    parts.append(f"Sample: {sample_text}; {weight_text}.")
    parts.append(f"{INTERVAL_TEXT.capitalize()} (not self-selection or question wording).")
    shown = kind.frame[kind.frame["estimate"].notna() & ~kind.frame["suppressed"]]
    ns = shown["n"].dropna().astype(int)
    if not ns.empty:
        base = (f"n = {fmt_int(ns.iloc[0])}" if ns.nunique() == 1
                else f"n = {fmt_int(ns.min())}–{fmt_int(ns.max())}")
        parts.append(f"Base: respondents who answered ({base}).")
    dropped = {k: v for k, v in attrs.get("dropped", {}).items() if v}
    if dropped:
        parts.append("Outside the base: " + ", ".join(
            f"{fmt_int(v)} {k}" for k, v in dropped.items()) + ".")
    if kind.frame["suppressed"].any():
        parts.append(f"Suppressed (no bar or point): effective n under {policy.MIN_N_EFF:g}.")
    structural = kind.frame.loc[~kind.frame["suppressed"] & (kind.frame["reason"] != ""),
                                "reason"]
    structural = [r for r in dict.fromkeys(structural) if not r.startswith("crosses")]
    if kind.name == "difference":  # changes the verb does not test, and why
        untested = kind.frame["estimate"].notna() & kind.frame["ci_low"].isna()
        why = [r for r in dict.fromkeys(kind.frame.loc[untested, "reason"])
               if r and not r.startswith("crosses")]
        structural = [r for r in structural if r not in why]
        if why:
            parts.append("Open markers, not tested: " + "; ".join(why) + ".")
    if structural:
        parts.append("No estimate where a level could not be chosen (" + "; ".join(
            structural) + "), never 0%.")
    for _, label in break_positions(kind.years) if kind.name != "compare" else []:
        parts.append(f"Series break ({label}): " + (
            "the change across it is not tested." if kind.name == "difference"
            else "the line is not joined across it."))
    panel = panel_years(frame)
    notes = [n for n in _notes(frame) if not _DETAIL_NOTE.search(n)
             and not n.startswith("series break between")]
    notes = [n for n in notes if not any(n == label for _, label in break_positions(
        kind.years))]
    if panel and kind.name == "share":
        notes.append(f"Open markers: {', '.join(map(str, panel))}, which includes a paid panel.")
    parts += [n[0].upper() + n[1:] + ("" if n.endswith(".") else ".") for n in notes]
    return " ".join(parts)


# --------------------------------------------------------------------------- saving


def save(fig: Figure, path: str | Path, *, dpi: float = 300, format: str | None = None,
         caption: str | None = None) -> Path:
    """Write ``fig`` as PNG, PDF or SVG (from the path's suffix, or ``format``) with the same
    bytes for the same figure: fixed creator, no creation date, fixed SVG ids, embedded
    TrueType fonts in the PDF. ``dpi`` sets a PNG's resolution; ``caption`` is stored in the
    file's description (PDF Subject, SVG and PNG Description). Example:
    ``save(fig, "has_ospo.png", dpi=200)``.
    """
    out = Path(path)
    fmt = (format or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ReportError(f"cannot save {out.name!r} as {fmt or 'a file without a suffix'!r}:"
                          f" use one of {', '.join('.' + f for f in FORMATS)}")
    title = "" if not fig.axes else fig.axes[0].get_title()
    meta: dict[str, Any]
    if fmt == "png":
        meta = {"Software": SOFTWARE, "Title": title}
        if caption:
            meta["Description"] = caption
    elif fmt == "pdf":
        meta = {"Creator": SOFTWARE, "Producer": SOFTWARE, "CreationDate": None,
                "ModDate": None, "Title": title}
        if caption:
            meta["Subject"] = caption
    else:
        meta = {"Creator": SOFTWARE, "Date": None, "Title": title}
        if caption:
            meta["Description"] = caption
    with _styled({"svg.hashsalt": "ospo-survey", "pdf.fonttype": 42, "svg.fonttype": "path"}):
        fig.savefig(out, format=fmt, dpi=dpi, metadata=meta, facecolor="white")
    return out
