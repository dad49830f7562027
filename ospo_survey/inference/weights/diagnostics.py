"""What weighting reports: the weights with their diagnostics, each collapse, the warnings.

Why diagnostics travel with the weights: a weight is only as credible as the margins it
reproduces and the precision it costs (Kish design effect), so every fit returns both, and
nothing is pooled or left unconverged without a record or a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class WeightingWarning(UserWarning):
    """Base class of the warnings raised while weighting (never silent adjustments)."""


class CollapseWarning(WeightingWarning):
    """A sparse or empty level was merged into another level."""


class ConvergenceWarning(WeightingWarning):
    """Raking stopped before meeting its tolerance and ``best_effort=True`` kept the result."""


@dataclass(frozen=True)
class Collapse:
    """One merge of sparse levels, kept so that reports can say what was pooled and why."""

    variable: str
    levels: tuple[Any, ...]
    into: Any
    n: int
    reason: str

    def __str__(self) -> str:
        merged = ", ".join(repr(x) for x in self.levels)
        return (
            f"weighting variable {self.variable!r}: merged level(s) {merged} (n={self.n}) "
            f"into {self.into!r} ({self.reason})"
        )


@dataclass
class Diagnostics:
    """How well weights reproduce the targets and what they cost in precision."""

    n: int
    n_eff: float
    deff: float
    weight_summary: dict[str, float]
    margins: pd.DataFrame
    max_error: float
    iterations: int | None = None
    converged: bool | None = None
    collapses: list[Collapse] = field(default_factory=list)
    trimming: dict[str, Any] | None = None
    n_excluded: int = 0
    method: str = "rake"

    def to_frame(self) -> pd.DataFrame:
        """Tidy per-level table: target, unweighted/weighted share, errors, ASMD before/after."""
        return self.margins.copy()

    def collapses_frame(self) -> pd.DataFrame:
        """One row per collapse (variable, merged levels, receiving level, n, reason)."""
        cols = ["variable", "levels", "into", "n", "reason"]
        return pd.DataFrame([[getattr(c, k) for k in cols] for c in self.collapses], columns=cols)

    def summary(self) -> dict[str, Any]:
        """One-row summary for logs and run reports."""
        ws = self.weight_summary
        return {
            "method": self.method,
            "n": self.n,
            "n_excluded": self.n_excluded,
            "n_eff": self.n_eff,
            "deff": self.deff,
            "min": ws["min"],
            "max": ws["max"],
            "max_min_ratio": ws["max_min_ratio"],
            "cv": ws["cv"],
            "iterations": self.iterations,
            "converged": self.converged,
            "max_abs_error": self.max_error,
            "max_asmd_before": float(self.margins["asmd_before"].max(skipna=True)),
            "max_asmd_after": float(self.margins["asmd_after"].max(skipna=True)),
            "n_collapses": len(self.collapses),
            "trimmed": self.trimmed,
            "trim_cap": self.trim_cap,
        }

    @property
    def trimmed(self) -> bool:
        """Whether some weight was actually capped (caps that no weight reached trim nothing)."""
        return bool(self.trimming and self.trimming.get("capped", False))

    @property
    def trim_cap(self) -> float | None:
        """The upper cap on the weights (a multiple of the mean weight 1), None without one."""
        if not self.trimming or not math.isfinite(self.trimming.get("upper", math.inf)):
            return None
        return float(self.trimming["upper"])


@dataclass(frozen=True, slots=True)
class Miss:
    """The largest distance of an achieved margin share from its target, and where it is."""

    error: float
    margin: int  # position of the weighting variable
    level: int  # position of the level within that variable


@dataclass(frozen=True, slots=True)
class RakeFit:
    """One raking run: the weights it reached, the IPF sweeps it took, how close it came."""

    weights: np.ndarray  # per unit: a joint cell or a row
    iterations: int
    converged: bool
    miss: Miss


@dataclass
class WeightingResult:
    """Weights plus the diagnostics that justify them."""

    weights: pd.Series
    diagnostics: Diagnostics


class CellTable(Protocol):
    """What the margin table needs from a prepared weighting problem (a ``Raker``)."""

    names: list[str]
    labels: list[list[Any]]
    targets: list[np.ndarray]
    cell_levels: np.ndarray
    cell_count: np.ndarray
    n_active: int
    n_excluded: int
    method: str
    collapses: list[Collapse]

    @property
    def cell_of_row(self) -> np.ndarray: ...


def fit_diagnostics(
    cells: CellTable,
    row_w: np.ndarray,
    *,
    iterations: int | None,
    converged: bool | None,
    trimming: dict[str, Any] | None,
) -> Diagnostics:
    """The margin table and weight summary of ``row_w`` (the weighted rows' weights)."""
    c = cells.cell_count.size
    cell_w = np.bincount(cells.cell_of_row, weights=row_w, minlength=c)
    tot_w = cell_w.sum()
    recs = []
    for j, t in enumerate(cells.targets):
        lev = cells.cell_levels[j]
        cnt = np.bincount(lev, weights=cells.cell_count, minlength=t.size)
        uw = cnt / cells.n_active
        ww = (
            np.bincount(lev, weights=cell_w, minlength=t.size) / tot_w
            if tot_w > 0
            else uw * np.nan
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(t * (1 - t))
            asmd_b = np.where(sd > 0, np.abs(uw - t) / sd, np.nan)
            asmd_a = np.where(sd > 0, np.abs(ww - t) / sd, np.nan)
        for i, lab in enumerate(cells.labels[j]):
            recs.append(
                (
                    cells.names[j],
                    lab,
                    t[i],
                    int(cnt[i]),
                    uw[i],
                    ww[i],
                    abs(uw[i] - t[i]),
                    abs(ww[i] - t[i]),
                    asmd_b[i],
                    asmd_a[i],
                )
            )
    cols = [
        "variable",
        "level",
        "target",
        "n",
        "unweighted_share",
        "weighted_share",
        "abs_error_before",
        "abs_error_after",
        "asmd_before",
        "asmd_after",
    ]
    table = pd.DataFrame.from_records(recs, columns=cols)
    return Diagnostics(
        n=cells.n_active,
        max_error=float(table["abs_error_after"].max()),
        iterations=iterations,
        converged=converged,
        collapses=list(cells.collapses),
        trimming=trimming,
        n_excluded=cells.n_excluded,
        method=cells.method,
        margins=table,
        **_weight_stats(row_w),
    )


def _weight_stats(w: np.ndarray) -> dict[str, Any]:
    """Kish design effect, effective n and a weight summary (ddof=0, so deff = 1 + CV^2)."""
    n = w.size
    s1 = float(w.sum())
    s2 = float(np.dot(w, w))
    mean = s1 / n if n else math.nan
    cv = float(np.std(w) / mean) if n and mean > 0 else math.nan
    summary = {
        "min": float(w.min()) if n else math.nan,
        "max": float(w.max()) if n else math.nan,
        "mean": mean,
        "sum": s1,
        "cv": cv,
    }
    pos = w[w > 0]
    summary["max_min_ratio"] = float(pos.max() / pos.min()) if pos.size else math.nan
    if n:
        for q, v in zip(QUANTILES, np.quantile(w, QUANTILES), strict=True):
            summary[f"q{round(q * 100):02d}"] = float(v)
    return {
        "n_eff": s1 * s1 / s2 if s2 > 0 else math.nan,
        "deff": n * s2 / (s1 * s1) if s1 > 0 else math.nan,
        "weight_summary": summary,
    }
