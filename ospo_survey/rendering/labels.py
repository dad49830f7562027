"""The words a page shows for harmonised variables and levels (never their keys).

Variable names come from ``variables.yaml`` (``label``), level words from ``reports.yaml``
(``level_words``); a level without words is shown as it is.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ospo_survey.analysis.common import config
from ospo_survey.ingest.harmonize import definitions


def variable_label(var: str) -> str:
    """'Organisation size (employees)' for ``org_size``; a matrix row or multi option
    (``policy_use``, ``journey_lead``) reads as its row or option label."""
    defs = definitions()
    if var in defs:
        return str(defs[var].get("label", var))
    for name, spec in defs.items():
        for key in ("rows", "options"):
            for sub, text in (spec.get(key) or {}).items():
                if var == f"{name}_{sub}":
                    return str(text)
    return var


def level_word(var: str, level: Any) -> str:
    """How one level of ``var`` reads on a page."""
    words = (config().get("level_words") or {}).get(var, {})
    return str(words.get(str(level), level))


def with_level_words(frame: pd.DataFrame, var: str, column: str = "level") -> pd.DataFrame:
    """A copy of ``frame`` whose ``column`` holds the page words of ``var``'s levels."""
    if frame is None or frame.empty or column not in frame.columns:
        return frame
    out = frame.copy()
    out[column] = [level_word(var, v) for v in out[column].astype(object)]
    return out


def in_words(text: str) -> str:
    """``text`` with every harmonised variable key in it (``org_size``, ``policy_use``) replaced
    by its label, for sentences written by lower layers (weighting and model notes) that name
    variables by key."""
    defs = definitions()
    keys = {k for k in defs if "_" in k} | {
        f"{name}_{sub}" for name, spec in defs.items()
        for part in ("rows", "options") for sub in (spec.get(part) or {})}
    keys = sorted(keys, key=len, reverse=True)
    if not keys:
        return text
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, keys)) + r")(?![\w-])")
    return pattern.sub(lambda m: variable_label(m.group(1)), text)


_COLUMN_SUFFIX = re.compile(r"^(?P<text>.*?)\s*\((?P<col>[A-Za-z]+\d+_\d+)\)$")


def without_column_ids(labels: list[str]) -> list[str]:
    """Option labels with the raw column id that told a write-in box apart from the option of
    the same name ("Other (please specify) (Q22_13)") replaced by words ("..., written in");
    a second write-in of the same name is numbered."""
    out: list[str] = []
    for label in labels:
        m = _COLUMN_SUFFIX.match(str(label))
        name = f"{m['text']}, written in" if m else str(label)
        k, base = 2, name
        while name in out:
            name, k = f"{base} {k}", k + 1
        out.append(name)
    return out
