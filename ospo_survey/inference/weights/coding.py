"""Weighting variables as integer codes, and respondents as joint cells of those codes.

Why codes and cells: respondents who agree on every weighting variable always receive the
same adjustment factor, so everything after this step runs on the small table of occupied
joint cells and never loops over respondents. Rows are touched only here: to factorise the
variables, to count cells (``np.bincount``) and, at the end, to map cell factors back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ospo_survey.core.errors import WeightingError, WeightingOptionsError
from ospo_survey.inference.weights.labels import _py

MISSING_LEVEL = "(missing)"
"""Level that missing (and don't-know) answers become under ``missing='category'``."""

MissingPolicy = Literal["error", "category", "exclude"]


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
            raise WeightingOptionsError(
                f"missing must be 'error', 'category' or 'exclude', not {missing!r}"
            )
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
