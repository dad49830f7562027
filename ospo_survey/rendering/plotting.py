"""Charts and tables for the reports: deterministic SVG charts, short alt text, the numbers.

Every helper returns a small object that displays as HTML in a notebook (``_repr_html_``).
A chart is an SVG image (:mod:`ospo_survey.rendering.svg`: sharp on any screen, the same bytes
for the same data) with a one-sentence alt text, a caption and, in a ``<details>`` element,
the chart's numbers as a table for readers who cannot see the image. Estimates come as the
tidy frames of :mod:`ospo_survey.inference.estimate` (``estimate, ci_low, ci_high, n, n_eff,
suppressed`` with shares between 0 and 1).
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.rendering import svg as S
from ospo_survey.rendering.formats import fmt_int, pct
from ospo_survey.rendering.html import esc, heading

WIDTH = 800  # px: the chart's viewBox width (the page scales it to its column)
BAR_COLOR = "#0173b2"  # seaborn "colorblind" blue, 5.1:1 against white
SECOND_COLOR = "#b15b00"  # a darker orange than seaborn's (#de8f05 is 2.6:1): 4.6:1
SUPPRESSED_COLOR = "#e6e6e6"
SUPPRESSED_EDGE = "#6e6e6e"  # the placeholder's outline: 5.1:1
PALETTE = [BAR_COLOR, SECOND_COLOR, "#027a59", "#a1478f", "#5f5f5f", "#7a5c2e"]
TEXT_COLOR = "#1f2328"
MUTED_COLOR = "#57606a"
GRID_COLOR = "#d0d7de"
APART_COLOR = "#f1f3f5"  # the band behind a year that stands apart (trend_ci ``apart``)
LABEL_WIDTH = 44  # characters per line of a bar label
TITLE_WIDTH = 88  # characters per line of a chart title
LEFT = 312  # px: every bar chart's bars start here, so charts line up on a page
RIGHT = 776


@dataclass(frozen=True)
class Layout:
    """A chart's geometry (px and characters): the page column's width at full size, and a
    narrow one drawn for phones, where scaling the wide chart down would shrink its text."""

    width: float
    left: float  # bar charts: where the bars start (labels end)
    right: float
    label_chars: int
    label_lines: int
    title_chars: int
    title_lines: int
    legend_below: bool  # trend charts: the legend under the plot instead of beside it


WIDE = Layout(WIDTH, LEFT, RIGHT, LABEL_WIDTH, 3, TITLE_WIDTH, 2, False)
NARROW = Layout(420, 152, 410, 19, 4, 42, 3, True)
# screens below 560 px get the narrow drawing (templates/ospo/static/style.css: img.narrow)
ALT_LIMIT = 200  # characters: alt text is one sentence; the numbers are in the table
#: Answer labels that go last whatever their share ("Other (please specify)", "Don't know").
#: "Other" alone or with a note ("Other (please specify)"), not a category such as "other IT".
RESIDUAL = re.compile(
    r"^\s*(i\s+)?(other|others|don.?t know|do not know|not sure|unsure|none of the above|"
    r"prefer not to (say|answer)|not applicable|n/?a|unknown)\s*($|[(:,–—-])",
    re.IGNORECASE,
)


#: how a chart's CSV travels in its figure until the site builder writes it beside the page
CSV_DATA_PREFIX = "data:text/csv;charset=utf-8;base64,"


def slug(text: Any) -> str:
    """Lower-case words joined by hyphens: ``slug("Has an OSPO (2024)") == "has-an-ospo-2024"``."""
    words = re.findall(r"[a-z0-9]+", str(text).lower().replace("&", " and "))
    return "-".join(words)[:80].strip("-") or "chart"


def _weighting_words(caption: str) -> str:
    """The caption's sentence about the weighting ("Estimates weighted ..."), tags removed."""
    text = re.sub(r"<[^>]+>", "", caption or "")
    found = re.search(r"Estimates [^.]*\.", text)
    return found.group(0) if found else ""


def cite_block(title: str) -> str:
    """"Cite this": a suggested citation of one chart (toolkit version and release date,
    never the clock; the data's licence and upstream commit), in a ``<details>``."""
    from ospo_survey.ingest.cite import citation

    c = citation()
    t, d = c["toolkit"], c["data"]
    text = (f"“{esc(title.rstrip('.'))}”. {esc(t['author'])}, ospo-survey {esc(t['version'])} "
            f"report site, released <time datetime=\"{esc(t['date'])}\">{esc(t['date'])}</time>."
            f" Data: {esc(d['author'])}, {esc(d['title'])}, {esc(d['license'])}, "
            f'<a href="{esc(d["url"])}">{esc(d["repository"])}</a> at commit '
            f"<code>{esc(d['commit'])}</code>.")
    return f'<details class="cite"><summary>Cite this</summary><p>{text}</p></details>'


# --------------------------------------------------------------------------- output objects


@dataclass
class Chart:
    """A rendered chart: SVG text, alt text, title, caption and the numbers it shows.

    Displays as ``<figure>``: the image (and, with ``narrow``, the phone drawing, which the
    stylesheet shows below 560 px instead), its caption, then the numbers as a table in a
    ``<details>`` element. :meth:`save` writes the SVG for a researcher's own use.
    """

    svg: str
    alt: str
    title: str = ""
    caption: str = ""
    numbers: pd.DataFrame | None = None
    narrow: str = ""  # the same chart drawn for phones (NARROW layout), when there is one
    #: the estimates drawn (API columns), written as the chart's CSV (:meth:`csv_text`)
    data: pd.DataFrame | None = None
    key: str = ""  # what the chart shows (page and question/variable): its id; default title
    question: str = ""  # the question as asked, for the CSV; default the title
    weighting: str = ""  # the weighting in words, for the CSV; default from the caption

    @staticmethod
    def _size(svg: str) -> tuple[int, int]:
        m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
        return (int(float(m.group(1))), int(float(m.group(2)))) if m else (WIDTH, 0)

    @property
    def size(self) -> tuple[int, int]:
        return self._size(self.svg)

    @property
    def figure_id(self) -> str:
        """``chart-<key or title as a slug>``: stable when other charts are added to a page."""
        return "chart-" + slug(self.key or self.title or self.alt)

    def csv_frame(self) -> pd.DataFrame:
        """The chart's numbers as the CSV has them: ``year, question, level, group, estimate,
        ci_low, ci_high, n, weighting, suppressed, reason`` (shares 0-1, as the API's)."""
        d = self.data if self.data is not None else pd.DataFrame()
        rows = len(d)

        def col(name: str, default: Any = "") -> Any:
            return d[name].to_numpy() if name in d.columns else [default] * rows

        weighting = self.weighting or _weighting_words(self.caption)
        frame = pd.DataFrame({
            "year": col("year"),
            "question": [self.question or self.title] * rows,
            "level": col("_csv_level"),
            "group": col("_csv_group"),
            "estimate": col("estimate", np.nan),
            "ci_low": col("ci_low", np.nan),
            "ci_high": col("ci_high", np.nan),
            "n": col("n", np.nan),
            "weighting": [weighting] * rows,
            "suppressed": col("suppressed", False),
            "reason": col("reason"),
        })
        sup = frame["suppressed"].astype(bool).to_numpy()
        if sup.any():
            for name in ("estimate", "ci_low", "ci_high"):
                values = frame[name]
                if pd.api.types.is_float_dtype(values.dtype):  # (no indexer: cheaper)
                    frame[name] = np.where(sup, np.nan, values.to_numpy(dtype=np.float64))
                else:
                    frame.loc[sup, name] = np.nan
        return frame

    def csv_text(self) -> str:
        """The CSV file's text (``\\n`` line ends, floats as Python writes them: stable):
        what ``to_csv(index=False)`` writes, without its per-call cost (a page has dozens)."""
        return frame_csv(self.csv_frame())

    def tools_html(self) -> str:
        """The reader's tools under a chart: a permalink, its numbers as CSV (a data: link
        that the site builder turns into ``charts/<id>.csv`` beside the page) and a citation."""
        fid = self.figure_id
        links = [f'<a class="chart-link" href="#{fid}"><span aria-hidden="true">#</span> '
                 "Link to this chart</a>"]
        if self.data is not None and not self.data.empty:
            payload = base64.b64encode(self.csv_text().encode("utf-8")).decode("ascii")
            links.append(f'<a class="chart-csv" download="{fid}.csv" '
                         f'href="{CSV_DATA_PREFIX}{payload}">Download the numbers (CSV)</a>')
        return (f'<p class="chart-tools">{" · ".join(links)}</p>'
                + cite_block(self.title or self.alt))

    @property
    def html(self) -> str:
        w, h = self.size
        data = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        wide = ' class="wide"' if self.narrow else ""
        img = (f'<img src="data:image/svg+xml;base64,{data}" alt="{esc(self.alt)}" '
               f'width="{w}" height="{h}" loading="eager"{wide}>')
        if self.narrow:  # the stylesheet shows one of the two, by screen width
            nw, nh = self._size(self.narrow)
            small = base64.b64encode(self.narrow.encode("utf-8")).decode("ascii")
            img += (f'<img src="data:image/svg+xml;base64,{small}" alt="{esc(self.alt)}" '
                    f'width="{nw}" height="{nh}" loading="eager" class="narrow">')
        cap = f"<figcaption>{self.caption}</figcaption>" if self.caption else ""
        details = ""
        if self.numbers is not None and not self.numbers.empty:
            details = ('<details class="numbers"><summary>The numbers in this chart</summary>'
                       + table(self.numbers, caption=self.title, css_class="data numbers",
                               row_headers=True).html + "</details>")
        # attributes in alphabetical order, as nbconvert writes them back (same bytes in a
        # notebook's page and a page written directly)
        return (f'<figure class="chart" data-title="{esc(self.title or self.alt)}" '
                f'id="{self.figure_id}">{img}{cap}{self.tools_html()}{details}</figure>')

    def save(self, path: Any) -> Any:
        """Write the chart as an SVG file (e.g. ``chart.save("adoption.svg")``)."""
        from pathlib import Path

        out = Path(path)
        out.write_text(self.svg, encoding="utf-8")
        return out

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # deterministic (no memory address) for notebook text outputs
        return f"Chart({self.title!r})"


def frame_csv(frame: pd.DataFrame) -> str:
    """``frame.to_csv(index=False, lineterminator="\\n")``, written with the csv module from
    each column's values formatted as pandas formats them (floats by numpy's shortest form,
    booleans True/False, missing values empty)."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            columns.append(["True" if v else "False" for v in col.tolist()])
        elif pd.api.types.is_float_dtype(col.dtype):
            values = col.to_numpy(dtype=np.float64)
            text = values.astype(str)
            columns.append(["" if m else t for t, m in zip(text.tolist(),
                                                           np.isnan(values).tolist(),
                                                           strict=True)])
        elif pd.api.types.is_integer_dtype(col.dtype) and not col.isna().any():
            columns.append([str(v) for v in col.tolist()])
        else:
            missing = col.isna().tolist()
            columns.append(["" if m else str(v) for v, m in zip(col.tolist(), missing,
                                                                strict=True)])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([str(c) for c in frame.columns])
    writer.writerows(zip(*columns, strict=True) if columns else [])
    return out.getvalue()


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


def _title_lines(title: str, layout: Layout) -> list[str]:
    return wrap(title, layout.title_chars, layout.title_lines).split("\n")


def _title(svg: S.Svg, title: str, layout: Layout = WIDE) -> float:
    """Draw the chart title at the top left; returns the height it takes (px)."""
    lines = _title_lines(title, layout)
    svg.text(12, 14 + (len(lines) - 1) * 9.5, lines, size=15, bold=True, line_height=19)
    return 14 + 19 * len(lines)


def _title_height(title: str, layout: Layout = WIDE) -> float:
    return 14 + 19 * len(_title_lines(title, layout))


def _canvas(title: str, plot_h: float, *, gap: float = 10, layout: Layout = WIDE,
            below: float = 0) -> tuple[S.Svg, float, float]:
    """An SVG with the title drawn and room for a plot of ``plot_h`` px, its axis labels and
    ``below`` px more; returns it, the plot's top and its height."""
    top = _title_height(title, layout) + gap
    svg = S.Svg(layout.width, top + plot_h + 50 + below)
    _title(svg, title, layout)
    return svg, top, plot_h


def ordered(data: pd.DataFrame, label: str, *, sort: bool) -> pd.DataFrame:
    """Bars in reading order: by estimate when ``sort`` (suppressed last among their peers),
    else as given; answers such as "Other" and "Don't know" always last."""
    data = data.reset_index(drop=True)
    residual = np.array([bool(RESIDUAL.match(v)) for v in data[label].astype(str).tolist()],
                        dtype=np.int64)
    est = pd.to_numeric(data["estimate"], errors="coerce").to_numpy(dtype=np.float64)
    key = np.where(data["suppressed"].astype(bool).to_numpy() | np.isnan(est), -1.0, est)
    # by residual, then (when sorting) the largest first, then as given
    idx = np.lexsort((np.arange(len(data)), -key if sort else np.zeros(len(data)), residual))
    return data.take(idx).reset_index(drop=True)


def short_alt(kind: str, title: str, data: pd.DataFrame, label: str) -> str:
    """One sentence: the chart's kind, title and its largest substantive value ("Other" and
    "Don't know" aside; the numbers are in the table that follows the chart)."""
    names = data[label].astype(str).tolist()
    est = pd.to_numeric(data["estimate"], errors="coerce").to_numpy(dtype=np.float64)
    ok = (~data["suppressed"].astype(bool).to_numpy() & ~np.isnan(est)
          & np.array([not RESIDUAL.match(v) for v in names], dtype=bool))
    head = f"{kind}: {title.rstrip('.')}"
    text = head + "."
    if ok.any():
        i = int(np.argmax(np.where(ok, est, -np.inf)))  # the first of equal largest
        name = names[i]
        name = name if len(name) <= 60 else name[:59].rstrip() + "…"
        text = f"{head}; highest: {name}, {pct(est[i])}."
    if len(text) >= ALT_LIMIT:
        text = head[: ALT_LIMIT - 3].rstrip() + "…."
    return text


def numbers_table(data: pd.DataFrame, label: str, header: str, *, extra: Sequence[str] = ()
                  ) -> pd.DataFrame:
    """The chart's numbers for its ``<details>`` table: estimate, interval, base."""
    rows = []
    wanted = [c for c in dict.fromkeys([label, *extra, "suppressed", "estimate", "ci_low",
                                        "ci_high", "n"]) if c in data.columns]
    for r in data[wanted].to_dict("records"):  # (only these: a chart's frame has dozens)
        sup = bool(r.get("suppressed", False))
        row = {header: str(r[label])}
        for c in extra:
            row[c] = r[c]
        row.update({
            "share": "suppressed" if sup else pct(r["estimate"], 1),
            "95% CI": "–" if sup else f"{pct(r['ci_low'], 1)}–{pct(r['ci_high'], 1)}",
            "n": fmt_int(r["n"]),
        })
        rows.append(row)
    return pd.DataFrame(rows)


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
    label_header: str = "answer",
    key: str = "",
    question: str = "",
    weighting: str = "",
    year: int | None = None,
) -> Chart | None:
    """Horizontal bars with 95% CI error bars; suppressed bars are outlined placeholders.

    ``frame`` rows are bars (``label`` names them). Returns None for an empty frame, so a
    question a year did not ask leaves no empty chart. The axis ends at a round number just
    above the largest interval, so small shares are not slivers. ``key`` (the chart's id),
    ``question``, ``weighting`` and ``year`` go into the chart's CSV (:meth:`Chart.csv_frame`;
    defaults: the title, the caption's weighting sentence, the year in the title).
    """
    if frame is None or frame.empty:
        return None
    data = ordered(frame, label, sort=sort)
    if show_n is None:
        show_n = data["n"].nunique() > 1
    bars = _Bars.of(data, label)
    wide, narrow = (_bar_svg(bars, title=title, xlabel=xlabel, show_n=show_n,
                             min_n_eff=min_n_eff, layout=lay) for lay in (WIDE, NARROW))
    alt_text = alt or short_alt("Bar chart", title, data, label)
    base = base_text(data)
    cap = caption or ""
    cap = (cap + " " if cap else "") + f"Base: {esc(base)}. Bars show 95% confidence intervals."
    return Chart(wide, alt_text, title, cap, numbers_table(data, label, label_header), narrow,
                 data=_csv_data(data, label, year, title), key=key, question=question,
                 weighting=weighting)


def _csv_data(data: pd.DataFrame, label: str, year: int | None, title: str,
              group: str | None = None) -> pd.DataFrame:
    """The drawn rows with the CSV's level and group columns (and a year when the frame has
    none: ``year``, else the one in the title, as in "Benefits (2024)")."""
    out = data.assign(
        _csv_level=data[label].astype(str),
        _csv_group=(data[group].astype(str) if group else
                    data["group"].fillna("").astype(str) if "group" in data.columns else ""))
    if "year" not in out.columns:
        found = re.search(r"\((\d{4})\)\s*$", title)
        out["year"] = year if year is not None else (int(found.group(1)) if found else "")
    return out


@dataclass
class _Bars:
    """What a bar chart draws, read from its frame once for both layouts."""

    names: list[str]
    sup: np.ndarray
    est: np.ndarray  # percent
    lo: np.ndarray
    hi: np.ndarray
    counts: list[Any]

    @classmethod
    def of(cls, data: pd.DataFrame, label: str) -> _Bars:
        return cls(data[label].astype(str).tolist(),
                   data["suppressed"].astype(bool).to_numpy(),
                   (100 * data["estimate"].astype(float)).to_numpy(),
                   (100 * data["ci_low"].astype(float)).to_numpy(),
                   (100 * data["ci_high"].astype(float)).to_numpy(),
                   data["n"].tolist())


def _bar_svg(bars: _Bars, *, title: str, xlabel: str, show_n: bool,
             min_n_eff: float, layout: Layout) -> str:
    """The bar chart's SVG in one layout."""
    left, right = layout.left, layout.right
    labels = [wrap(v, layout.label_chars, layout.label_lines).split("\n") for v in bars.names]
    rows = [20 + 16 * max(1, len(lab)) for lab in labels]
    top = _title_height(title, layout) + 10
    body = float(sum(rows))
    svg = S.Svg(layout.width, top + body + 46)
    _title(svg, title, layout)
    sup, est, lo, hi = bars.sup, bars.est, bars.lo, bars.hi
    shown = ~sup & np.isfinite(est)
    peak = float(np.nanmax(np.where(shown, np.fmax(hi, est), np.nan))) if shown.any() else 10.0
    xmax = S.nice_max(peak)
    room = 78 if show_n else 44  # px right of the axis end for the value labels
    scale = (right - left - room) / xmax

    def x(v: float) -> float:
        return left + max(0.0, min(v, xmax)) * scale

    for t in S.ticks(xmax):
        svg.line(x(t), top, x(t), top + body, GRID_COLOR)
        svg.text(x(t), top + body + 12, f"{t:g}", size=12, anchor="middle", fill=MUTED_COLOR)
    svg.text((left + right - room) / 2, top + body + 34, xlabel, size=13, anchor="middle")
    y = top
    counts = bars.counts
    for i, lab in enumerate(labels):
        mid = y + rows[i] / 2
        svg.text(left - 8, mid, lab, size=12.5, anchor="end", line_height=16)
        n = fmt_int(counts[i])
        if sup[i]:
            svg.rect(left, mid - 8.5, x(xmax) - left, 17, SUPPRESSED_COLOR,
                     stroke=SUPPRESSED_EDGE, dash="4 3")
            svg.text(left + 6, mid, f"suppressed: eff. n < {min_n_eff:g} (n = {n})" if show_n
                     else f"suppressed: effective n under {min_n_eff:g}",
                     size=11.5, fill=TEXT_COLOR)
        elif np.isfinite(est[i]):
            svg.rect(left, mid - 8.5, x(est[i]) - left, 17, BAR_COLOR)
            if np.isfinite(lo[i]) and np.isfinite(hi[i]):
                svg.line(x(lo[i]), mid, x(hi[i]), mid, TEXT_COLOR, width=1.5)
                for end in (lo[i], hi[i]):
                    svg.line(x(end), mid - 5, x(end), mid + 5, TEXT_COLOR, width=1.5)
            edge = hi[i] if np.isfinite(hi[i]) else est[i]
            n_txt = f"  n={n}" if show_n else ""
            svg.text(x(edge) + 6, mid, f"{est[i]:.0f}%{n_txt}", size=11.5, fill=TEXT_COLOR)
        y += rows[i]
    svg.line(left, top, left, top + body, MUTED_COLOR)
    return svg.render()


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
    marked: Sequence[str] = (),
    apart: Sequence[int] = (),
    key: str = "",
    question: str = "",
    weighting: str = "",
) -> Chart | None:
    """Points with 95% CIs over years, one dodged series per ``hue`` value (suppressed: omitted).

    ``breaks`` draws dashed vertical lines with a short label, e.g. ``(2021.5, "screening")``,
    and the lines stop there. Series named in ``marked`` are open markers with no line (a value
    shown beside the series for comparison, such as a year with its paid panel). Years in
    ``apart`` stand alone: no line joins them to another year, a shaded band and an asterisk on
    the year mark them (say why in the caption, e.g. a stage those years did not measure).
    """
    if frame is None or frame.empty:
        return None
    data = frame[~frame["suppressed"].astype(bool) & frame["estimate"].notna()]
    if data.empty:
        return None
    series = list(dict.fromkeys(frame[hue]))
    wide, narrow = (_trend_svg(data, series, title=title, x=x, hue=hue, ylabel=ylabel,
                               xlabel=xlabel, breaks=breaks, marked=marked, layout=lay,
                               years=sorted({int(v) for v in frame[x]}), apart=apart)
                    for lay in (WIDE, NARROW))
    if alt is None:
        alt = short_alt("Line chart", title, data.assign(_lab=[
            f"{r[hue]} {int(r[x])}" for _, r in data.iterrows()]), "_lab")
    cap = (caption + " " if caption else "") + (
        f"Points show estimates with 95% confidence intervals; years whose effective n is "
        f"below {min_n_eff:g} are left out."
    )
    shown = frame.sort_values([hue, x], key=lambda c: c.map(series.index) if c.name == hue
                              else c, kind="stable")
    numbers = numbers_table(shown.assign(_y=shown[x].astype(int).astype(str)), "_y", "year",
                            extra=[hue]).rename(columns={hue: "series"})
    drawn = shown.assign(year=shown[x].astype(int))
    data_csv = _csv_data(drawn, "level" if "level" in drawn.columns else hue, None, title, hue)
    return Chart(wide, alt, title, cap, numbers, narrow, data=data_csv, key=key,
                 question=question, weighting=weighting)


def _trend_svg(data: pd.DataFrame, series: list[Any], *, title: str, x: str, hue: str,
               ylabel: str, xlabel: str, breaks: Sequence[tuple[float, str]],
               marked: Sequence[str], layout: Layout, years: list[int],
               apart: Sequence[int] = ()) -> str:
    """The trend chart's SVG in one layout: the legend beside the plot, or under it."""
    legends = [wrap(str(name), 26 if not layout.legend_below else 44, 2).split("\n")
               for name in series]
    below = sum(15 * len(lg) + 8 for lg in legends) + 10 if layout.legend_below else 0
    svg, top, plot_h = _canvas(title, 250.0, gap=16, layout=layout, below=below)
    x0 = 64.0 if not layout.legend_below else 52.0
    x1 = 560.0 if not layout.legend_below else layout.width - 14
    lo_year, hi_year = min(years) - 0.6, max(years) + 0.6
    ymax = S.nice_max(100 * float(np.nanmax(data["ci_high"].astype(float))))

    def px(v: float) -> float:
        return x0 + (v - lo_year) / (hi_year - lo_year) * (x1 - x0)

    def py(v: float) -> float:
        return top + plot_h - max(0.0, min(v, ymax)) / ymax * plot_h

    alone = sorted({int(y) for y in apart} & set(years))
    for yr in alone:  # behind the grid: a year that stands apart
        svg.rect(px(yr - 0.45), top, px(yr + 0.45) - px(yr - 0.45), plot_h, APART_COLOR)
    for t in S.ticks(ymax):
        svg.line(x0, py(t), x1, py(t), GRID_COLOR)
        svg.text(x0 - 8, py(t), f"{t:g}", size=12, anchor="end", fill=MUTED_COLOR)
    for yr in years:
        svg.text(px(yr), top + plot_h + 14, f"{yr}*" if yr in alone else str(yr), size=12,
                 anchor="middle", fill=MUTED_COLOR)
    svg.text((x0 + x1) / 2, top + plot_h + 38, xlabel, size=13, anchor="middle")
    svg.text(16, top + plot_h / 2, ylabel, size=13, anchor="middle", rotate=-90)
    for pos, text in sorted(breaks):
        svg.line(px(pos), top - 6, px(pos), top + plot_h, MUTED_COLOR, dash="5 4")
        fits = px(pos) + 4 + S.text_width(text, 11) <= layout.width - 4
        svg.text(px(pos) + (4 if fits else -4), top - 4, text, size=11, fill=TEXT_COLOR,
                 anchor="start" if fits else "end")
    width = 0.18
    cuts = sorted([pos for pos, _ in breaks] + [y + d for y in alone for d in (-0.5, 0.5)])
    if layout.legend_below:
        lx, legend_y = x0 - 26, top + plot_h + 62
    else:
        lx, legend_y = x1, top + 8
    for k, name in enumerate(series):
        part = data[data[hue] == name].sort_values(x)
        color = PALETTE[k % len(PALETTE)]
        open_marker = name in marked
        legend = legends[k]
        if open_marker:
            svg.circle(lx + 26, legend_y, 5, "#ffffff", stroke=color)
        else:
            svg.line(lx + 14, legend_y, lx + 38, legend_y, color, width=2)
            svg.circle(lx + 26, legend_y, 4.5, color)
        svg.text(lx + 46, legend_y + (len(legend) - 1) * 7.5, legend, size=12, line_height=15)
        legend_y += 15 * len(legend) + (8 if layout.legend_below else 10)
        if part.empty:
            continue
        off = (k - (len(series) - 1) / 2) * width
        xs = part[x].astype(float).to_numpy() + off
        e = 100 * part["estimate"].to_numpy(dtype=float)
        lo = 100 * part["ci_low"].to_numpy(dtype=float)
        hi = 100 * part["ci_high"].to_numpy(dtype=float)
        if not open_marker:
            idx = np.searchsorted(xs, cuts)
            for seg_x, seg_y in zip(np.split(xs, idx), np.split(e, idx), strict=True):
                if len(seg_x) > 1:
                    svg.polyline([(px(a), py(b)) for a, b in zip(seg_x, seg_y, strict=True)],
                                 color, width=2)
        for xv, ev, lv, hv in zip(xs, e, lo, hi, strict=True):
            svg.line(px(xv), py(lv), px(xv), py(hv), color, width=1.5)
            for end in (lv, hv):
                svg.line(px(xv) - 4, py(end), px(xv) + 4, py(end), color, width=1.5)
            if open_marker:
                svg.circle(px(xv), py(ev), 5, "#ffffff", stroke=color)
            else:
                svg.circle(px(xv), py(ev), 4.5, color)
    return svg.render()


def weight_histogram(weights: Iterable[float], *, title: str, alt: str | None = None) -> Chart:
    """Distribution of the survey weights (mean 1), for the methods appendix."""
    w = np.asarray(list(weights), dtype=float)
    w = w[np.isfinite(w)]
    svg, top, plot_h = _canvas(title, 170.0)
    x0, x1 = 64.0, 776.0
    hi_edge = max(2.0, float(w.max()) * 1.02) if w.size else 2.0
    bins = np.linspace(0, hi_edge, 31)
    counts, _ = np.histogram(w, bins=bins) if w.size else (np.zeros(30), bins)
    ymax = S.nice_max(float(counts.max()) if counts.size else 1.0, floor=5, cap=float("inf"))

    def px(v: float) -> float:
        return x0 + v / hi_edge * (x1 - x0)

    def py(v: float) -> float:
        return top + plot_h - v / ymax * plot_h

    for t in S.ticks(ymax):
        svg.line(x0, py(t), x1, py(t), GRID_COLOR)
        svg.text(x0 - 8, py(t), f"{t:g}", size=12, anchor="end", fill=MUTED_COLOR)
    for a, b, c in zip(bins[:-1], bins[1:], counts, strict=True):
        if c:
            svg.rect(px(a) + 0.5, py(c), px(b) - px(a) - 1, py(0) - py(c), BAR_COLOR)
    for t in S.ticks(hi_edge, 8):
        svg.text(px(t), top + plot_h + 14, f"{t:g}", size=12, anchor="middle", fill=MUTED_COLOR)
    svg.line(px(1.0), top, px(1.0), top + plot_h, TEXT_COLOR, dash="5 4")
    svg.text((x0 + x1) / 2, top + plot_h + 38, "Weight (1 = unweighted)", size=13,
             anchor="middle")
    svg.text(16, top + plot_h / 2, "Respondents", size=13, anchor="middle", rotate=-90)
    if alt is None:
        if w.size:
            q = np.quantile(w, [0.0, 0.5, 1.0])
            alt = (f"Histogram: {title}; {w.size} weights from {q[0]:.2f} to {q[2]:.2f}, "
                   f"median {q[1]:.2f}.")
        else:
            alt = f"Histogram: {title}. No weights."
    numbers = pd.DataFrame({
        "weights from": [f"{a:.2f}" for a in bins[:-1]],
        "to": [f"{b:.2f}" for b in bins[1:]],
        "respondents": counts.astype(int),
    })
    return Chart(svg.render(), alt, title, "", numbers[numbers["respondents"] > 0])


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
