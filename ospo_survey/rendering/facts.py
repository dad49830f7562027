"""The facts a page states, written beside it as ``facts.json``: one value per fact.

A fact is a number stated for a population, a year and a measure; its id names the three
(``has_ospo/harmonized/reference/2021``: the share with an OSPO in the harmonised sample,
reference weights, 2021). Every page that states a fact writes it, so a test can load every
``facts.json`` of the site and fail when one id carries two values (the same fact shown as two
numbers on two pages), and compare a page's facts with the API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ospo_survey.core.errors import ReportError
from ospo_survey.core.files import write_atomic
from ospo_survey.rendering.html import json_number

FACTS_FILE = "facts.json"

#: How a sample reads beside a number (the definition a fact carries).
SAMPLE_WORDS = {
    "publisher": "the publisher's own sample for the year",
    "harmonized": "the comparable (harmonised) sample: one screen for every year",
    "harmonized_without_panel": "the comparable (harmonised) sample without the 2023 paid "
                                "panel, re-weighted",
    "all": "every response in the raw export",
}
WEIGHT_WORDS = {"reference": "weighted to the common size and industry mix",
                "none": "unweighted", "unweighted": "unweighted"}


def fact_id(measure: str, sample: str, weights: str | None, year: int | str) -> str:
    """``fact_id("has_ospo", "harmonized", "reference", 2021)`` ->
    ``'has_ospo/harmonized/reference/2021'`` (counts have no weights: ``None``)."""
    parts = [measure, sample] + ([weights] if weights else []) + [str(year)]
    return "/".join(parts)


def fact(measure: str, sample: str, weights: str | None, year: int | str, value: Any,
         what: str) -> dict[str, Any]:
    """One fact: its id, its value (a share 0-1 rounded to 4 digits, or a count) and its
    definition in words (what, the sample, the weighting)."""
    words = [what, SAMPLE_WORDS.get(sample, f"{sample} sample")]
    if weights:
        words.append(WEIGHT_WORDS.get(weights, f"{weights} weights"))
    return {"id": fact_id(measure, sample, weights, year), "value": json_number(value),
            "definition": "; ".join(words)}


def merged(facts: Iterable[Mapping[str, Any]], where: str = "page") -> list[dict[str, Any]]:
    """The facts sorted by id, each once; an id stated twice with two values is an error."""
    seen: dict[str, dict[str, Any]] = {}
    for f in facts:
        old = seen.get(f["id"])
        if old is not None and old["value"] != f["value"]:
            raise ReportError(f"{where}: fact {f['id']} stated as {old['value']} and "
                              f"{f['value']}: one fact, one number")
        seen.setdefault(f["id"], dict(f))
    return [seen[k] for k in sorted(seen)]


def facts_json(facts: Iterable[Mapping[str, Any]], where: str = "page") -> str:
    """The facts as stable JSON text (sorted, one list)."""
    return json.dumps(merged(facts, where), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_facts(facts: Iterable[Mapping[str, Any]],
                beside: str | os.PathLike[str] | None) -> None:
    """Write ``facts.json`` into the folder of ``beside`` (a page's summary or HTML file);
    a no-op without a path. Example: ``write_facts(rep.facts(), summary_path)``. Returns
    nothing, so that a notebook cell ending with it shows nothing on the page."""
    if not beside:
        return
    out = Path(beside).parent / FACTS_FILE
    write_atomic(out, facts_json(facts, str(out)))
