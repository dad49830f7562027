"""Charts and tables for the reports: one seaborn style, deterministic PNG bytes, alt text.

Every helper returns a small object that displays as HTML in a notebook (``_repr_html_``) and
carries a one-sentence alt text plus the chart's numbers as a table (in a ``<details>`` after
the image), so a reader who cannot see the image gets the same numbers. Charts are drawn with
the Agg backend, a fixed DPI and font, saved at twice their CSS size (sharp on high-density
screens) as palette PNGs without a ``Software`` chunk, so the same data always gives the same
bytes and a page of 30 charts stays well under 3 MB. Every colour that carries data has a WCAG
contrast of at least 3:1 against the white background. Estimates come as the tidy frames of
:mod:`ospo_survey.estimate` (``estimate, ci_low, ci_high, n, n_eff, suppressed``, shares in
0-1).
"""

from __future__ import annotations

import base64
import io
import math
import re
import struct
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ospo_survey.rendering.formats import fmt_int, pct
from ospo_survey.rendering.html import esc, heading

if TYPE_CHECKING:
    from types import ModuleType

DPI = 100
SCALE = 2  # PNG pixels per CSS pixel: charts stay sharp on high-density screens
PNG_COLOURS = 64  # palette size of the saved PNGs (a chart uses a handful of colours)
WIDTH = 8.0  # inches: 800 CSS px wide at DPI
FONT = "DejaVu Sans"  # ships with matplotlib: the same glyphs on every machine
BACKGROUND = "#ffffff"
BAR_COLOR = "#0173b2"  # seaborn "colorblind" blue (5.1:1 on white)
SECOND_COLOR = "#c25400"  # a darker "colorblind" orange (4.6:1; the seaborn one is 2.6:1)
SUPPRESSED_COLOR = "#d9d9d9"  # placeholder bars; their text label says what they are
# series colours and markers, each colour at least 3:1 against BACKGROUND (WCAG 1.4.11)
PALETTE = [BAR_COLOR, SECOND_COLOR, "#017a5a", "#a44a93", "#8a5a2b", "#6e6e6e"]
MARKERS = ["o", "s", "^", "D", "v", "P"]
# answers that are not a substantive category: charted last whatever their share
RESIDUAL = re.compile(
    r"^\s*(i\s+)?(other|others|don[’']?t know|do not know|not sure|unsure|none of the above|"
    r"prefer not to (say|answer)|not applicable|n/?a|unknown)\s*($|[(:,–—-])",
    re.IGNORECASE,
)
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
    """The figure as a palette PNG at SCALE times DPI, with no timestamp or software metadata;
    closes the figure. (Quantising to PNG_COLOURS keeps 2x images about as small as 1x RGBA.)"""
    from PIL import Image

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI * SCALE, metadata={"Software": None},
                    facecolor=BACKGROUND)
    finally:
        _pyplot().close(fig)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
                 ).save(out, format="PNG", optimize=True)
    return out.getvalue()


def contrast_ratio(colour: str, background: str = BACKGROUND) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""

    def luminance(hex_colour: str) -> float:
        h = hex_colour.lstrip("#")
        c = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        c = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    a, b = sorted((luminance(colour), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@dataclass
class Chart:
    """A rendered chart: PNG bytes, a short alt text, title, caption and the numbers drawn
    (an HTML table); displays as ``<figure>`` with the numbers in a ``<details>``."""

    png: bytes
    alt: str
    title: str = ""
    caption: str = ""
    numbers: str = ""

    @property
    def html(self) -> str:
        w, h = png_size(self.png)
        data = base64.b64encode(self.png).decode("ascii")
        cap = f"<figcaption>{self.caption}</figcaption>" if self.caption else ""
        nums = (
            f'<details class="chart-data"><summary>The numbers in this chart</summary>'
            f"{self.numbers}</details>" if self.numbers else ""
        )
        return (
            f'<figure class="chart"><img src="data:image/png;base64,{data}" '
            f'alt="{esc(self.alt)}" width="{w // SCALE}" height="{h // SCALE}" '
            f'loading="eager">{cap}{nums}</figure>'
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


ALT_MAX = 199  # characters: a short alt text; the numbers are in the table after the chart


def short_alt(kind: str, title: str, detail: str = "") -> str:
    """One sentence under ALT_MAX characters: what the chart is (and its largest value)."""
    head = f"{kind}: {title.rstrip('.')}"
    text = f"{head}; {detail}." if detail else f"{head}."
    if len(text) <= ALT_MAX:
        return text
    return head[: ALT_MAX - 2].rstrip() + "…."


def residual_last(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Rows whose label is a non-answer ("Other", "Don't know", ...) moved to the end."""
    last = frame[label].astype(str).map(lambda v: bool(RESIDUAL.match(v)))
    return pd.concat([frame[~last], frame[last]]).reset_index(drop=True)


def sort_by_estimate(frame: pd.DataFrame) -> pd.DataFrame:
    """Largest estimate first; suppressed or missing estimates after the shown ones."""
    key = frame["estimate"].where(~frame["suppressed"].astype(bool), -1.0).fillna(-1.0)
    out = frame.assign(_k=key).sort_values("_k", ascending=False, kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)


def nice_max(value: float, step: float = 10.0) -> float:
    """The axis end: ``value`` (percent) rounded up to a multiple of ``step``, at most 100."""
    if not np.isfinite(value) or value <= 0:
        return 100.0
    return float(min(100.0, max(step, math.ceil(value / step - 1e-9) * step)))


def _ci_cell(row: Any) -> str:
    if row.get("suppressed", False) or not np.isfinite(float(row["estimate"])):
        return "–"
    return f"{pct(row['ci_low'])}–{pct(row['ci_high'])}"


def _est_cell(row: Any) -> str:
    if row.get("suppressed", False):
        return "suppressed"
    return pct(row["estimate"])


def numbers_table(frame: pd.DataFrame, columns: Sequence[tuple[str, Any]], *,
                  caption: str) -> str:
    """The numbers a chart draws, as an accessible table (first column = row headers)."""
    rows = [{name: get(r) for name, get in columns} for _, r in frame.iterrows()]
    return table(pd.DataFrame(rows, columns=[c for c, _ in columns]), caption=caption,
                 css_class="data numbers", row_headers=True).html


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
    label_header: str = "Answer",
) -> Chart | None:
    """Horizontal bars with 95% CI error bars; suppressed bars are grey placeholders.

    ``frame`` rows are bars (``label`` names them); ``sort`` orders them by estimate, and
    non-answers ("Other", "Don't know") always come last. The share axis ends at the largest
    interval rounded up to 10%. Returns None for an empty frame, so a question a year did not
    ask leaves no empty chart.
    """
    if frame is None or frame.empty:
        return None
    plt = _ensure_style()
    data = frame.reset_index(drop=True).copy()
    if sort:
        data = sort_by_estimate(data)
    data = residual_last(data, label)
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
    reach = np.fmax(hi, est)[shown]
    end = nice_max(float(np.nanmax(reach)) if reach.size else 100.0)
    bar_h = 0.17
    ax.barh(y[shown], est[shown], color=BAR_COLOR, height=bar_h, zorder=2)
    if sup.any():
        ax.barh(y[sup], end, color=SUPPRESSED_COLOR, height=bar_h, zorder=1, hatch="//",
                edgecolor="white", linewidth=0)
    err = np.vstack([est - lo, hi - est])[:, shown]
    ax.errorbar(est[shown], y[shown], xerr=np.clip(err, 0, None), fmt="none", ecolor="#333333",
                elinewidth=1.2, capsize=3, zorder=3)
    gap = end * 0.015
    for i in range(len(data)):
        n_txt = f"  n={fmt_int(data.at[i, 'n'])}" if show_n else ""
        if sup[i]:
            ax.text(2 * gap, y[i], f"suppressed: effective n < {min_n_eff:g}{n_txt}",
                    va="center", ha="left", fontsize=8.5, color="#444444", zorder=4)
        elif np.isfinite(est[i]):
            x = hi[i] if np.isfinite(hi[i]) else est[i]
            ax.text(x + gap, y[i], f"{est[i]:.0f}%{n_txt}", va="center", ha="left",
                    fontsize=8.5, color="#222222", zorder=4)
    ax.set_yticks(y, labels)
    ax.set_ylim(body, 0)
    ax.set_xlim(0, end * (1.22 if show_n else 1.1))
    step = 10 if end <= 50 else 20
    ax.set_xticks(np.arange(0, end + 0.1, step))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    ax.grid(axis="y", visible=False)
    _title(fig, title, height)
    png = png_bytes(fig)
    answers = shown & ~data[label].astype(str).map(lambda v: bool(RESIDUAL.match(v))).to_numpy()
    best = data[answers].sort_values("estimate", ascending=False, kind="stable").head(1)
    top_txt = ""
    if not best.empty:
        b = best.iloc[0]
        name = str(b[label])
        name = name if len(name) <= 60 else name[:59].rstrip() + "…"
        top_txt = f"largest: {name}, {pct(b['estimate'])}"
    alt_text = alt or short_alt(f"Bar chart of {len(data)} bars", title, top_txt)
    numbers = numbers_table(
        data,
        [(label_header, lambda r: str(r[label])), ("Estimate", _est_cell),
         ("95% CI", _ci_cell), ("n", lambda r: int(r["n"]))],
        caption=title,
    )
    base = base_text(data)
    cap = caption or ""
    cap = (cap + " " if cap else "") + f"Base: {esc(base)}. Bars show 95% confidence intervals."
    return Chart(png, alt_text, title, cap, numbers)


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

    The share axis spans the intervals drawn, rounded out to 10%. ``breaks`` draws dashed
    vertical lines with a short label, e.g. ``(2021.5, "screening")``.
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
        ax.errorbar(xs, e, yerr=np.clip(np.vstack([e - lo, hi - e]), 0, None), fmt="-",
                    marker=MARKERS[k % len(MARKERS)], color=color, capsize=3, lw=1.4, ms=5,
                    label=str(name))
    for pos, text in breaks:
        ax.axvline(pos, color="#6e6e6e", ls="--", lw=1)
        ax.text(pos, 1.0, f" {text}", transform=ax.get_xaxis_transform(), fontsize=8,
                color="#444444", va="top", ha="left")
    years = sorted({int(v) for v in frame[x]})
    ax.set_xticks(years, [str(v) for v in years])
    ax.set_xlim(min(years) - 0.6, max(years) + 0.6)
    low = float(np.nanmin(100 * data["ci_low"].astype(float)))
    high = float(np.nanmax(100 * data["ci_high"].astype(float)))
    y0 = max(0.0, math.floor(low / 10) * 10 - 10)
    y1 = nice_max(high + 8)  # room for the break label above the highest interval
    ax.set_ylim(y0, y1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(fig, title, height)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    png = png_bytes(fig)
    if alt is None:
        names = [str(s) for s in series]
        names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        alt = short_alt("Line chart", title, f"{names}, {years[0]}–{years[-1]}")
    numbers = numbers_table(
        frame.sort_values([x], kind="stable"),
        [("Year", lambda r: str(int(r[x]))), ("Series", lambda r: str(r[hue])),
         ("Estimate", _est_cell), ("95% CI", _ci_cell), ("n", lambda r: int(r["n"]))],
        caption=title,
    )
    cap = (caption + " " if caption else "") + (
        f"Points show estimates with 95% confidence intervals; years whose effective n is "
        f"below {min_n_eff:g} are left out."
    )
    return Chart(png, alt, title, cap, numbers)


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
    numbers = ""
    if w.size:
        q = np.quantile(w, [0.0, 0.25, 0.5, 0.75, 1.0])
        if alt is None:
            alt = short_alt("Histogram", title,
                            f"{w.size} weights from {q[0]:.2f} to {q[4]:.2f}, median {q[2]:.2f}")
        stats = pd.DataFrame({
            "Statistic": ["respondents", "smallest", "lower quartile", "median",
                          "upper quartile", "largest"],
            "Weight": [f"{w.size:,}"] + [f"{v:.2f}" for v in q],
        })
        numbers = table(stats, caption=title, css_class="data numbers", row_headers=True).html
    elif alt is None:
        alt = f"Histogram: {title}. No weights."
    return Chart(png, alt, title, "", numbers)


# --------------------------------------------------------------------------- tables


def table(
    frame: pd.DataFrame,
    *,
    caption: str = "",
    formats: dict[str, Any] | None = None,
    css_class: str = "data",
    row_headers: bool = False,
) -> Html:
    """A plain, deterministic HTML table (no pandas Styler: it adds random ids).

    Header cells carry ``scope``; with ``row_headers`` the first column is ``<th scope="row">``.
    The table sits in its own horizontally scrolling box, so a wide table never widens the page.
    """
    formats = formats or {}
    cols = list(frame.columns)
    out = [f'<table class="{css_class}">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{esc(c)}</th>' for c in cols)
               + "</tr></thead>")
    out.append("<tbody>")
    for row in frame.itertuples(index=False):
        cells = []
        for k, (c, v) in enumerate(zip(cols, row, strict=True)):
            f = formats.get(c)
            if f is not None:
                text = f(v) if callable(f) else f.format(v)
                raw = isinstance(f, _Raw)
            else:
                text, raw = _cell(v), False
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            cls = ' class="num"' if num else ""
            tag, scope = ("th", ' scope="row"') if row_headers and k == 0 else ("td", "")
            cells.append(f"<{tag}{scope}{cls}>{text if raw else esc(text)}</{tag}>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    name = f' aria-label="{esc(caption)}"' if caption else ""
    wrapped = f'<div class="table-scroll" role="region"{name} tabindex="0">{"".join(out)}</div>'
    return Html([wrapped], caption)


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
    return Html([heading(2, "Key findings", "key-findings"), f'<ul class="findings">{items}</ul>'],
                "findings")
