"""A small SVG writer for the report charts: shapes and text as deterministic markup.

Pages draw their charts as SVG written here rather than through matplotlib: the markup is a
few kilobytes, sharp on any screen density, the same bytes for the same data, and costs
microseconds instead of a figure, a renderer and a PNG encoder per chart (the page builds'
largest cost when charts were PNGs, see benchmarks/README.md). Coordinates are pixels of a
fixed ``viewBox``; the page's CSS scales the image to its column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
CHAR_WIDTH = 0.58  # average glyph advance of the font, in ems (for value-label placement)


def _n(v: float) -> str:
    """A coordinate with at most one decimal and no trailing zeros (stable text)."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float) -> float:
    """Approximate rendered width of ``text`` at ``size`` px (layout only, never clipped)."""
    return len(text) * size * CHAR_WIDTH


class Svg:
    """An SVG document built shape by shape; :meth:`render` gives its text."""

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, *,
             stroke: str | None = None, dash: str | None = None) -> None:
        extra = f' stroke="{stroke}"' if stroke else ""
        extra += f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" '
                          f'height="{_n(h)}" fill="{fill}"{extra}/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, *,
             width: float = 1.0, dash: str | None = None) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
                          f'stroke="{stroke}" stroke-width="{_n(width)}"{extra}/>')

    def polyline(self, points: Iterable[tuple[float, float]], stroke: str, *,
                 width: float = 2.0) -> None:
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" '
                          f'stroke-width="{_n(width)}"/>')

    def circle(self, cx: float, cy: float, r: float, fill: str, *, stroke: str | None = None,
               width: float = 2.0) -> None:
        extra = f' stroke="{stroke}" stroke-width="{_n(width)}"' if stroke else ""
        self.parts.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" '
                          f'fill="{fill}"{extra}/>')

    def text(self, x: float, y: float, text: str | Sequence[str], *, size: float = 12,
             anchor: str = "start", fill: str = "#1f2328", bold: bool = False,
             line_height: float | None = None, rotate: float | None = None) -> None:
        """Text whose first line's middle sits at ``y``; a list is one line per item,
        centred as a block on ``y``."""
        lines = [text] if isinstance(text, str) else list(text)
        lh = line_height or size * 1.25
        top = y - (len(lines) - 1) * lh / 2
        attrs = (f'x="{_n(x)}" y="{_n(top)}" font-size="{_n(size)}" text-anchor="{anchor}" '
                 f'dominant-baseline="central" fill="{fill}"')
        if bold:
            attrs += ' font-weight="bold"'
        if rotate is not None:
            attrs += f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"'
        if len(lines) == 1:
            self.parts.append(f"<text {attrs}>{escape(lines[0])}</text>")
            return
        spans = "".join(
            f'<tspan x="{_n(x)}" dy="{_n(0 if i == 0 else lh)}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        self.parts.append(f"<text {attrs}>{spans}</text>")

    def render(self) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(self.width)} '
                f'{_n(self.height)}" width="{_n(self.width)}" height="{_n(self.height)}" '
                f'font-family="{FONT_FAMILY}">')
        return head + '<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(
            self.parts) + "</svg>"


def nice_max(value: float, floor: float = 10.0, cap: float = 100.0) -> float:
    """The smallest of 10, 20, 25, 30, 40, 50, 60, 75, 80, 100 (times a power of ten for
    counts) at or above ``value``: an axis end scaled to the data."""
    if not math.isfinite(value) or value <= 0:
        return floor
    steps = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0, 10.0)
    scale = 10 ** math.floor(math.log10(value))
    for s in steps:
        if s * scale >= value - 1e-9:
            return float(min(max(s * scale, floor), cap))
    return cap


def ticks(top: float, count: int = 5) -> list[float]:
    """Evenly spaced round ticks from 0 to ``top`` (inclusive)."""
    for step in (1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= count:
            n = int(math.floor(top / step + 1e-9))
            return [round(i * step, 6) for i in range(n + 1)]
    return [0.0, top]
