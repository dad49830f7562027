"""Digests of the key published tables, so a refactor cannot silently change a figure.

``key_tables()`` renders, per year, the tables the reports print (sample funnel, harmonised
headline variables unweighted and reference-weighted) as canonical CSV text; ``digests()``
hashes them. ``tests/fidelity/digests.json`` stores the accepted digests; it is updated only
deliberately, with ``ospo-survey digest --update``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

KEY_VARIABLES = ("ospo_status", "has_ospo", "org_size", "size3", "tech_industry", "region")


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.10g")


def key_tables() -> dict[str, str]:
    """Canonical CSV text of each key table, by name (``<year>/<table>``)."""
    from ospo_survey.analysis.design import survey
    from ospo_survey.inference import estimate as E
    from ospo_survey.ingest.dataset import funnel
    from ospo_survey.ingest.settings import available_years

    tables: dict[str, str] = {}
    f = funnel()
    for year in available_years():
        tables[f"{year}/funnel"] = _csv(
            f[f["year"] == year][["screen", "step", "action", "rows_in", "removed", "matched"]]
        )
    # every level of the raw variable (don't know included: these are the tables' digests,
    # not estimates), unweighted beside the design's reference weights
    frame = survey(available_years()).frame
    for var in KEY_VARIABLES:
        plain = E.proportions(frame, var, by="year")
        weighted = E.proportions(frame, var, weights="weight", by="year")
        t = plain[["year", "level", "n", "count", "estimate"]].assign(
            estimate_w=weighted["estimate"].to_numpy(), ci_low_w=weighted["ci_low"].to_numpy(),
            ci_high_w=weighted["ci_high"].to_numpy())
        t["level"] = t["level"].astype(str)
        t = t.sort_values(["year", "level"], kind="stable")
        for year, part in t.groupby("year"):
            cols = ["level", "n", "count", "estimate", "estimate_w", "ci_low_w", "ci_high_w"]
            tables[f"{int(year)}/{var}"] = _csv(part[cols])
    return dict(sorted(tables.items()))


def digests() -> dict[str, str]:
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in key_tables().items()}


def write(path: Path) -> Path:
    path.write_text(json.dumps(digests(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
