"""Survey weights: raking (IPF), post-stratification, trimming, sparse levels, diagnostics.

Why a cell table: respondents who agree on every weighting variable always receive the same
adjustment factor, so iterative proportional fitting runs on the small table of occupied joint
cells (a few thousand at most) and never loops over respondents. Rows are touched only to
factorise the variables, to count cells (``np.bincount``) and to map the cell factors back.

Why targets as data: the population shares are a methodological decision that must be reviewed,
versioned and cited, so they live in YAML files (``ospo_survey/targets/``) rather than in code.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ospo_survey.core.errors import MissingFileError, TargetsError, WeightingError
from ospo_survey.core.paths import PACKAGE_DIR

__all__ = [
    "MISSING_LEVEL",
    "Collapse",
    "CollapseWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "EmptyLevelError",
    "Raker",
    "WeightingResult",
    "WeightingWarning",
    "derive_reference_targets",
    "diagnose",
    "load_targets",
    "poststratify",
    "rake",
    "weight",
    "write_targets",
]

MISSING_LEVEL = "(missing)"
"""Level that missing (and don't-know) answers become under ``missing='category'``."""

SHARE_TOL = 1e-6
"""How far a variable's target shares may sum from 1 before the targets are rejected."""

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TARGETS_DIR = PACKAGE_DIR / "targets"

MissingPolicy = Literal["error", "category", "exclude"]
CollapseRule = str | Mapping[Any, Any] | None
_TRIM_KEYS = ("max_ratio", "min_ratio", "upper_quantile", "lower_quantile")
_SPEC_KEYS = ("scheme", "description", "source", "margins", "years", "meta")


class WeightingWarning(UserWarning):
    """Base class of the warnings raised while weighting (never silent adjustments)."""


class CollapseWarning(WeightingWarning):
    """A sparse or empty level was merged into another level."""


class ConvergenceWarning(WeightingWarning):
    """Raking stopped before meeting its tolerance and ``best_effort=True`` kept the result."""


class EmptyLevelError(WeightingError):
    """A target level has no start weight to scale (e.g. a bootstrap replicate dropped it)."""


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
            "trimmed": self.trimming is not None,
        }


@dataclass
class WeightingResult:
    """Weights plus the diagnostics that justify them."""

    weights: pd.Series
    diagnostics: Diagnostics


# --------------------------------------------------------------------------------------------
# Labels and targets
# --------------------------------------------------------------------------------------------


def _py(x: Any) -> Any:
    """Plain Python scalar (numpy scalars print and compare badly in messages and YAML)."""
    if isinstance(x, tuple):
        return tuple(_py(e) for e in x)
    if isinstance(x, np.generic):
        return x.item()
    return x


def _loose(x: Any) -> Any:
    """Key used when exact matching fails: YAML may read ``1`` where the data has ``'1'``."""
    if isinstance(x, tuple):
        return tuple(str(e) for e in x)
    return str(x)


class _KeyIndex:
    """Find a data label among target keys: exact equality first, then by string form."""

    def __init__(self, keys: Sequence[Any]) -> None:
        self.exact: dict[Any, int] = {}
        self.loose: dict[Any, int] = {}
        for i, k in enumerate(keys):
            try:  # noqa: SIM105 - a try costs nothing here; contextlib.suppress does
                self.exact.setdefault(k, i)
            except TypeError:  # unhashable key: only its string form can match
                pass
            self.loose.setdefault(_loose(k), i)

    def find(self, label: Any) -> int:
        try:
            i = self.exact.get(label)
        except TypeError:
            i = None
        if i is None:
            i = self.loose.get(_loose(label))
        return -1 if i is None else i


def _validate_shares(var: Any, levels: Any, where: str) -> dict[Any, float]:
    if not isinstance(levels, Mapping) or not levels:
        raise TargetsError(
            f"{where}targets for variable {var!r} must be a non-empty mapping of level -> share"
        )
    shares: dict[Any, float] = {}
    for lvl, s in levels.items():
        if isinstance(lvl, bool):
            raise TargetsError(
                f"{where}variable {var!r} has level {lvl!r}, a YAML boolean; quote it "
                "(e.g. 'yes') if it is a label"
            )
        if isinstance(s, bool):
            raise TargetsError(f"{where}target for level {lvl!r} of variable {var!r} is {s!r}")
        try:
            v = float(s)
        except (TypeError, ValueError):
            raise TargetsError(
                f"{where}target for level {lvl!r} of variable {var!r} is not a number: {s!r}"
            ) from None
        if not math.isfinite(v) or v < 0:
            raise TargetsError(
                f"{where}target for level {lvl!r} of variable {var!r} must be a share >= 0, "
                f"got {s!r}"
            )
        key = _py(lvl)
        if key in shares:
            raise TargetsError(f"{where}variable {var!r} lists level {key!r} twice")
        shares[key] = v
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SHARE_TOL:
        raise TargetsError(f"{where}targets for variable {var!r} sum to {total:.8g}, not 1")
    return {k: v / total for k, v in shares.items()}


def _validate_margins(margins: Any, where: str = "") -> dict[str, dict[Any, float]]:
    """Check shares (numbers, >= 0, summing to 1) and renormalise them exactly."""
    if not isinstance(margins, Mapping) or not margins:
        raise TargetsError(f"{where}margins must be a non-empty mapping of variable -> shares")
    return {str(var): _validate_shares(var, levels, where) for var, levels in margins.items()}


# --------------------------------------------------------------------------------------------
# Factorising weighting variables
# --------------------------------------------------------------------------------------------


@dataclass
class _Coded:
    name: str
    codes: np.ndarray  # int64 label codes per row; -1 = row excluded
    labels: list[Any]
    categorical: bool
    n_missing: int


def _missing_lut(labels: Sequence[Any], dont_know: Sequence[Any]) -> np.ndarray | None:
    """Boolean lookup (one extra False slot for code -1) marking don't-know labels."""
    if not dont_know:
        return None
    hit = pd.Index(labels, dtype=object).isin(list(dont_know))
    if not hit.any():
        return None
    return np.append(hit, False)


def _dense_codes(s: pd.Series, keys: Sequence[Any]) -> np.ndarray | None:
    """The column itself as codes, when its values already are target positions.

    That is a plain numpy integer column with every value in ``0..k-1`` and target keys exactly
    the ints ``0..k-1`` in order: value ``i`` is level ``i``, nothing to factorise or match.
    Otherwise None (anything else, e.g. a value without a target, takes the general path).
    """
    k = len(keys)
    dtype = s.dtype
    if not k or not isinstance(dtype, np.dtype) or dtype.kind not in "iu":
        return None
    if any(type(x) is not int or x != i for i, x in enumerate(keys)):
        return None
    v = s.to_numpy()
    # one pass checks both bounds: seen as unsigned, negative values are huge
    if v.size and int(v.view(f"u{v.dtype.itemsize}").max()) >= k:
        return None
    return v.astype(np.int64, copy=False)


def _factorize(
    s: pd.Series,
    name: str,
    missing: MissingPolicy,
    dont_know: Sequence[Any],
    keys: Sequence[Any] | None = None,
) -> _Coded:
    """Integer codes for one weighting variable, applying the missing/don't-know policy.

    With the target ``keys``, an integer column already coded ``0..k-1`` is used as is; its
    labels are then all of ``0..k-1`` (present or not), which yields the same cell table and
    weights as factorising it.
    """
    n = len(s)
    dtype = s.dtype
    categorical = isinstance(dtype, pd.CategoricalDtype)
    dense = None if keys is None else _dense_codes(s, keys)
    labels: list[Any]
    miss: np.ndarray | None
    if dense is not None and keys is not None:
        codes, labels, miss = dense, list(range(len(keys))), None  # nothing can be missing
    elif categorical:
        codes = np.asarray(s.array.codes)
        labels = [_py(x) for x in dtype.categories.tolist()]
        miss = codes < 0
    elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        isna = s.isna().to_numpy() if isinstance(dtype, pd.api.extensions.ExtensionDtype) else None
        v = s.to_numpy(dtype=np.int64, na_value=0) if isna is not None else s.to_numpy(np.int64)
        ok = v if isna is None else v[~isna]
        if ok.size and int(ok.max()) - int(ok.min()) < max(4 * n, 1 << 16):
            lo = int(ok.min())
            present = np.bincount(ok - lo) > 0
            labels = [int(x) + lo for x in np.flatnonzero(present)]
            lut = np.cumsum(present) - 1
            codes = lut[v - lo] if isna is None else np.where(isna, -1, lut[np.maximum(v - lo, 0)])
        else:
            codes, uniq = pd.factorize(s, sort=True)
            labels = [_py(x) for x in pd.Index(uniq).tolist()]
        miss = codes < 0
    else:
        try:
            codes, uniq = pd.factorize(s, sort=True)
        except TypeError:
            codes, uniq = pd.factorize(s, sort=False)
        labels = [_py(x) for x in pd.Index(uniq).tolist()]
        miss = codes < 0
    lut = _missing_lut(labels, dont_know)
    if lut is not None:
        miss = lut[codes] if miss is None else miss | lut[codes]
    n_missing = 0 if miss is None else int(np.count_nonzero(miss))
    if n_missing:
        what = "missing or don't-know values" if lut is not None else "missing values"
        if missing == "error":
            raise WeightingError(
                f"weighting variable {name!r} has {n_missing} {what}; pass missing='category' "
                "(and a target for it) or missing='exclude'"
            )
        codes = codes.astype(np.int64, copy=True)
        if missing == "category":
            if MISSING_LEVEL not in labels:
                labels.append(MISSING_LEVEL)
            codes[miss] = labels.index(MISSING_LEVEL)
        elif missing == "exclude":
            codes[miss] = -1
        else:
            raise ValueError(f"missing must be 'error', 'category' or 'exclude', not {missing!r}")
    return _Coded(name, codes, labels, categorical, n_missing)


class RowCells:
    """The joint cell of every row, kept as (row key, key -> cell) until the per-row array is
    needed: mapping cell weights back to rows then takes one gather over the rows, not two."""

    __slots__ = ("_cells", "_key", "_lut")

    def __init__(self, cells: np.ndarray | None = None, *, key: np.ndarray | None = None,
                 lut: np.ndarray | None = None) -> None:
        self._cells, self._key, self._lut = cells, key, lut

    @property
    def cells(self) -> np.ndarray:
        """The cell index of each row."""
        if self._cells is None:
            assert self._lut is not None and self._key is not None
            self._cells = self._lut[self._key]
        return self._cells

    def remap(self, inverse: np.ndarray) -> RowCells:
        """The same rows after cells are merged (``inverse``: old cell -> new cell)."""
        if self._cells is None:
            assert self._lut is not None
            return RowCells(key=self._key, lut=inverse[self._lut])
        return RowCells(inverse[self._cells])

    def spread(self, per_cell: np.ndarray) -> np.ndarray:
        """A value per cell as a value per row."""
        if self._cells is None:
            assert self._lut is not None and self._key is not None
            return per_cell[self._lut][self._key]
        return per_cell[self._cells]


def _combine(
    codes: Sequence[np.ndarray], sizes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint cells of several code vectors: (cell codes per variable (k, C), cell of row, count)."""
    levels, rows, count = _combine_cells(codes, sizes)
    return levels, rows.cells, count


def _combine_cells(
    codes: Sequence[np.ndarray], sizes: Sequence[int]
) -> tuple[np.ndarray, RowCells, np.ndarray]:
    """Joint cells of several code vectors: (cell codes per variable (k, C), each row's cell,
    count per cell).

    A mixed-radix key plus ``np.bincount`` is O(n); ``np.unique`` is the fallback for huge
    key spaces.
    """
    k = len(codes)
    n = len(codes[0]) if k else 0
    space = math.prod(sizes) if sizes else 1
    if space < 2**62:
        key = codes[0].astype(np.int64, copy=True)
        for c, size in zip(codes[1:], sizes[1:], strict=True):
            key *= size
            key += c
        if space <= max(4 * n, 1 << 20):
            counts = np.bincount(key, minlength=space)
            occ = np.flatnonzero(counts)
            lut = np.zeros(space, dtype=np.int64)  # zeros: safe to remap where nobody is
            lut[occ] = np.arange(occ.size)
            rows = RowCells(key=key, lut=lut)
            cell_count = counts[occ].astype(np.float64)
        else:
            occ, cell_of_row, cnt = np.unique(key, return_inverse=True, return_counts=True)
            rows = RowCells(cell_of_row.astype(np.int64, copy=False))
            cell_count = cnt.astype(np.float64)
        levels = np.empty((k, occ.size), dtype=np.int64)
        rest = occ.copy()
        for j in range(k - 1, -1, -1):
            levels[j] = rest % sizes[j]
            rest //= sizes[j]
        return levels, rows, cell_count
    stacked = np.column_stack([c.astype(np.int64) for c in codes])
    uniq, cell_of_row, cnt = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return uniq.T.copy(), RowCells(cell_of_row.reshape(-1)), cnt.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Collapsing sparse levels
# --------------------------------------------------------------------------------------------


def _rule_for(collapse: Any, name: str) -> Any:
    if collapse is None:
        return None
    if isinstance(collapse, str):
        if collapse != "adjacent":
            raise ValueError(f"collapse must be 'adjacent' or a mapping, not {collapse!r}")
        return "adjacent"
    if isinstance(collapse, Mapping):
        rule = collapse.get(name)
        if isinstance(rule, str) and rule != "adjacent":
            raise ValueError(f"collapse rule for {name!r} must be 'adjacent' or a mapping")
        return rule
    raise ValueError("collapse must be None, 'adjacent' or a mapping {variable: rule}")


def _collapse_levels(
    name: str,
    keys: list[Any],
    share: np.ndarray,
    count: np.ndarray,
    pos: np.ndarray,
    rule: Any,
    min_cell: int,
) -> tuple[np.ndarray, list[Any], np.ndarray, list[Collapse]]:
    """Merge empty (target > 0, no respondents) and sparse (< min_cell) levels.

    Returns the final level of each target level (-1 = dropped: zero target and nobody in it),
    the final labels, final shares and the record of merges. Anything that cannot be merged by
    the given rule raises, so nothing is ever pooled silently.
    """
    t = len(keys)
    alive = (count > 0) | (share > 0)
    members: dict[int, list[int]] = {i: [i] for i in range(t) if alive[i]}
    gcount = {i: float(count[i]) for i in members}
    gshare = {i: float(share[i]) for i in members}
    owner = np.arange(t)
    records: list[Collapse] = []
    rule_index = _KeyIndex(list(rule)) if isinstance(rule, Mapping) else None
    rule_values = list(rule.values()) if isinstance(rule, Mapping) else []
    key_index = _KeyIndex(keys)

    def label(g: int) -> Any:
        ms = sorted(members[g], key=lambda i: pos[i])
        return keys[ms[0]] if len(ms) == 1 else " + ".join(str(keys[i]) for i in ms)

    while True:
        needy = [
            g for g in members if (gcount[g] == 0 and gshare[g] > 0) or (0 < gcount[g] < min_cell)
        ]
        if not needy:
            break
        g = min(needy, key=lambda i: (gcount[i], min(pos[m] for m in members[i])))
        reason = "no respondents" if gcount[g] == 0 else f"fewer than min_cell={min_cell}"
        into: int | None = None
        if rule_index is not None:
            for m in sorted(members[g], key=lambda i: pos[i]):
                r = rule_index.find(keys[m])
                if r < 0:
                    continue
                dest = key_index.find(rule_values[r])
                if dest < 0:
                    raise TargetsError(
                        f"collapse rule for {name!r} maps {keys[m]!r} to {rule_values[r]!r}, "
                        "which is not a target level"
                    )
                into = int(owner[dest])
                if into == g or into not in members:
                    raise WeightingError(
                        f"collapse rule for {name!r} maps {keys[m]!r} to {rule_values[r]!r}, "
                        "which cannot absorb it"
                    )
                break
        elif rule == "adjacent":
            order = sorted(members, key=lambda i: min(pos[m] for m in members[i]))
            at = order.index(g)
            near = [order[i] for i in (at - 1, at + 1) if 0 <= i < len(order)]
            if near:
                into = min(near, key=lambda i: (gcount[i], order.index(i)))
        if into is None:
            lvl = label(g)
            if gcount[g] == 0:
                raise WeightingError(
                    f"weighting variable {name!r}: target level {lvl!r} (share "
                    f"{gshare[g]:.4g}) has no respondents; pass collapse={{{name!r}: "
                    f"{{{lvl!r}: <level>}}}} or collapse='adjacent', or drop its target"
                )
            raise WeightingError(
                f"weighting variable {name!r}: level {lvl!r} has {int(gcount[g])} respondents "
                f"(< min_cell={min_cell}); pass collapse={{{name!r}: {{{lvl!r}: <level>}}}} "
                "or collapse='adjacent'"
            )
        records.append(
            Collapse(
                variable=name,
                levels=tuple(keys[m] for m in sorted(members[g], key=lambda i: pos[i])),
                into=label(into),
                n=int(gcount[g]),
                reason=reason,
            )
        )
        members[into].extend(members.pop(g))
        gcount[into] += gcount.pop(g)
        gshare[into] += gshare.pop(g)
        owner[members[into]] = into
    final = sorted(members, key=lambda i: min(pos[m] for m in members[i]))
    final_of = np.full(t, -1, dtype=np.int64)
    for f, g in enumerate(final):
        final_of[members[g]] = f
    return final_of, [label(g) for g in final], np.array([gshare[g] for g in final]), records


# --------------------------------------------------------------------------------------------
# The prepared problem and its fitting
# --------------------------------------------------------------------------------------------


def _as_start(start: Any, index: pd.Index) -> np.ndarray | None:
    """Start weights as a float array aligned to ``index`` (a Series is aligned by label)."""
    if start is None:
        return None
    if isinstance(start, pd.Series):
        if not start.index.equals(index):
            start = start.reindex(index)
        arr = start.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(start, dtype=np.float64).reshape(-1)
    if arr.shape[0] != len(index):
        raise WeightingError(f"start weights have {arr.shape[0]} values for {len(index)} rows")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise WeightingError("start weights must be finite and >= 0 for every row")
    return arr


def _parse_trim(trim: Mapping[str, float] | None) -> dict[str, float] | None:
    if trim is None:
        return None
    if not isinstance(trim, Mapping) or not trim:
        raise ValueError(f"trim must be a mapping with keys among {_TRIM_KEYS}")
    unknown = set(trim) - set(_TRIM_KEYS)
    if unknown:
        raise ValueError(f"unknown trim key(s) {sorted(unknown)}; use {_TRIM_KEYS}")
    out = {k: float(v) for k, v in trim.items()}
    if "max_ratio" in out and out["max_ratio"] <= 1:
        raise ValueError("trim max_ratio must exceed 1 (weights have mean 1)")
    if "min_ratio" in out and not 0 <= out["min_ratio"] < 1:
        raise ValueError("trim min_ratio must lie in [0, 1) (weights have mean 1)")
    for q in ("upper_quantile", "lower_quantile"):
        if q in out and not 0 < out[q] < 1:
            raise ValueError(f"trim {q} must lie strictly between 0 and 1")
    return out


class Raker:
    """A weighting problem factorised and validated once, fitted for any start weights.

    Why a class: bootstrap replicates re-rake the same problem hundreds of times with new start
    weights; the factorisation, target checks and collapses must be identical for all of them.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        targets: Mapping[str, Mapping[Any, float]] | pd.Series,
        *,
        missing: MissingPolicy = "error",
        dont_know_levels: Iterable[Any] = (),
        min_cell: int = 0,
        collapse: CollapseRule = None,
        tol: float = 1e-6,
        max_iter: int = 100,
        trim: Mapping[str, float] | None = None,
        best_effort: bool = False,
        total: float | None = None,
        warn: bool = True,
    ) -> None:
        if missing not in ("error", "category", "exclude"):
            raise ValueError(f"missing must be 'error', 'category' or 'exclude', not {missing!r}")
        if not isinstance(data, pd.DataFrame):
            raise TypeError("data must be a pandas DataFrame")
        if min_cell < 0 or tol <= 0 or max_iter < 1:
            raise ValueError("need min_cell >= 0, tol > 0 and max_iter >= 1")
        if total is not None and not (math.isfinite(total) and total > 0):
            raise ValueError("total must be a positive number")
        self.index = data.index
        self.n = len(data)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.trim = _parse_trim(trim)
        self.best_effort = bool(best_effort)
        self.total = total
        dont_know = list(dont_know_levels)
        if isinstance(targets, pd.Series):
            self.method = "poststratify"
            coded, tdicts = self._joint(data, targets, missing, dont_know)
            if collapse is not None and not isinstance(collapse, str):
                collapse = {coded[0].name: collapse}
        else:
            self.method = "rake"
            tdicts = _validate_margins(targets)
            absent = [v for v in tdicts if v not in data.columns]
            if absent:
                raise TargetsError(f"weighting variable {absent[0]!r} is not a column of the data")
            coded = [
                _factorize(data[v], v, missing, dont_know, keys=list(tdicts[v])) for v in tdicts
            ]
        self._build(coded, tdicts, min_cell, collapse, warn)

    # -- preparation --------------------------------------------------------------------------

    @staticmethod
    def _joint(
        data: pd.DataFrame, joint: pd.Series, missing: MissingPolicy, dont_know: list[Any]
    ) -> tuple[list[_Coded], list[dict[Any, float]]]:
        """Turn a joint target table into one synthetic variable whose levels are tuples."""
        names = [str(x) if x is not None else None for x in joint.index.names]
        if any(x is None for x in names):
            raise TargetsError("joint targets need index level names equal to data columns")
        absent = [v for v in names if v not in data.columns]
        if absent:
            raise TargetsError(f"weighting variable {absent[0]!r} is not a column of the data")
        name = " x ".join(names)
        keys = [k if isinstance(k, tuple) else (k,) for k in joint.index.tolist()]
        shares = _validate_shares(name, dict(zip(keys, joint.to_numpy().tolist(), strict=True)), "")
        parts = [_factorize(data[v], v, missing, dont_know) for v in names]
        bad = np.zeros(len(data), dtype=bool)
        for p in parts:
            bad |= p.codes < 0
        ok = ~bad
        levels, cell_of_row, _ = _combine(
            [p.codes[ok] for p in parts], [len(p.labels) for p in parts]
        )
        labels = [tuple(p.labels[c] for p, c in zip(parts, col, strict=True)) for col in levels.T]
        codes = np.full(len(data), -1, dtype=np.int64)
        codes[ok] = cell_of_row
        n_missing = max((p.n_missing for p in parts), default=0)
        return [_Coded(name, codes, labels, False, n_missing)], [shares]

    def _build(
        self,
        coded: list[_Coded],
        tdicts: list[dict[Any, float]] | dict[str, dict[Any, float]],
        min_cell: int,
        collapse: CollapseRule,
        warn: bool,
    ) -> None:
        targets = list(tdicts.values()) if isinstance(tdicts, Mapping) else list(tdicts)
        excluded = None
        for c in coded:
            if c.n_missing and bool(np.any(c.codes < 0)):
                excluded = (c.codes < 0) if excluded is None else (excluded | (c.codes < 0))
        self.active = None if excluded is None else ~excluded
        self.n_excluded = 0 if excluded is None else int(excluded.sum())
        n_act = self.n - self.n_excluded
        if n_act == 0:
            raise WeightingError("no respondents are left to weight after excluding missing values")
        codes = [c.codes if self.active is None else c.codes[self.active] for c in coded]
        cell_lab, row_cells, cell_count = _combine_cells(codes, [len(c.labels) for c in coded])

        self.names = [c.name for c in coded]
        self.labels: list[list[Any]] = []
        self.targets: list[np.ndarray] = []
        self.collapses: list[Collapse] = []
        final_codes = []
        for j, c in enumerate(coded):
            tdict = targets[j]
            keys = list(tdict)
            # the usual case: data levels are the target keys, in the same order
            same = c.labels == keys
            if same:
                l2t = np.arange(len(keys), dtype=np.int64)
            else:
                kindex = _KeyIndex(keys)
                l2t = np.array([kindex.find(lab) for lab in c.labels], dtype=np.int64)
            if not same and (l2t < 0).any():
                lab_count = np.bincount(cell_lab[j], weights=cell_count, minlength=len(c.labels))
                unknown = np.flatnonzero((l2t < 0) & (lab_count > 0))
                if unknown.size:
                    lab = c.labels[unknown[0]]
                    hint = (
                        " (add a target for it or use missing='exclude')"
                        if lab == MISSING_LEVEL
                        else ""
                    )
                    raise TargetsError(
                        f"level {lab!r} of weighting variable {c.name!r} occurs in the data "
                        f"({int(lab_count[unknown[0]])} respondents) but has no target{hint}"
                    )
            same = same or (
                len(keys) == len(c.labels) and bool(np.all(l2t == np.arange(len(keys))))
            )
            cell_t = cell_lab[j] if same else l2t[cell_lab[j]]
            share = np.array([tdict[k] for k in keys], dtype=np.float64)
            t_count = np.bincount(cell_t, weights=cell_count, minlength=len(keys))
            needy = ((t_count == 0) & (share > 0)) | ((t_count > 0) & (t_count < min_cell))
            if same and not needy.any() and bool(np.all((t_count > 0) | (share > 0))):
                self.labels.append(list(keys))
                self.targets.append(share)
                final_codes.append(cell_t)
                continue
            if c.categorical:
                pos = np.arange(len(keys), dtype=np.float64) + len(c.labels)
                for li, t in enumerate(l2t):
                    if t >= 0:
                        pos[t] = min(pos[t], li)
            else:
                pos = np.arange(len(keys), dtype=np.float64)
            rule = _rule_for(collapse, c.name)
            if needy.any():
                final_of, labels, fshare, recs = _collapse_levels(
                    c.name, keys, share, t_count, pos, rule, min_cell
                )
            else:  # nothing to merge: drop only levels with no target and nobody in them
                alive = (t_count > 0) | (share > 0)
                order = np.flatnonzero(alive)
                order = order[np.argsort(pos[order], kind="stable")]
                final_of = np.full(len(keys), -1, dtype=np.int64)
                final_of[order] = np.arange(order.size)
                labels, fshare, recs = [keys[i] for i in order], share[order], []
            self.labels.append(labels)
            self.targets.append(fshare)
            self.collapses.extend(recs)
            final_codes.append(final_of[cell_t])
        if self.collapses:
            merged, inverse, _ = _combine(final_codes, [len(x) for x in self.labels])
            cell_count = np.bincount(inverse, weights=cell_count, minlength=merged.shape[1])
            row_cells = row_cells.remap(inverse)
            self.cell_levels = merged
        else:
            self.cell_levels = np.vstack(final_codes) if final_codes else cell_lab
        self.row_cells = row_cells
        self.cell_count = cell_count
        self.n_active = n_act
        self._stack: np.ndarray | None = None
        if warn:
            for rec in self.collapses:
                warnings.warn(str(rec), CollapseWarning, stacklevel=4)

    # -- fitting ------------------------------------------------------------------------------

    def _errors(self, w: np.ndarray) -> tuple[float, int, int]:
        """Largest |achieved share - target| and where it is (margin, level).

        One bincount over all margins at once: the cell table is small, so call overhead, not
        arithmetic, is what costs here.
        """
        if self._stack is None:
            sizes = [t.size for t in self.targets]
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            self._stack = (self.cell_levels + offsets[:, None]).ravel()
            self._goal = np.concatenate(self.targets)
            self._bounds = np.cumsum(sizes)
        k = len(self.targets)
        ach = np.bincount(self._stack, weights=np.tile(w, k), minlength=self._goal.size)
        err = np.abs(ach / w.sum() - self._goal)
        i = int(np.argmax(err))
        j = int(np.searchsorted(self._bounds, i, side="right"))
        lvl = i - (int(self._bounds[j - 1]) if j else 0)
        return float(err[i]), j, lvl

    def _ipf(self, w0: np.ndarray) -> tuple[np.ndarray, int, bool, float, int, int]:
        """IPF on the cell table. Returns cell totals, sweeps, converged, error, where."""
        w = w0.astype(np.float64, copy=True)
        total = w.sum()
        goals = [t * total for t in self.targets]
        err, wj, wl = self._errors(w)
        if err <= self.tol:
            return w, 0, True, err, wj, wl
        best = (err, w.copy(), wj, wl)
        levels = list(self.cell_levels)
        for it in range(1, self.max_iter + 1):
            for j, goal in enumerate(goals):
                lev = levels[j]
                ach = np.bincount(lev, weights=w, minlength=goal.size)
                if ach.all():
                    w *= (goal / ach)[lev]
                    continue
                pos = ach > 0
                empty = ~pos & (goal > 0)
                if empty.any():
                    lvl = self.labels[j][int(np.argmax(empty))]
                    raise EmptyLevelError(
                        f"weighting variable {self.names[j]!r}: level {lvl!r} has no start "
                        "weight to scale up"
                    )
                w *= np.divide(goal, ach, out=np.zeros_like(goal), where=pos)[lev]
            err, wj, wl = self._errors(w)
            if err < best[0]:
                best = (err, w.copy(), wj, wl)
            if err <= self.tol:
                return w, it, True, err, wj, wl
        return best[1], self.max_iter, False, best[0], best[2], best[3]

    def _rake_units(
        self, base: np.ndarray | None, unit_cell: np.ndarray, unit_count: np.ndarray
    ) -> tuple[np.ndarray, int, bool, float, int, int]:
        c = self.cell_count.size
        if base is None:  # equal start weights: the units are the cells, each start 1
            w0 = unit_count
            w, it, conv, err, wj, wl = self._ipf(w0)
            v = w / w0  # every cell holds at least one respondent
            v *= self.n_active / float(np.dot(v, unit_count))
            return v, it, conv, err, wj, wl
        w0 = np.bincount(unit_cell, weights=base * unit_count, minlength=c)
        w, it, conv, err, wj, wl = self._ipf(w0)
        factor = np.divide(w, w0, out=np.zeros_like(w), where=w0 > 0)
        v = base * factor[unit_cell]
        v *= self.n_active / float(np.dot(v, unit_count))
        return v, it, conv, err, wj, wl

    def _where(self, j: int, lvl: int, err: float) -> str:
        return (
            f"margin {self.names[j]!r} misses its target by {err:.3g} at level "
            f"{self.labels[j][lvl]!r} (tol {self.tol:g})"
        )

    @property
    def cell_of_row(self) -> np.ndarray:
        """The joint cell of each weighted row."""
        return self.row_cells.cells

    def fit(self, start: Any = None, *, diagnostics: bool = True) -> WeightingResult:
        """Rake (or post-stratify) from ``start`` weights; rows keep their relative start weight
        within a cell. Weights have mean 1 over the weighted rows (or sum to ``total``)."""
        start_arr = _as_start(start, self.index)
        if start_arr is not None and start_arr.size and np.all(start_arr == start_arr[0]):
            start_arr = None if start_arr[0] > 0 else start_arr
        if start_arr is None:
            unit_cell = np.arange(self.cell_count.size)
            unit_count = self.cell_count
            base = None
        else:
            unit_cell = self.cell_of_row
            unit_count = np.ones(self.n_active)
            base = start_arr if self.active is None else start_arr[self.active]
            if not np.any(base > 0):
                raise WeightingError("all start weights are zero")
        v, iters, conv, err, wj, wl = self._rake_units(base, unit_cell, unit_count)
        trim_info = None
        cap_msg = ""
        if self.trim is not None:
            v, iters, conv, err, wj, wl, trim_info, cap_msg = self._trim(
                v, unit_cell, unit_count, iters, conv, err, wj, wl
            )
        if not conv:
            what = "raking with trimming" if self.trim is not None else "raking"
            msg = (
                f"{what} did not converge in {self.max_iter} iterations: "
                f"{self._where(wj, wl, err)}{cap_msg}"
            )
            if not self.best_effort:
                raise WeightingError(msg)
            warnings.warn(
                msg + "; keeping the best result (best_effort=True)",
                ConvergenceWarning,
                stacklevel=3,
            )
        row_w = self.row_cells.spread(v) if start_arr is None else v
        if self.total is not None:
            row_w = row_w * (self.total / row_w.sum())
        if self.active is None:
            full = row_w
        else:
            full = np.zeros(self.n)
            full[self.active] = row_w
        weights = pd.Series(full, index=self.index, name="weight", copy=False)
        diag = None
        if diagnostics:
            diag = self._diagnose(row_w, iterations=iters, converged=conv, trimming=trim_info)
        return WeightingResult(weights, diag)  # type: ignore[arg-type]

    def _trim(
        self,
        v: np.ndarray,
        unit_cell: np.ndarray,
        unit_count: np.ndarray,
        iters: int,
        conv: bool,
        err: float,
        wj: int,
        wl: int,
    ) -> tuple[np.ndarray, int, bool, float, int, int, dict[str, Any], str]:
        """Alternate capping and raking until the caps and the margins both hold within tol.

        Quantile caps are fixed from the first raked weights, otherwise each cycle would cut a
        new tail and the loop could never settle.
        """
        trim = self.trim or {}
        rows = np.repeat(v, unit_count.astype(np.int64)) if unit_count is self.cell_count else v
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
        before = float(np.max(v)), float(np.min(v))
        while True:
            viol = violation(v)
            if conv and viol <= self.tol:
                break
            if cycles >= self.max_iter:
                conv = False
                break
            cycles += 1
            over = (v > hi) | (v < lo)
            capped = int(np.dot(over, unit_count))
            v, it, conv, err, wj, wl = self._rake_units(np.clip(v, lo, hi), unit_cell, unit_count)
            iters += it
        info = {
            "lower": lo,
            "upper": hi,
            "cycles": cycles,
            "rows_capped_last_cycle": capped,
            "max_before": before[0],
            "min_before": before[1],
            "max_after": float(np.max(v)),
            "min_after": float(np.min(v)),
            "cap_violation": viol,
            "final_margin_error": err,
            **{f"spec_{k}": x for k, x in trim.items()},
        }
        cap_msg = "" if viol <= self.tol else f"; weights exceed the trimming bounds by {viol:.3g}"
        return v, iters, conv, err, wj, wl, info, cap_msg

    # -- diagnostics --------------------------------------------------------------------------

    def design_matrix(self) -> np.ndarray:
        """One-hot indicators of every final margin level, (n, sum of levels); zero rows for
        excluded respondents. Used for calibration residuals in variance estimation."""
        width = sum(len(x) for x in self.labels)
        out = np.zeros((self.n, width))
        rows = np.arange(self.n) if self.active is None else np.flatnonzero(self.active)
        off = 0
        for j, labs in enumerate(self.labels):
            out[rows, off + self.cell_levels[j][self.cell_of_row]] = 1.0
            off += len(labs)
        return out

    def _diagnose(
        self,
        row_w: np.ndarray,
        *,
        iterations: int | None,
        converged: bool | None,
        trimming: dict[str, Any] | None,
    ) -> Diagnostics:
        c = self.cell_count.size
        cell_w = np.bincount(self.cell_of_row, weights=row_w, minlength=c)
        tot_w = cell_w.sum()
        recs = []
        for j, t in enumerate(self.targets):
            lev = self.cell_levels[j]
            cnt = np.bincount(lev, weights=self.cell_count, minlength=t.size)
            uw = cnt / self.n_active
            ww = (
                np.bincount(lev, weights=cell_w, minlength=t.size) / tot_w
                if tot_w > 0
                else uw * np.nan
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                sd = np.sqrt(t * (1 - t))
                asmd_b = np.where(sd > 0, np.abs(uw - t) / sd, np.nan)
                asmd_a = np.where(sd > 0, np.abs(ww - t) / sd, np.nan)
            for i, lab in enumerate(self.labels[j]):
                recs.append(
                    (
                        self.names[j],
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
            n=self.n_active,
            max_error=float(table["abs_error_after"].max()),
            iterations=iterations,
            converged=converged,
            collapses=list(self.collapses),
            trimming=trimming,
            n_excluded=self.n_excluded,
            method=self.method,
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


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def weight(
    data: pd.DataFrame,
    targets: Mapping[str, Mapping[Any, float]] | pd.Series,
    *,
    start: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    best_effort: bool = False,
    trim: Mapping[str, float] | None = None,
    min_cell: int = 0,
    collapse: CollapseRule = None,
    total: float | None = None,
) -> WeightingResult:
    """Weights and diagnostics: rake to ``{var: {level: share}}`` margins, or post-stratify to
    a joint table when ``targets`` is a Series indexed by the variables' levels."""
    raker = Raker(
        data,
        targets,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        max_iter=max_iter,
        trim=trim,
        best_effort=best_effort,
        total=total,
    )
    return raker.fit(_as_start(start, data.index))


def rake(
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]],
    *,
    start: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    best_effort: bool = False,
    trim: Mapping[str, float] | None = None,
    min_cell: int = 0,
    collapse: CollapseRule = None,
    total: float | None = None,
) -> pd.Series:
    """Raking (IPF) weights aligned to ``data.index``, mean 1 over weighted rows.

    Converged when every margin's achieved shares are within ``tol`` (absolute) of the targets.
    ``missing``: 'error' | 'category' (level ``'(missing)'``, needs a target) | 'exclude'
    (weight 0). ``dont_know_levels`` are treated like missing. ``trim``: ``max_ratio``,
    ``min_ratio`` (multiples of the mean), ``upper_quantile``, ``lower_quantile``. Levels with
    fewer than ``min_cell`` respondents (or none) are merged per ``collapse`` ('adjacent' or
    ``{var: {small: bigger} | 'adjacent'}``), with a warning.
    """
    if not isinstance(margins, Mapping):
        raise TargetsError(
            "rake needs margins as {variable: {level: share}}; use poststratify for a joint table"
        )
    raker = Raker(
        data,
        margins,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        max_iter=max_iter,
        trim=trim,
        best_effort=best_effort,
        total=total,
    )
    return raker.fit(_as_start(start, data.index), diagnostics=False).weights


def poststratify(
    data: pd.DataFrame,
    joint_targets: pd.Series,
    *,
    start: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    best_effort: bool = False,
    trim: Mapping[str, float] | None = None,
    min_cell: int = 0,
    collapse: Mapping[Any, Any] | None = None,
    total: float | None = None,
) -> pd.Series:
    """Post-stratification weights to a joint table (Series with a MultiIndex named after the
    data columns -> share). Exact in one step; ``collapse`` maps sparse cells (tuples) into
    others."""
    if not isinstance(joint_targets, pd.Series):
        raise TargetsError("poststratify needs the joint targets as a pandas Series")
    raker = Raker(
        data,
        joint_targets,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        max_iter=max_iter,
        trim=trim,
        best_effort=best_effort,
        total=total,
    )
    return raker.fit(_as_start(start, data.index), diagnostics=False).weights


def diagnose(
    weights: pd.Series | np.ndarray,
    data: pd.DataFrame,
    margins: Mapping[str, Mapping[Any, float]] | pd.Series,
    *,
    missing: MissingPolicy = "error",
    dont_know_levels: Iterable[Any] = (),
    min_cell: int = 0,
    collapse: CollapseRule = None,
    tol: float = 1e-6,
) -> Diagnostics:
    """Diagnostics of any weights against margins (same level handling as :func:`rake`)."""
    raker = Raker(
        data,
        margins,
        missing=missing,
        dont_know_levels=dont_know_levels,
        min_cell=min_cell,
        collapse=collapse,
        tol=tol,
        warn=False,
    )
    w = _as_start(weights, data.index)
    assert w is not None
    row_w = w if raker.active is None else w[raker.active]
    diag = raker._diagnose(row_w, iterations=None, converged=None, trimming=None)
    diag.converged = diag.max_error <= tol
    return diag


# --------------------------------------------------------------------------------------------
# Targets as data
# --------------------------------------------------------------------------------------------


def _validate_spec(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise TargetsError(f"{where}expected a mapping with a 'margins' key")
    unknown = [k for k in raw if k not in _SPEC_KEYS]
    if unknown:
        raise TargetsError(f"{where}unknown key {unknown[0]!r}; allowed: {', '.join(_SPEC_KEYS)}")
    if "margins" not in raw:
        raise TargetsError(f"{where}has no 'margins' section")
    spec: dict[str, Any] = {k: raw[k] for k in ("scheme", "description", "source") if k in raw}
    for k, v in spec.items():
        if not isinstance(v, str):
            raise TargetsError(f"{where}{k!r} must be a string")
    spec["margins"] = _validate_margins(raw["margins"], where)
    years: dict[int, dict[str, Any]] = {}
    for y, block in (raw.get("years") or {}).items():
        try:
            year = int(y)
        except (TypeError, ValueError):
            raise TargetsError(f"{where}year {y!r} is not a year") from None
        if not isinstance(block, Mapping) or "margins" not in block:
            raise TargetsError(f"{where}year {year} needs a 'margins' section")
        years[year] = {"margins": _validate_margins(block["margins"], f"{where}year {year}: ")}
        if "description" in block:
            years[year]["description"] = str(block["description"])
    if years:
        spec["years"] = years
    if "meta" in raw:
        spec["meta"] = raw["meta"]
    return spec


def _targets_path(path_or_name: str | Path) -> Path:
    p = Path(path_or_name)
    if p.is_file():
        return p
    if not p.suffix and len(p.parts) == 1:
        candidate = TARGETS_DIR / f"{p.name}.yaml"
        if candidate.is_file():
            return candidate
    raise MissingFileError(f"targets file {str(path_or_name)!r} does not exist")


def load_targets(path_or_name: str | Path, *, year: int | None = None) -> dict[str, Any]:
    """Read and validate a targets YAML file (a path, or a name in ``ospo_survey/targets``).

    With ``year``, ``margins`` is resolved for that year: per-variable overrides from
    ``years: {year: {margins: ...}}`` replace the default shares.
    """
    from ospo_survey.core.yamlio import load_yaml

    path = _targets_path(path_or_name)
    where = f"targets file {path.name!r}: "
    raw = load_yaml(path, error=TargetsError, where=where)
    spec = _validate_spec(raw, where)
    spec["path"] = str(path)
    if year is not None:
        spec["year"] = int(year)
        override = spec.get("years", {}).get(int(year))
        if override:
            spec["margins"] = {**spec["margins"], **override["margins"]}
    return spec


def _round_shares(shares: Mapping[Any, float], decimals: int) -> dict[Any, float]:
    """Largest-remainder rounding: rounded shares sum to exactly 1 and none drops to zero."""
    unit = 10**decimals
    keys = list(shares)
    raw = np.array([float(shares[k]) for k in keys])
    raw = raw / raw.sum() * unit
    base = np.floor(raw).astype(np.int64)
    pos = raw > 0
    base[pos & (base == 0)] = 1
    short = unit - int(base.sum())
    rem = raw - np.floor(raw)
    if short > 0:
        for i in sorted(range(len(keys)), key=lambda i: (-rem[i], i))[:short]:
            base[i] += 1
    while short < 0:
        i = int(np.argmax(base))
        base[i] -= 1
        short += 1
    return {k: round(int(b) / unit, decimals) for k, b in zip(keys, base, strict=True)}


def write_targets(targets: Mapping[str, Any], path: str | Path, *, decimals: int = 4) -> Path:
    """Write a targets spec as deterministic YAML; shares are rounded to ``decimals`` places
    so that each variable's written shares still sum to exactly 1."""
    import yaml

    spec = _validate_spec({k: v for k, v in targets.items() if k in _SPEC_KEYS}, "")
    out: dict[str, Any] = {}
    for key in ("scheme", "description", "source"):
        if key in spec:
            out[key] = spec[key]
    out["margins"] = {
        var: {_py(k): v for k, v in _round_shares(levels, decimals).items()}
        for var, levels in spec["margins"].items()
    }
    if "years" in spec:
        out["years"] = {
            y: {
                **({"description": b["description"]} if "description" in b else {}),
                "margins": {
                    var: _round_shares(levels, decimals) for var, levels in b["margins"].items()
                },
            }
            for y, b in sorted(spec["years"].items())
        }
    if "meta" in spec:
        out["meta"] = spec["meta"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(out, sort_keys=False, allow_unicode=True, default_flow_style=False)
    path.write_text(
        "# Written by ospo_survey.weights.write_targets; edit with care.\n" + text, encoding="utf-8"
    )
    return path


def derive_reference_targets(
    df: pd.DataFrame,
    variables: Sequence[str],
    by: str = "year",
    *,
    missing: Literal["exclude", "category"] = "exclude",
    dont_know_levels: Iterable[Any] = (),
    scheme: str = "reference",
    description: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Pooled shares in which every ``by`` group (year) has equal total weight.

    Why: the reference population for cross-year comparisons should not be dominated by
    whichever year happened to have the most respondents. A year in which a variable was not
    asked (all missing) is left out of that variable's pool.
    """
    if by not in df.columns:
        raise TargetsError(f"column {by!r} is not in the data")
    dk = list(dont_know_levels)
    margins: dict[str, dict[Any, float]] = {}
    used: dict[str, list[Any]] = {}
    for var in variables:
        if var not in df.columns:
            raise TargetsError(f"weighting variable {var!r} is not a column of the data")
        col = df[var]
        if dk:
            col = col.mask(col.isin(dk))
        if isinstance(col.dtype, pd.CategoricalDtype):
            order: list[Any] = [_py(x) for x in col.cat.categories.tolist() if x not in dk]
        else:
            try:
                order = sorted(_py(x) for x in col.dropna().unique().tolist())
            except TypeError:
                order = [_py(x) for x in col.dropna().unique().tolist()]
        if missing == "category":
            order.append(MISSING_LEVEL)
        per_year = []
        years = []
        for year, part in col.groupby(df[by], sort=True, observed=True):
            if part.notna().sum() == 0:
                continue
            vals = part.astype(object)
            if missing == "category":
                vals = vals.where(part.notna(), MISSING_LEVEL)
            else:
                vals = vals[part.notna()]
            counts = vals.map(_py).value_counts(normalize=True)
            per_year.append(np.array([float(counts.get(lv, 0.0)) for lv in order]))
            years.append(_py(year))
        if not per_year:
            raise TargetsError(f"weighting variable {var!r} has no answers in any {by}")
        pooled = np.mean(per_year, axis=0)
        margins[var] = {lv: float(s) for lv, s in zip(order, pooled, strict=True) if s > 0}
        used[var] = years
    return {
        "scheme": scheme,
        "description": description
        or f"Pooled shares over {by}s, each {by} given equal total weight",
        "source": source or "derived from the harmonised survey data",
        "margins": margins,
        "meta": {"by": by, "pooled_over": used, "missing": missing},
    }
