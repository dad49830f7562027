"""Targets as data: weighting targets read from, checked against and written to YAML.

Why targets as data: the population shares are a methodological decision that must be
reviewed, versioned and cited, so they live in YAML files (``ospo_survey/targets/``) rather
than in code; derived targets are written deterministically so a re-derivation can be diffed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ospo_survey.core.errors import MissingFileError, TargetsError
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.inference.weights.coding import MISSING_LEVEL
from ospo_survey.inference.weights.labels import _py, _validate_margins

TARGETS_DIR = PACKAGE_DIR / "targets"
_SPEC_KEYS = (
    "scheme", "version", "description", "source", "pooled_years", "margins", "years", "meta",
)


def _validate_spec(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise TargetsError(f"{where}expected a mapping with a 'margins' key")
    unknown = [k for k in raw if k not in _SPEC_KEYS]
    if unknown:
        raise TargetsError(f"{where}unknown key {unknown[0]!r}; allowed: {', '.join(_SPEC_KEYS)}")
    if "margins" not in raw:
        raise TargetsError(f"{where}has no 'margins' section")
    spec: dict[str, Any] = {
        k: raw[k] for k in ("scheme", "version", "description", "source") if k in raw
    }
    for k, v in spec.items():
        if not isinstance(v, str):
            raise TargetsError(f"{where}{k!r} must be a string")
    if "pooled_years" in raw:
        spec["pooled_years"] = _pooled_years(raw["pooled_years"], where)
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


def _pooled_years(value: Any, where: str) -> list[int]:
    """``pooled_years``: the survey years the shares are pooled from (``[]``: not derived
    from the survey), as a sorted list of distinct years."""
    if not isinstance(value, list | tuple) or any(
        isinstance(y, bool) or not isinstance(y, int) for y in value
    ):
        raise TargetsError(
            f"{where}pooled_years must be a list of years, e.g. [2018, 2019], not {value!r}"
        )
    if len(set(value)) != len(value):
        raise TargetsError(f"{where}pooled_years names a year twice: {list(value)}")
    return sorted(int(y) for y in value)


def _derived(raw: Mapping[str, Any], path: Path) -> bool:
    """Whether a targets file must record ``pooled_years``: the package's own files (the
    project's versioned targets) and any file whose ``meta`` says it pooled survey years."""
    meta = raw.get("meta")
    pooled = isinstance(meta, Mapping) and "pooled_over" in meta
    return pooled or path.resolve().parent == TARGETS_DIR.resolve()


def pooled_span(spec: Mapping[str, Any]) -> str:
    """The years a targets spec pools, as words: ``2018-2024`` (consecutive), ``2018, 2020``,
    or '' when the shares do not come from the survey.

    >>> pooled_span({"pooled_years": [2018, 2019, 2020]})
    '2018-2020'
    """
    years = list(spec.get("pooled_years") or [])
    if not years:
        return ""
    if years == list(range(years[0], years[-1] + 1)) and len(years) > 1:
        return f"{years[0]}-{years[-1]}"
    return ", ".join(str(y) for y in years)


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
    if "pooled_years" not in spec and _derived(raw, path):
        raise TargetsError(
            f"{where}has no 'pooled_years' key: list the survey years its shares are pooled"
            " from (e.g. pooled_years: [2018, 2019]), or pooled_years: [] if they do not come"
            " from the survey"
        )
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
    for key in ("scheme", "version", "description", "source", "pooled_years"):
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
        "# Written by ospo_survey.inference.weights.write_targets; edit with care.\n" + text,
        encoding="utf-8",
    )
    return path


class PooledShares:
    """The pooled shares of :func:`derive_reference_targets`, prepared once for any weights.

    Why: a bootstrap replicate re-derives the targets from its resample, hundreds of times;
    the levels and each row's cell are coded once, and each derivation is a bincount.

    >>> df = pd.DataFrame({"year": [2018, 2018, 2019], "size": ["s", "l", "s"]})
    >>> PooledShares(df, ["size"]).margins(np.array([1.0, 3.0, 1.0]))
    {'size': {'l': 0.375, 's': 0.625}}
    """

    def __init__(self, df: pd.DataFrame, variables: Sequence[str], by: str = "year", *,
                 missing: Literal["exclude", "category"] = "exclude",
                 dont_know_levels: Iterable[Any] = ()) -> None:
        if by not in df.columns:
            raise TargetsError(f"column {by!r} is not in the data")
        self.n = len(df)
        self.by = by
        by_codes, by_levels = pd.factorize(df[by], sort=True)
        dk = list(dont_know_levels)
        self.cells: dict[str, tuple[list[Any], np.ndarray, np.ndarray, int]] = {}
        self.used: dict[str, list[Any]] = {}
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
            if isinstance(col.dtype, pd.CategoricalDtype):  # codes mapped, no loop over rows
                where = {lv: i for i, lv in enumerate(order)}
                remap = np.array([where.get(_py(c), -1) for c in col.cat.categories] + [-1])
                raw = col.cat.codes.to_numpy()
                codes = remap[np.where(raw >= 0, raw, len(remap) - 1)]
                if missing == "category":
                    codes = np.where(raw >= 0, codes, where[MISSING_LEVEL])
            else:
                vals = col.astype(object).map(lambda v: v if pd.isna(v) else _py(v))
                if missing == "category":
                    vals = vals.where(col.notna(), MISSING_LEVEL)
                codes = pd.Categorical(vals, categories=order).codes
            asked = np.bincount(by_codes[col.notna().to_numpy() & (by_codes >= 0)],
                                minlength=len(by_levels)) > 0
            if not asked.any():
                raise TargetsError(f"weighting variable {var!r} has no answers in any {by}")
            keep = (codes >= 0) & (by_codes >= 0) & asked[np.maximum(by_codes, 0)]
            rows = np.flatnonzero(keep)
            year_of = np.cumsum(asked) - 1  # position among the years that asked
            cell = year_of[by_codes[rows]] * len(order) + codes[rows]
            self.cells[var] = (order, rows, cell, int(asked.sum()))
            self.used[var] = [_py(y) for y, a in zip(by_levels, asked, strict=True) if a]

    def margins(self, weights: np.ndarray | None = None) -> dict[str, dict[Any, float]]:
        """``{variable: {level: pooled share}}`` with rows weighted by ``weights`` (default 1):
        each year's shares among its answers, averaged over the years that asked."""
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (self.n,):
            raise TargetsError(f"weights must have one value per row ({self.n}), not {w.shape}")
        out: dict[str, dict[Any, float]] = {}
        for var, (order, rows, cell, k) in self.cells.items():
            sums = np.bincount(cell, weights=w[rows], minlength=k * len(order)).reshape(
                k, len(order))
            totals = sums.sum(axis=1)
            if (totals <= 0).any():
                year = self.used[var][int(np.argmax(totals <= 0))]
                raise TargetsError(f"{self.by} {year}: {var!r} has no weighted answers")
            pooled = (sums / totals[:, None]).mean(axis=0)
            out[var] = {lv: float(s) for lv, s in zip(order, pooled, strict=True) if s > 0}
        return out


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
    pooled_years: Sequence[Any] | None = None,
    version: str | None = None,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Pooled shares in which every ``by`` group (year) has equal total weight.

    Why: the reference population for cross-year comparisons should not be dominated by
    whichever year happened to have the most respondents. A year in which a variable was not
    asked (all missing) is left out of that variable's pool.

    ``pooled_years`` names the ``by`` groups to pool and is recorded in the spec (with
    ``version``): data holding any other group is an error, so a new year never enters the
    pool silently (it needs a new targets version). ``weights`` (one per row; default 1)
    weight each group's shares, as a bootstrap replicate does.

    >>> df = pd.DataFrame({"year": [2018, 2018, 2019], "size": ["s", "l", "s"]})
    >>> derive_reference_targets(df, ["size"], pooled_years=[2018, 2019])["margins"]
    {'size': {'l': 0.25, 's': 0.75}}
    """
    if by not in df.columns:
        raise TargetsError(f"column {by!r} is not in the data")
    groups = sorted(_py(x) for x in df[by].dropna().unique().tolist())
    if pooled_years is not None:
        extra = [g for g in groups if g not in set(pooled_years)]
        if extra:
            name = f"targets version {version!r}" if version else "these targets"
            raise TargetsError(
                f"the data hold {by} {extra[0]}, which {name} does not pool"
                f" (pooled_years: {list(pooled_years)}): a new {by} needs a new targets"
                f" version; derive it with pooled_years including {extra[0]}"
            )
    pool = PooledShares(df, variables, by, missing=missing, dont_know_levels=dont_know_levels)
    margins = pool.margins(weights)
    used = pool.used
    spec: dict[str, Any] = {"scheme": scheme}
    if version:
        spec["version"] = version
    spec["description"] = description or (
        f"Pooled shares over {by}s, each {by} given equal total weight")
    spec["source"] = source or "derived from the harmonised survey data"
    spec["pooled_years"] = sorted(pooled_years) if pooled_years is not None else groups
    spec["margins"] = margins
    spec["meta"] = {"by": by, "pooled_over": used, "missing": missing}
    return spec
