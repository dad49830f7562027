"""The weighting problem, prepared once (:class:`Raker`) and fitted by iterative proportional
fitting (IPF) on its cell table.

Why IPF on cells: every respondent of a joint cell gets the same factor, so the sweeps run
over a few thousand cells at most, and rows are touched again only to spread the cell
factors back.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import EmptyLevelError, TargetsError, WeightingError
from ospo_survey.inference.weights.coding import (
    MISSING_LEVEL,
    MissingPolicy,
    _Coded,
    _combine,
    _combine_cells,
    _factorize,
)
from ospo_survey.inference.weights.collapse import CollapseRule, _collapse_levels, _rule_for
from ospo_survey.inference.weights.diagnostics import (
    Collapse,
    CollapseWarning,
    ConvergenceWarning,
    Miss,
    RakeFit,
    WeightingResult,
    fit_diagnostics,
)
from ospo_survey.inference.weights.labels import _KeyIndex, _validate_margins, _validate_shares
from ospo_survey.inference.weights.options import RakeOptions
from ospo_survey.inference.weights.trimming import trim_and_rerake


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


class Raker:
    """A weighting problem factorised and validated once, fitted for any start weights.

    Why a class: bootstrap replicates re-rake the same problem hundreds of times with new start
    weights; the factorisation, target checks and collapses must be identical for all of them.
    How: ``options`` (a :class:`RakeOptions`) and keyword arguments naming its fields, as for
    :func:`~ospo_survey.inference.weights.api.rake`; ``warn=False`` leaves out the collapse
    warnings.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        targets: Mapping[str, Mapping[Any, float]] | pd.Series,
        options: RakeOptions | None = None,
        *,
        warn: bool = True,
        **settings: Any,
    ) -> None:
        opts = RakeOptions.build(options, **settings)
        if not isinstance(data, pd.DataFrame):
            raise TypeError("data must be a pandas DataFrame")
        self.options = opts
        self.index = data.index
        self.n = len(data)
        self.tol = float(opts.tol)
        self.max_iter = int(opts.max_iter)
        self.trim = opts.trim
        self.best_effort = bool(opts.best_effort)
        self.total = opts.total
        missing, min_cell, collapse = opts.missing, opts.min_cell, opts.collapse
        dont_know = list(opts.dont_know_levels)
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

    def retarget(self, margins: Mapping[str, Mapping[Any, float]]) -> Raker:
        """The same prepared problem with other shares for its levels (a level left out has
        share 0): bootstrap replicates re-derive their targets and re-rake hundreds of times,
        and need not factorise the data again. Shares are rescaled to sum to 1.

        >>> data = pd.DataFrame({"size": ["s", "s", "l"]})
        >>> raker = Raker(data, {"size": {"s": 0.5, "l": 0.5}})
        >>> raker.retarget({"size": {"s": 0.25, "l": 0.75}}).fit().weights.round(3).tolist()
        [0.375, 0.375, 2.25]
        """
        new = copy.copy(self)
        new.targets = []
        for name, labels in zip(self.names, self.labels, strict=True):
            shares = margins[name]
            stray = set(shares) - set(labels)
            if stray:
                raise TargetsError(
                    f"weighting variable {name!r}: level {sorted(map(str, stray))[0]!r} is not"
                    " a level of the prepared problem"
                )
            t = np.array([float(shares.get(lab, 0.0)) for lab in labels])
            new.targets.append(t / t.sum())
        new._stack = None
        return new

    # -- fitting ------------------------------------------------------------------------------

    def _errors(self, w: np.ndarray) -> Miss:
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
        return Miss(float(err[i]), j, lvl)

    def _ipf(self, w0: np.ndarray) -> RakeFit:
        """IPF on the cell table: the cell totals of the first sweep within ``tol``, or of the
        best sweep (not converged) after ``max_iter``."""
        w = w0.astype(np.float64, copy=True)
        total = w.sum()
        goals = [t * total for t in self.targets]
        miss = self._errors(w)
        if miss.error <= self.tol:
            return RakeFit(w, 0, True, miss)
        best_w, best_miss = w.copy(), miss
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
            miss = self._errors(w)
            if miss.error < best_miss.error:
                best_w, best_miss = w.copy(), miss
            if miss.error <= self.tol:
                return RakeFit(w, it, True, miss)
        return RakeFit(best_w, self.max_iter, False, best_miss)

    def _rake_units(
        self, base: np.ndarray | None, unit_cell: np.ndarray, unit_count: np.ndarray
    ) -> RakeFit:
        """Rake units (cells of ``unit_count`` rows, or rows) from ``base`` weights (None: equal);
        the fit's weights are per unit, mean 1 over the weighted rows."""
        c = self.cell_count.size
        if base is None:  # equal start weights: the units are the cells, each start 1
            w0 = unit_count
            fit = self._ipf(w0)
            v = fit.weights / w0  # every cell holds at least one respondent
            v *= self.n_active / float(np.dot(v, unit_count))
            return replace(fit, weights=v)
        w0 = np.bincount(unit_cell, weights=base * unit_count, minlength=c)
        fit = self._ipf(w0)
        factor = np.divide(fit.weights, w0, out=np.zeros_like(fit.weights), where=w0 > 0)
        v = base * factor[unit_cell]
        v *= self.n_active / float(np.dot(v, unit_count))
        return replace(fit, weights=v)

    def _where(self, miss: Miss) -> str:
        return (
            f"margin {self.names[miss.margin]!r} misses its target by {miss.error:.3g} at level "
            f"{self.labels[miss.margin][miss.level]!r} (tol {self.tol:g})"
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
        fit = self._rake_units(base, unit_cell, unit_count)
        trim_info = None
        cap_msg = ""
        if self.trim is not None:
            trimmed = trim_and_rerake(
                fit,
                unit_count,
                lambda base: self._rake_units(base, unit_cell, unit_count),
                trim=self.trim,
                cells=start_arr is None,
                tol=self.tol,
                max_iter=self.max_iter,
            )
            fit, trim_info, cap_msg = trimmed.fit, trimmed.info, trimmed.note
        if not fit.converged:
            what = "raking with trimming" if self.trim is not None else "raking"
            msg = (
                f"{what} did not converge in {self.max_iter} iterations: "
                f"{self._where(fit.miss)}{cap_msg}"
            )
            if not self.best_effort:
                raise WeightingError(msg)
            warnings.warn(
                msg + "; keeping the best result (best_effort=True)",
                ConvergenceWarning,
                stacklevel=3,
            )
        v = fit.weights
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
            diag = fit_diagnostics(
                self, row_w, iterations=fit.iterations, converged=fit.converged, trimming=trim_info
            )
        return WeightingResult(weights, diag)  # type: ignore[arg-type]

    # -- calibration ----------------------------------------------------------------------------

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
