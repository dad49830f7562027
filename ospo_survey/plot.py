"""Figures a researcher can put in a paper: ``from ospo_survey import plot``.

The interface to :mod:`ospo_survey.rendering.figures`: seaborn/matplotlib figures of any
verb's estimate frame (bars or lines with their 95% intervals, suppressed estimates labelled,
lines stopping at series breaks), their captions, and PNG/PDF/SVG files with the same bytes
for the same figure. Importing it loads matplotlib and seaborn; ``import ospo_survey`` does
not.

>>> from ospo_survey import plot, survey
>>> s = survey(2022)
>>> frame = s.proportion("has_ospo", by="size3")
>>> fig, ax = plot.estimates(frame)              # matplotlib Figure and Axes, to restyle
>>> len([p for p in ax.patches if p.get_gid()])  # a bar per level and size group
9
>>> plot.caption(frame, design=s)[:60]
'Weighted share of respondents: Has an OSPO (coarse), 2022. O'

``plot.save(fig, "has_ospo.pdf", caption=plot.caption(frame, design=s))`` writes the file.
"""

from __future__ import annotations

from ospo_survey.rendering.figures import (
    FORMATS,
    bars,
    caption,
    estimates,
    lines,
    save,
    style,
    trend,
)

__all__ = ["FORMATS", "bars", "caption", "estimates", "lines", "save", "style", "trend"]
