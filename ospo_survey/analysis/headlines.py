"""The publisher's headline figures, recomputed by the rules in ``reports.yaml``.

A rule's conditions are evaluated by :func:`ospo_survey.ingest.screen.evaluate`, the one
interpreter of condition rules; this module adds the sample masks and the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import CONFIG_PATH, config
from ospo_survey.core.errors import CodebookError, did_you_mean
from ospo_survey.ingest.dataset import SAMPLES, year_data
from ospo_survey.ingest.screen import describe as _describe
from ospo_survey.ingest.screen import evaluate

#: How a published figure compares with ours. A rule marked ``definition: different`` in
#: reports.yaml gives the same number by a different definition than the claim states.
STATUS_REPRODUCED = "reproduced"
STATUS_OTHER_DEFINITION = "same number, different definition"
STATUS_DIFFERS = "differs"


def _condition(cond: Mapping[str, Any], yd: Any, where: str) -> pd.Series:
    """A headline rule's condition on one year's respondents (all rows, raw order)."""
    return evaluate(dict(cond), yd.survey, yd.harmonized, where, source=CONFIG_PATH.name)


def _sample_mask(yd: Any, sample: str) -> pd.Series:
    flags = yd.harmonized
    if sample == "all":
        return pd.Series(True, index=flags.index)
    if sample == "company_level":
        return flags["publisher_sample"].astype(bool) & flags["company_level"].astype(bool)
    if f"{sample}_sample" not in flags.columns:
        known = [*SAMPLES, "company_level"]
        raise CodebookError(f"unknown sample {sample!r}:{did_you_mean(sample, known)} use one of "
                            f"{', '.join(known)}")
    return flags[f"{sample}_sample"].astype(bool)

def _rule_share(year: int, rule: Mapping[str, Any], weights: pd.Series | None, where: str):
    yd = year_data(year)
    mask = _sample_mask(yd, rule.get("sample", "publisher"))
    base = _condition(rule["base"], yd, where) & mask
    hit = _condition(rule["hit"], yd, where) & base
    n_base = int(base.sum())
    share = float(hit.sum() / n_base) if n_base else math.nan
    wshare = math.nan
    if weights is not None and n_base:
        w = weights.reindex(yd.harmonized.index).fillna(0.0).to_numpy()
        den = float((w * base.to_numpy()).sum())
        wshare = float((w * hit.to_numpy()).sum() / den) if den > 0 else math.nan
    return share, wshare, int(hit.sum()), n_base

def _half_up(x: float) -> int:
    """Round half away from zero, as published percentages are (62.5% -> 63%)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)

def headline_table(year: int, weights: pd.Series | None = None) -> pd.DataFrame:
    """The publisher's headline figures for ``year`` beside ours (same rule), and the rule."""
    rules = config().get("headlines", {}).get(int(year), [])
    rows = []
    for i, rule in enumerate(rules):
        where = f"headlines.{year}[{i}]"
        unit = rule.get("unit", "percent")
        sample = rule.get("sample", "publisher")
        if unit == "count":
            yd = year_data(year)
            mask = _sample_mask(yd, sample)
            ours = float((_condition(rule["count"], yd, where) & mask).sum())
            wours = math.nan
            text = f"count of {_describe(rule['count'])} ({sample} sample)"
            shown = ours
        else:
            share, wshare, hits, base = _rule_share(year, rule, weights, where)
            text = f"{_describe(rule['hit'])} among {_describe(rule['base'])} ({sample} sample)"
            if "relative_to" in rule:
                rel = rule["relative_to"]
                prev, wprev, _, _ = _rule_share(int(rel["year"]), rel, None, where)
                ours = 100 * (share / prev - 1)
                wours = math.nan
                text += (
                    f"; relative change against {rel['year']}: "
                    f"{_describe(rel['hit'])} among {_describe(rel['base'])}"
                )
                shown = ours
            else:
                ours = 100 * share
                wours = 100 * wshare if weights is not None else math.nan
                text += f" = {hits:,} / {base:,}"
                shown = ours
        published = float(rule["published"])
        same = bool(_half_up(shown) == _half_up(published)) if math.isfinite(shown) else False
        if not same:
            status = STATUS_DIFFERS
        elif rule.get("definition") == "different":
            status = STATUS_OTHER_DEFINITION
        else:
            status = STATUS_REPRODUCED
        rows.append(
            {
                "claim": rule["claim"],
                "unit": unit,
                "published": published,
                "ours": shown,
                "weighted": wours,
                "reproduced": status == STATUS_REPRODUCED,
                "status": status,
                "rule": text,
                "note": " ".join(str(rule.get("note", "")).split()),
            }
        )
    cols = ["claim", "unit", "published", "ours", "weighted", "reproduced", "status", "rule",
            "note"]
    return pd.DataFrame(rows, columns=cols)
