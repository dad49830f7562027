"""The publisher's comparative claims, checked: reproduced, then tested on the comparable series.

Each claim of ``claims.yaml`` is measured twice with the one survey design
(:func:`ospo_survey.analysis.design.survey`): on the publisher's own sample, unweighted, as the
publisher reports (does our number match the published one?), and on the comparable series
(harmonised sample, reference weights, 2023 without its paid panel) with 95% intervals (does
the claimed change or gap hold beyond sampling noise, does it cross a series break, does it
survive adjustment for organisation size?). The verdicts are data; the claims page words them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.analysis.design import survey
from ospo_survey.core.errors import CodebookError
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.core.yamlio import load_yaml
from ospo_survey.ingest.harmonize import panel_level

CLAIMS_PATH = PACKAGE_DIR / "claims.yaml"
Z95 = 1.959963984540054

#: Verdicts on the comparable series.
HOLDS = "holds"
HOLDS_SAME = "holds: no change beyond sampling noise"
NOT_SHOWN = "not shown beyond sampling noise"
REVERSED = "reversed"
CHANGED = "does not hold: the share changed"
NOT_TESTED = "not tested: crosses a series break"
SIZE_GROUPS = ("org_size", "size3")
_KEYS = {"id", "source", "quote", "kind", "variable", "level", "published"}


def load_claims() -> list[dict[str, Any]]:
    """The claims of ``claims.yaml``, each checked for the keys its kind needs."""
    data = load_yaml(CLAIMS_PATH)
    out = []
    for i, claim in enumerate(data.get("claims", [])):
        where = f"{CLAIMS_PATH.name}: claims[{i}]"
        missing = sorted(_KEYS - set(claim))
        kind = claim.get("kind")
        if kind == "change":
            missing += [k for k in ("years", "direction") if k not in claim]
        elif kind == "gap":
            missing += [k for k in ("year", "by", "groups") if k not in claim]
        else:
            raise CodebookError(f"{where}: kind must be change or gap, not {kind!r}")
        if missing:
            raise CodebookError(f"{where} ({claim.get('id', '?')}) lacks {', '.join(missing)}: "
                                "add them (see the comment at the top of the file)")
        out.append(dict(claim))
    return out


def _levels(level: Any) -> list[str]:
    return [str(v) for v in level] if isinstance(level, list) else [str(level)]


CLAIMED = "claimed"


def _combine(claim: Mapping[str, Any]) -> dict[str, Any]:
    """The design's ``combine`` for the claimed levels (and a gap's groups)."""
    out: dict[str, Any] = {claim["variable"]: {CLAIMED: _levels(claim["level"])}}
    if claim["kind"] == "gap":
        out[claim["by"]] = {str(k): [str(v) for v in vs] for k, vs in claim["groups"].items()}
    return out


@cache
def _base_design(years: tuple[int, ...], comparable: bool) -> Any:
    """The design of ``years``: the comparable series (harmonised, reference weights, without
    the paid panel where a year has one) or the publisher's sample unweighted; built once."""
    if not comparable:
        return survey(list(years), sample="publisher", weights="unweighted")
    design = survey(list(years))
    return design.without_panel() if panel_years(years) else design


def panel_years(years: Sequence[int]) -> list[int]:
    """The years whose publisher's sample holds paid-panel respondents (2023)."""
    frame = _base_design(tuple(int(y) for y in years), False).frame
    if "channel" not in frame.columns:
        return []
    hit = frame["channel"].astype(object) == panel_level()
    return sorted(int(y) for y in frame.loc[hit, "year"].unique())


def _design(years: Sequence[int], claim: Mapping[str, Any], *, comparable: bool) -> Any:
    design = _base_design(tuple(int(y) for y in years), comparable)
    subset = claim.get("subset") or {}
    return design.subset(**{k: _levels(v) for k, v in subset.items()}) if subset else design


def _shares(design: Any, claim: Mapping[str, Any]) -> pd.DataFrame:
    by = claim["by"] if claim["kind"] == "gap" else None
    est = design.proportion(claim["variable"], by=by, combine=_combine(claim))
    return est[est["level"] == CLAIMED].reset_index(drop=True)


def _half_up(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def check(claim: Mapping[str, Any]) -> dict[str, Any]:
    """One claim checked: the publisher's figures reproduced and the claim on the comparable
    series, as plain values (shares 0-1, differences in proportion points)."""
    kind = claim["kind"]
    years = [int(y) for y in claim["years"]] if kind == "change" else [int(claim["year"])]
    published = [None if v is None else float(v) for v in claim["published"]]
    ours_pub = _shares(_design(years, claim, comparable=False), claim)
    comp = _shares(_design(years, claim, comparable=True), claim)
    out: dict[str, Any] = {
        "id": claim["id"], "source": claim["source"], "kind": kind,
        "quote": " ".join(str(claim["quote"]).split()),
        "note": " ".join(str(claim.get("note", "")).split()),
        "years": years, "published": published, "variable": claim["variable"],
        "level": claim["level"], "subset": dict(claim.get("subset") or {}),
        "panel": panel_years(years),
        "breaks": [b["text"] for b in policy.spanned(years)] if len(years) > 1 else [],
    }
    if kind == "change":
        pub = ours_pub.set_index("year")["estimate"]
        shares = [float(pub.get(y, np.nan)) for y in years]
        ours = ([100 * (shares[1] / shares[0] - 1)] if claim.get("relative")
                else [100 * v for v in shares])
        out["groups"] = [str(y) for y in years]
        out.update(_change(claim, years, comp))
    else:
        pub = ours_pub.set_index(claim["by"])["estimate"]
        names = [str(k) for k in claim["groups"]]
        ours = [100 * float(pub.get(k, np.nan)) for k in names]
        out["groups"] = names
        out.update(_gap(claim, comp, names))
    out["ours"] = ours
    out["reproduced"] = [None if p is None else bool(math.isfinite(o) and
                                                     _half_up(o) == _half_up(p))
                         for p, o in zip(published, ours, strict=True)]
    return out


def _verdict(direction: str, low: float, high: float) -> str:
    if direction == "same":
        return HOLDS_SAME if low <= 0 <= high else CHANGED
    sign = 1 if direction == "up" else -1
    lo, hi = sorted((sign * low, sign * high))
    if lo > 0:
        return HOLDS
    if hi < 0:
        return REVERSED
    return NOT_SHOWN


def _change(claim: Mapping[str, Any], years: list[int], comp: pd.DataFrame) -> dict[str, Any]:
    a, b = years
    design = _design(years, claim, comparable=True)
    diff = design.difference(claim["variable"], CLAIMED, combine=_combine(claim))
    row = diff[(diff["year_a"] == a) & (diff["year_b"] == b)].iloc[0]
    shares = comp.set_index("year")
    values = [_value(shares, y) for y in years]
    tested = bool(np.isfinite(row["ci_low"]))
    out = {"comparable": values, "difference": float(row["estimate"]),
           "ci": [float(row["ci_low"]), float(row["ci_high"])] if tested else None,
           "reason": str(row["reason"] or "")}
    out["verdict"] = (_verdict(claim["direction"], row["ci_low"], row["ci_high"]) if tested
                      else NOT_TESTED if out["reason"].startswith("crosses") else
                      f"not measurable on the comparable series ({out['reason']})")
    out["size"] = _size_adjusted_change(claim, years, design) if tested else None
    return out


def _value(frame: pd.DataFrame, key: Any) -> dict[str, Any] | None:
    if key not in frame.index:
        return None
    r = frame.loc[key]
    return {"estimate": float(r["estimate"]), "ci_low": float(r["ci_low"]),
            "ci_high": float(r["ci_high"]), "n": int(r["n"]),
            "suppressed": bool(r["suppressed"])}


def _gap(claim: Mapping[str, Any], comp: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """A gap between two groups of one year: each group's share and the difference, its
    interval from the two groups' standard errors (disjoint groups of respondents; the
    covariance that the shared weighting adds is left out)."""
    shares = comp.set_index(claim["by"])
    values = [_value(shares, k) for k in names]
    out: dict[str, Any] = {"comparable": values, "reason": ""}
    if any(v is None or v["suppressed"] for v in values):
        out.update(difference=None, ci=None, verdict="not tested: too few answers", size=None)
        return out
    se = [float(shares.loc[k, "se"]) for k in names]
    d = values[0]["estimate"] - values[1]["estimate"]
    half = Z95 * math.sqrt(se[0] ** 2 + se[1] ** 2)
    out.update(difference=d, ci=[d - half, d + half], verdict=_verdict("up", d - half, d + half))
    out["size"] = ("about organisation size itself" if claim["by"] in SIZE_GROUPS else
                   "not tested")
    return out


def _size_adjusted_change(claim: Mapping[str, Any], years: list[int], design: Any
                          ) -> dict[str, Any] | str:
    """The year-to-year change adjusted for organisation size: the year's odds ratio in a
    survey-weighted logistic model ``claimed ~ year + org_size`` on the comparable series."""
    if claim["variable"] in SIZE_GROUPS:
        return "about organisation size itself"
    levels = ", ".join(repr(v) for v in _levels(claim["level"]))
    var = claim["variable"]
    column = design.frame[var]
    if column.dtype == bool or str(column.dtype) == "boolean":
        lhs = var  # a ticked option: the outcome is the column itself
    elif isinstance(claim["level"], list):
        lhs = f"{var} in [{levels}]"
    else:
        lhs = f"{var} == {levels}"
    try:
        fit = design.logistic(f"{lhs} ~ year + org_size")
    except Exception as exc:  # noqa: BLE001 - a model that cannot be fitted is reported
        return f"not tested ({' '.join(str(exc).split())[:120]})"
    row = fit.table[fit.table["term"] == f"year[T.{years[1]}]"]
    if row.empty:
        return "not tested"
    r = row.iloc[0]
    low, high = math.log(float(r["or_low"])), math.log(float(r["or_high"]))
    verdict = _verdict(claim["direction"], low, high)
    return {"odds_ratio": float(r["odds_ratio"]), "ci": [float(r["or_low"]),
                                                          float(r["or_high"])],
            "verdict": verdict}


def check_claims() -> list[dict[str, Any]]:
    """Every claim of ``claims.yaml`` checked (:func:`check`), in the file's order."""
    return [check(c) for c in load_claims()]
