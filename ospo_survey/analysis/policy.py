"""The statistical policy every door applies, stated once.

Why one module: the same question asked through ``Survey.proportion``, ``trend``, ``compare``,
``crosstab`` or ``logistic`` must give the same answer, so what counts as an answer, when an
estimate is too thin to show, what a level that could not be chosen means, what makes two years
unlike, and how the paid panel is named are decided here and nowhere else.

- **Unknown answers are outside the base.** "don't know" (and a multiple-choice "don't know"
  ticked alone) is not an answer about the organisation: it is left out of every base, model
  outcome and predictor, and counted by reason (``dropped`` in a result's ``attrs``).
- **Suppression by effective n.** An estimate, difference, adjusted share or p-value whose
  effective sample size is under :data:`MIN_N_EFF` comes back missing with
  ``suppressed=True`` (NCHS presentation standard); models flag groups with fewer than
  :data:`MIN_EVENTS` events or non-events.
- **Structural zeros are missing, not 0%.** A level the year's question did not offer, or that
  the screen removed, has no estimate and says why (:func:`structural_reason`).
- **One rule for series breaks** (``trend_breaks`` in ``reports.yaml``, :func:`breaks`) and one
  wording for the paid panel (:func:`panel_note`).
- **Many tests in one table are adjusted together** (:func:`adjust_p`, Holm by default; the
  caption names the method).
- **One column vocabulary**: ``n`` the base (respondents who answered), ``count`` those choosing
  the level, ``n_eff`` the effective base, ``p`` a p-value (:data:`COLUMNS`).

>>> MIN_N_EFF, UNKNOWN_LEVELS
(30, ("don't know",))
>>> breaks(2021, 2022)
['2022: new screen & wording']
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import numpy as np

from ospo_survey.core.errors import EstimationError
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.core.yamlio import load_yaml

MIN_N_EFF = 30          # effective n under which an estimate is not shown
MIN_EVENTS = 5          # a model group needs this many events and non-events
UNKNOWN_LEVELS = ("don't know",)      # single-choice answers outside every base
UNKNOWN_OPTIONS = ("dont_know",)      # multiple-choice options outside every base
NOT_OFFERED = "not offered in {year}"
SCREENED_OUT = "removed by the screen"
SUPPRESSED = "effective n under {min_n_eff:g}"
DEFAULTS = {"sample": "harmonized", "weights": "reference"}  # every door's defaults

# the tidy columns of every estimate (shares on the 0-1 scale)
COLUMNS = [
    "year", "variable", "level", "group", "estimate", "se", "ci_low", "ci_high", "n", "count",
    "n_eff", "deff", "suppressed", "reason",
]


@cache
def _trend_breaks() -> tuple[dict[str, Any], ...]:
    return tuple(load_yaml(PACKAGE_DIR / "reports.yaml").get("trend_breaks", []))


def break_entries(a: int, b: int) -> list[dict[str, Any]]:
    """The series breaks (``trend_breaks`` of ``reports.yaml``: ``after``, ``before``,
    ``label``, ``text``) that lie between survey years ``a`` <= ``b``: the one rule for
    whether two years, or a span of pooled years, cross a change of screening or wording."""
    return [dict(t) for t in _trend_breaks()
            if int(a) <= int(t["after"]) and int(t["before"]) <= int(b)]


def breaks(a: int, b: int) -> list[str]:
    """Labels of the series breaks between survey years ``a`` < ``b``."""
    return [str(t["label"]) for t in break_entries(a, b)]


def spanned(years: Iterable[int]) -> list[dict[str, Any]]:
    """The series breaks that a set of years spans (between its first and last year)."""
    ys = sorted({int(y) for y in years})
    return break_entries(ys[0], ys[-1]) if ys else []


def panel_note(year: int, n: int, level: str, *, excluded: bool) -> str:
    """The one wording of the paid panel, included or left out (and re-weighted)."""
    if excluded:
        return (f"{year}: without its {n:,} paid-panel respondents (channel = {level}),"
                " the rest re-weighted to the same targets")
    return f"{year} includes {n:,} paid-panel respondents (channel = {level})"


def is_unknown(level: object) -> bool:
    """Whether a level is an unknown answer (outside every base)."""
    return str(level) in UNKNOWN_LEVELS or str(level) in UNKNOWN_OPTIONS


def structural_reason(year: int, possible: bool, in_year: bool) -> str:
    """Why a level has no respondents in a year's sample, or "" when it is a sampling zero.

    ``possible``: the year's question offered an answer that becomes this level;
    ``in_year``: some respondent of the year (before the screen) has it.
    """
    if in_year:
        return SCREENED_OUT
    if not possible:
        return NOT_OFFERED.format(year=int(year))
    return ""


def one_sided(y: np.ndarray, codes: np.ndarray, among: np.ndarray | None = None) -> list[int]:
    """The separation rule every model uses: the level codes (``codes`` >= 0, rows ``among``)
    whose respondents all have the same 0/1 outcome, so that no finite odds ratio fits them.

    >>> one_sided(np.array([1, 1, 0, 1, 0]), np.array([0, 0, 1, 1, 2]))
    [0, 2]
    """
    sel = np.ones(len(y), dtype=bool) if among is None else np.asarray(among, dtype=bool)
    out = []
    for j in np.unique(codes[sel & (codes >= 0)]):
        rows = y[sel & (codes == j)]
        if rows.min() == rows.max():
            out.append(int(j))
    return out


def sparse(y: np.ndarray, codes: np.ndarray) -> list[tuple[int, int, int]]:
    """(code, events, rows) of the levels with fewer than :data:`MIN_EVENTS` events or
    non-events (a model's estimate for them is unreliable)."""
    out = []
    for j in np.unique(codes[codes >= 0]):
        rows = y[codes == j]
        events = int(rows.sum())
        if min(events, len(rows) - events) < MIN_EVENTS:
            out.append((int(j), events, len(rows)))
    return out


MULTIPLICITY = {"holm": "Holm", "bh": "Benjamini-Hochberg"}  # method -> the name a caption uses


def adjust_p(p: Iterable[float], method: str = "holm") -> np.ndarray:
    """p-values of one table adjusted for the number of tests in it (missing stays missing).

    ``holm`` controls the chance of any false finding (Holm 1979); ``bh`` the expected share
    of false findings (Benjamini-Hochberg 1995). Both equal R's ``p.adjust``.

    >>> adjust_p([0.01, 0.04, 0.03, float("nan")]).round(2).tolist()
    [0.03, 0.06, 0.06, nan]
    >>> adjust_p([0.01, 0.04, 0.03], "bh").round(2).tolist()
    [0.03, 0.04, 0.04]
    """
    if method not in MULTIPLICITY:
        raise EstimationError(f"method must be one of {', '.join(MULTIPLICITY)}, not {method!r}")
    arr = np.asarray(list(p), dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(arr))
    m = len(ok)
    if not m:
        return out
    vals = arr[ok]
    if method == "holm":
        order = np.argsort(vals, kind="stable")
        adj = np.maximum.accumulate((m - np.arange(m)) * vals[order])
    else:
        order = np.argsort(vals, kind="stable")[::-1]
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * vals[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out
