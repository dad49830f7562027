"""Charts and tables for the reports: one seaborn style, deterministic PNG bytes, alt text.

Every helper returns a small object that displays as HTML in a notebook (``_repr_html_``) and
carries its alt text, so each image in a built page has one. Charts are drawn with the Agg
backend, a fixed DPI and font, and saved as PNG without a ``Software`` chunk, so the same data
always gives the same bytes. Estimates come as the tidy frames of :mod:`ospo_survey.estimate`
(``estimate, ci_low, ci_high, n, n_eff, suppressed`` with shares between 0 and 1).
"""

from __future__ import annotations

import base64
import io
import math
import struct
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ospo_survey.rendering.formats import fmt_int, pct
from ospo_survey.rendering.html import esc

if TYPE_CHECKING:
    from types import ModuleType

DPI = 100
WIDTH = 8.0  # inches: 800 px wide at DPI
FONT = "DejaVu Sans"  # ships with matplotlib: the same glyphs on every machine
BAR_COLOR = "#0173b2"  # seaborn "colorblind" blue
SECOND_COLOR = "#de8f05"  # seaborn "colorblind" orange
SUPPRESSED_COLOR = "#d9d9d9"
PALETTE = [BAR_COLOR, SECOND_COLOR, "#029e73", "#cc78bc", "#ca9161", "#949494"]
LABEL_WIDTH = 44  # characters per line of a bar label
TITLE_WIDTH = 90  # characters per line of a chart title
LEFT = 0.39  # every bar chart's axes start here (figure fraction): charts line up on a page
RIGHT = 0.97

_STYLED = False


def _pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend, imported on first use.

    Lazy so that processes which only format numbers or build pages (the page builder, the
    CLI) do not pay ~1 s for matplotlib and seaborn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def set_style() -> None:
    """The one report style: seaborn whitegrid, DejaVu Sans, fixed DPI and SVG hash salt."""
    global _STYLED
    import seaborn as sns

    plt = _pyplot()
    sns.set_theme(style="whitegrid", context="notebook", font=FONT, palette=PALETTE)
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "svg.hashsalt": "ospo-survey",
            "font.family": "sans-serif",
            "font.sans-serif": [FONT],
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "figure.max_open_warning": 0,
        }
    )
    _STYLED = True


def _ensure_style() -> ModuleType:
    """Apply the report style once; returns pyplot."""
    if not _STYLED:
        set_style()
    return _pyplot()


# --------------------------------------------------------------------------- output objects


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes with no timestamp or software metadata; closes the figure."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    finally:
        _pyplot().close(fig)
    return buf.getvalue()


@dataclass
class Chart:
    """A rendered chart: PNG bytes, alt text, title and caption; displays as ``<figure>``."""

    png: bytes
    alt: str
    title: str = ""
    caption: str = ""

    @property
    def html(self) -> str:
        w, h = png_size(self.png)
        data = base64.b64encode(self.png).decode("ascii")
        cap = f"<figcaption>{self.caption}</figcaption>" if self.caption else ""
        return (
            f'<figure class="chart"><img src="data:image/png;base64,{data}" '
            f'alt="{esc(self.alt)}" width="{w}" height="{h}" loading="eager">{cap}</figure>'
        )

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # deterministic (no memory address) for notebook text outputs
        return f"Chart({self.title!r})"


@dataclass
class Html:
    """A fragment of report HTML (headings, prose, tables, charts) that displays as itself."""

    parts: list[str] = field(default_factory=list)
    label: str = ""

    def add(self, *items: Any) -> Html:
        for item in items:
            if item is None:
                continue
            if isinstance(item, (Chart, Html)):
                self.parts.append(item.html)
            else:
                self.parts.append(str(item))
        return self

    @property
    def html(self) -> str:
        return "\n".join(self.parts)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"Html({self.label!r}, {len(self.parts)} part(s))"


# --------------------------------------------------------------------------- formatting


def wrap(label: Any, width: int = LABEL_WIDTH, max_lines: int = 3) -> str:
    lines = textwrap.wrap(str(label), width=width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, width - 1)].rstrip() + "…"
    return "\n".join(lines)


def ci_text(row: Any) -> str:
    return f"{pct(row['estimate'])} (95% CI {pct(row['ci_low'])}–{pct(row['ci_high'])})"


def base_text(frame: pd.DataFrame) -> str:
    """'n = 222, effective n 180' when every row shares a base, else the range."""
    ns = frame["n"].dropna().astype(int)
    if ns.empty:
        return "no respondents"
    eff = frame["n_eff"].replace([np.inf, -np.inf], np.nan)
    eff_txt = ""
    if eff.notna().any():
        eff_txt = f", effective n {fmt_int(eff.min())}" if ns.nunique() == 1 else ""
    if ns.nunique() == 1:
        return f"n = {fmt_int(ns.iloc[0])}{eff_txt}"
    return f"n = {fmt_int(ns.min())}–{fmt_int(ns.max())} per bar"


# --------------------------------------------------------------------------- charts


def _title(fig: Any, title: str, height: float) -> None:
    """The chart title at the figure's top left (never clipped by long axis labels)."""
    fig.text(0.012, 1 - 0.12 / height, wrap(title, TITLE_WIDTH, 2), ha="left", va="top",
             fontsize=12, fontweight="bold", color="#1f2328")


def _alt_rows(frame: pd.DataFrame, label: str, limit: int = 12) -> str:
    parts = []
    for _, row in frame.head(limit).iterrows():
        name = str(row[label])
        if row.get("suppressed", False):
            parts.append(f"{name}: suppressed (n = {fmt_int(row['n'])})")
        else:
            parts.append(f"{name}: {ci_text(row)}, n = {fmt_int(row['n'])}")
    more = f"; and {len(frame) - limit} more" if len(frame) > limit else ""
    return "; ".join(parts) + more


def bar_ci(
    frame: pd.DataFrame,
    *,
    title: str,
    xlabel: str = "Share of respondents (%)",
    label: str = "level",
    alt: str | None = None,
    caption: str = "",
    sort: bool = False,
    min_n_eff: float = 30,
    show_n: bool | None = None,
) -> Chart | None:
    """Horizontal bars with 95% CI error bars; suppressed bars are grey placeholders.

    ``frame`` rows are bars (``label`` names them). Returns None for an empty frame, so a
    question a year did not ask leaves no empty chart.
    """
    if frame is None or frame.empty:
        return None
    plt = _ensure_style()
    data = frame.reset_index(drop=True).copy()
    if sort:
        key = data["estimate"].where(~data["suppressed"].astype(bool), -1.0).fillna(-1.0)
        data = data.assign(_k=key).sort_values("_k", ascending=False, kind="stable")
        data = data.drop(columns="_k").reset_index(drop=True)
    if show_n is None:
        show_n = data["n"].nunique() > 1
    labels = [wrap(x) for x in data[label]]
    lines = [max(1, lab.count("\n") + 1) for lab in labels]
    title_lines = wrap(title, TITLE_WIDTH, 2).count("\n") + 1
    top = 0.35 + 0.22 * title_lines  # inches above the axes
    bottom = 0.6  # inches below the axes: tick labels and the axis label
    row = [0.2 + 0.16 * k for k in lines]  # inches per bar: grows with wrapped label lines
    body = sum(row)
    height = top + body + bottom
    fig = plt.figure(figsize=(WIDTH, height))
    ax = fig.add_axes((LEFT, bottom / height, RIGHT - LEFT, body / height))
    centres = np.cumsum(row) - np.asarray(row) / 2
    y = centres
    sup = data["suppressed"].astype(bool).to_numpy()
    est = (100 * data["estimate"].astype(float)).to_numpy()
    lo = (100 * data["ci_low"].astype(float)).to_numpy()
    hi = (100 * data["ci_high"].astype(float)).to_numpy()
    shown = ~sup & np.isfinite(est)
    bar_h = 0.17
    ax.barh(y[shown], est[shown], color=BAR_COLOR, height=bar_h, zorder=2)
    if sup.any():
        ax.barh(y[sup], 100, color=SUPPRESSED_COLOR, height=bar_h, zorder=1, hatch="//",
                edgecolor="white", linewidth=0)
    err = np.vstack([est - lo, hi - est])[:, shown]
    ax.errorbar(est[shown], y[shown], xerr=np.clip(err, 0, None), fmt="none", ecolor="#333333",
                elinewidth=1.2, capsize=3, zorder=3)
    for i in range(len(data)):
        n_txt = f"  n={fmt_int(data.at[i, 'n'])}" if show_n else ""
        if sup[i]:
            ax.text(2, y[i], f"suppressed: effective n < {min_n_eff:g}{n_txt}", va="center",
                    ha="left", fontsize=8.5, color="#444444", zorder=4)
        elif np.isfinite(est[i]):
            x = hi[i] if np.isfinite(hi[i]) else est[i]
            ax.text(min(x + 1.5, 101), y[i], f"{est[i]:.0f}%{n_txt}", va="center", ha="left",
                    fontsize=8.5, color="#222222", zorder=4)
    ax.set_yticks(y, labels)
    ax.set_ylim(body, 0)
    ax.set_xlim(0, 118 if show_n else 108)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    ax.grid(axis="y", visible=False)
    _title(fig, title, height)
    png = png_bytes(fig)
    alt_text = alt or f"Bar chart: {title}. {_alt_rows(data, label)}."
    base = base_text(data)
    cap = caption or ""
    cap = (cap + " " if cap else "") + f"Base: {esc(base)}. Bars show 95% confidence intervals."
    return Chart(png, alt_text, title, cap)


def trend_ci(
    frame: pd.DataFrame,
    *,
    title: str,
    x: str = "year",
    hue: str = "series",
    ylabel: str = "Share (%)",
    xlabel: str = "Survey year",
    alt: str | None = None,
    caption: str = "",
    min_n_eff: float = 30,
    breaks: Sequence[tuple[float, str]] = (),
) -> Chart | None:
    """Points with 95% CIs over years, one dodged series per ``hue`` value (suppressed: omitted).

    ``breaks`` draws dashed vertical lines with a short label, e.g. ``(2021.5, "screening")``.
    """
    if frame is None or frame.empty:
        return None
    data = frame[~frame["suppressed"].astype(bool) & frame["estimate"].notna()]
    if data.empty:
        return None
    plt = _ensure_style()
    title_lines = wrap(title, TITLE_WIDTH, 2).count("\n") + 1
    height = 3.3 + 0.22 * title_lines
    fig = plt.figure(figsize=(WIDTH, height))
    top = (0.45 + 0.22 * title_lines) / height
    ax = fig.add_axes((0.08, 0.6 / height, 0.58, 1 - top - 0.6 / height))
    series = list(dict.fromkeys(frame[hue]))
    width = 0.18
    for k, name in enumerate(series):
        part = data[data[hue] == name].sort_values(x)
        if part.empty:
            continue
        off = (k - (len(series) - 1) / 2) * width
        xs = part[x].astype(float).to_numpy() + off
        e = 100 * part["estimate"].to_numpy(dtype=float)
        lo = 100 * part["ci_low"].to_numpy(dtype=float)
        hi = 100 * part["ci_high"].to_numpy(dtype=float)
        color = PALETTE[k % len(PALETTE)]
        ax.errorbar(xs, e, yerr=np.clip(np.vstack([e - lo, hi - e]), 0, None), fmt="o-",
                    color=color, capsize=3, lw=1.4, ms=5, label=str(name))
    for pos, text in breaks:
        ax.axvline(pos, color="#888888", ls="--", lw=1)
        ax.text(pos, 1.0, f" {text}", transform=ax.get_xaxis_transform(), fontsize=8,
                color="#555555", va="top", ha="left")
    years = sorted({int(v) for v in frame[x]})
    ax.set_xticks(years, [str(v) for v in years])
    ax.set_xlim(min(years) - 0.6, max(years) + 0.6)
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(fig, title, height)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    png = png_bytes(fig)
    if alt is None:
        parts = []
        for name in series:
            part = frame[frame[hue] == name].sort_values(x)
            vals = ", ".join(
                f"{int(r[x])}: {'suppressed' if r['suppressed'] else pct(r['estimate'])}"
                for _, r in part.iterrows()
            )
            parts.append(f"{name} — {vals}")
        alt = f"Line chart: {title}. " + "; ".join(parts) + "."
    cap = (caption + " " if caption else "") + (
        f"Points show estimates with 95% confidence intervals; years whose effective n is "
        f"below {min_n_eff:g} are left out."
    )
    return Chart(png, alt, title, cap)


def weight_histogram(weights: Iterable[float], *, title: str, alt: str | None = None) -> Chart:
    """Distribution of the survey weights (mean 1), for the methods appendix."""
    plt = _ensure_style()
    w = np.asarray(list(weights), dtype=float)
    w = w[np.isfinite(w)]
    fig = plt.figure(figsize=(WIDTH, 3.0))
    ax = fig.add_axes((0.08, 0.6 / 3.0, 0.89, 1 - 1.15 / 3.0))
    if w.size and np.ptp(w) > 1e-9:
        bins = np.linspace(0, max(1.0, float(w.max())) * 1.02, 31)
        ax.hist(w, bins=bins, color=BAR_COLOR, edgecolor="white")
    else:
        ax.bar([1.0], [w.size], width=0.05, color=BAR_COLOR)
        ax.set_xlim(0, 2)
    ax.axvline(1.0, color="#333333", ls="--", lw=1)
    ax.set_xlabel("Weight (1 = unweighted)")
    ax.set_ylabel("Respondents")
    _title(fig, title, 3.0)
    png = png_bytes(fig)
    if alt is None:
        if w.size:
            q = np.quantile(w, [0.0, 0.5, 1.0])
            alt = (
                f"Histogram: {title}. {w.size} weights from {q[0]:.2f} to {q[2]:.2f}, "
                f"median {q[1]:.2f}."
            )
        else:
            alt = f"Histogram: {title}. No weights."
    return Chart(png, alt, title, "")


# --------------------------------------------------------------------------- tables


def table(
    frame: pd.DataFrame,
    *,
    caption: str = "",
    formats: dict[str, Any] | None = None,
    css_class: str = "data",
) -> Html:
    """A plain, deterministic HTML table (no pandas Styler: it adds random ids)."""
    formats = formats or {}
    cols = list(frame.columns)
    out = [f'<table class="{css_class}">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr></thead>")
    out.append("<tbody>")
    for row in frame.itertuples(index=False):
        cells = []
        for c, v in zip(cols, row, strict=True):
            f = formats.get(c)
            if f is not None:
                text = f(v) if callable(f) else f.format(v)
                raw = isinstance(f, _Raw)
            else:
                text, raw = _cell(v), False
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{text if raw else esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return Html(["".join(out)], caption)


class _Raw:
    """A cell formatter whose output is trusted HTML (links, code)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, v):
        return self.fn(v)


def raw_html(fn) -> _Raw:
    return _Raw(fn)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if v is pd.NA:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):,.2f}"
    return str(v)


def findings_block(findings: Iterable[dict[str, Any]]) -> Html:
    """The "Key findings" heading and list of a page, from its findings' sentences."""
    items = "".join(f"<li>{esc(f['text'])}</li>" for f in findings)
    return Html(['<h2 id="key-findings">Key findings</h2>', f'<ul class="findings">{items}</ul>'],
                "findings")
