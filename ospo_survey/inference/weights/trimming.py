"""Weight trimming: cap extreme weights, re-rake, and repeat until caps and margins both hold.

Why alternate: capping alone breaks the margins raking just met, and raking alone can push
weights past the caps again; only the alternation ends with both true (or says by how much
it failed). Caps are multiples of the mean weight (weights have mean 1) or quantiles of the
first raked weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ospo_survey.core.errors import WeightingError, WeightingOptionsError
from ospo_survey.inference.weights.diagnostics import RakeFit

_TRIM_KEYS = ("max_ratio", "min_ratio", "upper_quantile", "lower_quantile")


@dataclass(frozen=True, slots=True)
class Trimmed:
    """Raking with trimming: the final fit, what the caps did, and how far they still miss."""

    fit: RakeFit  # iterations: the IPF sweeps of every cycle together
    info: dict[str, Any]  # bounds, cycles, rows capped, weights before and after
    note: str  # '' when the weights keep within the caps, else '; weights exceed ...'


def _parse_trim(trim: Mapping[str, float] | None) -> dict[str, float] | None:
    if trim is None:
        return None
    if not isinstance(trim, Mapping) or not trim:
        raise WeightingOptionsError(
            f"trim must be a mapping with keys among {_TRIM_KEYS}, not {trim!r}"
        )
    unknown = set(trim) - set(_TRIM_KEYS)
    if unknown:
        raise WeightingOptionsError(f"unknown trim key(s) {sorted(unknown)}; use {_TRIM_KEYS}")
    out: dict[str, float] = {}
    for k, v in trim.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise WeightingOptionsError(f"trim {k} must be a number, not {v!r}") from None
    if "max_ratio" in out and out["max_ratio"] <= 1:
        raise WeightingOptionsError(
            f"trim max_ratio must exceed 1 (weights have mean 1), not {out['max_ratio']:g}"
        )
    if "min_ratio" in out and not 0 <= out["min_ratio"] < 1:
        raise WeightingOptionsError(
            f"trim min_ratio must lie in [0, 1) (weights have mean 1), not {out['min_ratio']:g}"
        )
    for q in ("upper_quantile", "lower_quantile"):
        if q in out and not 0 < out[q] < 1:
            raise WeightingOptionsError(
                f"trim {q} must lie strictly between 0 and 1, not {out[q]:g}"
            )
    return out


def trim_and_rerake(
    fit: RakeFit,
    unit_count: np.ndarray,
    rerake: Callable[[np.ndarray], RakeFit],
    *,
    trim: Mapping[str, float],
    cells: bool,
    tol: float,
    max_iter: int,
) -> Trimmed:
    """Alternate capping and raking until the caps and the margins both hold within tol.

    ``fit`` holds the raked unit weights; a unit is a cell of ``unit_count`` rows when
    ``cells``, else one row. ``rerake`` rakes again from capped unit weights. Quantile caps
    are fixed from the first raked weights, otherwise each cycle would cut a new tail and the
    loop could never settle.
    """
    v, iters, conv = fit.weights, fit.iterations, fit.converged
    rows = np.repeat(v, unit_count.astype(np.int64)) if cells else v
    hi, lo = math.inf, 0.0
    if "max_ratio" in trim:
        hi = trim["max_ratio"]
    if "upper_quantile" in trim:
        hi = min(hi, float(np.quantile(rows, trim["upper_quantile"])))
    if "min_ratio" in trim:
        lo = trim["min_ratio"]
    if "lower_quantile" in trim:
        lo = max(lo, float(np.quantile(rows, trim["lower_quantile"])))
    if not lo < hi:
        raise WeightingError(
            f"trimming bounds are inconsistent: lower {lo:.4g} >= upper {hi:.4g}"
        )

    def violation(x: np.ndarray) -> float:
        up = float(x.max()) / hi - 1.0 if math.isfinite(hi) else 0.0
        down = 1.0 - float(x.min()) / lo if lo > 0 else 0.0
        return max(up, down, 0.0)

    cycles = 0
    capped = 0
    first_capped = 0
    before = float(np.max(v)), float(np.min(v))
    while True:
        viol = violation(v)
        if conv and viol <= tol:
            break
        if cycles >= max_iter:
            conv = False
            break
        cycles += 1
        over = (v > hi) | (v < lo)
        capped = int(np.dot(over, unit_count))
        first_capped = first_capped or capped
        fit = rerake(np.clip(v, lo, hi))
        v, conv = fit.weights, fit.converged
        iters += fit.iterations
    info = {
        "lower": lo,
        "upper": hi,
        "cycles": cycles,
        "capped": cycles > 0 and first_capped > 0,  # some weight actually reached a cap
        "rows_capped_first_cycle": first_capped,
        "rows_capped_last_cycle": capped,
        "max_before": before[0],
        "min_before": before[1],
        "max_after": float(np.max(v)),
        "min_after": float(np.min(v)),
        "cap_violation": viol,
        "final_margin_error": fit.miss.error,
        **{f"spec_{k}": x for k, x in trim.items()},
    }
    cap_msg = "" if viol <= tol else f"; weights exceed the trimming bounds by {viol:.3g}"
    return Trimmed(RakeFit(v, iters, conv, fit.miss), info, cap_msg)
