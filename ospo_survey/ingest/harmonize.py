"""Harmonise a year's decoded answers onto the cross-year variables, as its codebook says.

The definitions of the harmonised variables live in ``variables.yaml``; each year's codebook
(``codebooks/<year>.yaml``, section ``harmonize:``) maps its own questions onto them with one
of four declarative forms, so a new year needs a new file, not new code:

``from`` + ``map``     a single-choice question, raw label -> level (``null`` = missing)
``cases``              first matching ``when`` (question -> label or list of labels) wins
``from`` + ``options`` a multiple-choice question, option name -> raw option label
``from`` + ``rows``    a matrix question, row name -> raw row label, plus ``map`` for answers
``column`` + ``map``   a meta column (e.g. the collector) -> level

Every raw label a codebook names must exist in that year's answers, and every answer that
occurs must be mapped: a typo or an unmapped answer is a :class:`CodebookError`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import CodebookError
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.ingest import answers as A
from ospo_survey.ingest.labels import clean_label, label_key, match_label
from ospo_survey.ingest.read import RawSurvey
from ospo_survey.ingest.settings import codebook_path, load_yaml, year_settings

VARIABLES_PATH = PACKAGE_DIR / "variables.yaml"


@cache
def variables() -> dict[str, Any]:
    """The harmonised variable definitions (and the harmonised screen)."""
    return load_yaml(VARIABLES_PATH)


def definitions() -> dict[str, dict[str, Any]]:
    return variables()["variables"]


def panel_level() -> str:
    """The ``channel`` level of a paid panel of respondents (``variables.yaml``)."""
    return str(definitions()["channel"]["panel"])


def panel_sizes() -> list[str]:
    """The ``org_size`` levels the paid panel recruited from (``variables.yaml``), to compare
    the panel with the other respondents of the same size."""
    return [str(v) for v in definitions()["channel"]["panel_sizes"]]


def output_columns(name: str) -> list[str]:
    """The column(s) a harmonised variable produces."""
    spec = definitions()[name]
    if spec["type"] == "multi":
        return [f"{name}_{opt}" for opt in spec["options"]]
    if spec["type"] == "matrix":
        return [f"{name}_{row}" for row in spec["rows"]]
    return [name]


def _dtype(spec: dict[str, Any]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(spec["levels"], ordered=bool(spec.get("ordered", False)))


def _where(year: int, var: str) -> str:
    return f"{codebook_path(year)}: harmonize.{var}"


def _match_label(year: int, var: str, qid: str, label: str, known: list[str]) -> str:
    """The raw answer a codebook label names (punctuation/case-insensitive); typos are errors."""
    hit = match_label(known, label)
    if hit is None:
        shown = "; ".join(known[:12])
        raise CodebookError(
            f"{_where(year, var)}: {label!r} is not an answer of {qid} (answers: {shown})"
        )
    return hit


def _recode(
    year: int, var: str, spec: dict[str, Any], values: pd.Series, qid: str, levels: list[str]
) -> pd.Series:
    known = [str(x) for x in (values.cat.categories if hasattr(values, "cat") else [])]
    if not known:
        known = sorted({str(v) for v in values.dropna()})
    mapping: dict[str, Any] = {}
    for raw, level in spec["map"].items():
        hit = _match_label(year, var, qid, str(raw), known)
        if level is not None and level not in levels:
            raise CodebookError(
                f"{_where(year, var)}: level {level!r} is not a level of {var} ({levels})"
            )
        mapping[hit] = level
    present = set(values.dropna().astype(str))
    unmapped = sorted(present - set(mapping))
    if unmapped:
        raise CodebookError(f"{_where(year, var)}: answer {unmapped[0]!r} of {qid} is not mapped")
    out = values.astype(object).map(lambda v: mapping.get(str(v)) if pd.notna(v) else None)
    return out


def _single_or_meta(survey: RawSurvey, source: str) -> pd.Series:
    if source in survey.responses.columns and survey.questions.set_index("column").at[
        source, "kind"
    ] == "meta":
        col = survey.responses[source]
        return col.astype(object).where(col.notna(), None)
    return A.single(survey, source)


def _cases(year: int, var: str, spec: dict[str, Any], survey: RawSurvey, levels: list[str]):
    n = survey.n
    out = pd.Series([None] * n, index=survey.responses.index, dtype=object)
    decided = np.zeros(n, dtype=bool)
    cache_: dict[str, pd.Series] = {}
    for case in spec["cases"]:
        level = case["value"]
        if level is not None and level not in levels:
            raise CodebookError(f"{_where(year, var)}: level {level!r} is not a level of {var}")
        mask = np.ones(n, dtype=bool)
        for qid, wanted in case["when"].items():
            if qid not in cache_:
                cache_[qid] = _single_or_meta(survey, qid)
            values = cache_[qid]
            if wanted is None:
                mask &= values.isna().to_numpy()
                continue
            wanted = wanted if isinstance(wanted, list) else [wanted]
            known = [str(x) for x in getattr(values, "cat", None).categories] if hasattr(
                values, "cat"
            ) else sorted({str(v) for v in values.dropna()})
            hits = [_match_label(year, var, qid, str(w), known) for w in wanted]
            mask &= values.astype(object).isin(hits).to_numpy()
        take = mask & ~decided
        out[take] = level
        decided |= mask
    return out


def harmonize_year(survey: RawSurvey) -> pd.DataFrame:
    """The harmonised variables of one year (one row per respondent, raw order)."""
    year = survey.year
    specs = year_settings(year).get("harmonize", {})
    defs = definitions()
    for var in specs:
        if var not in defs:
            raise CodebookError(
                f"{codebook_path(year)}: harmonize.{var} is not a harmonised variable"
                f" (known: {', '.join(sorted(defs))})"
            )
    out: dict[str, pd.Series] = {}
    for var, vdef in defs.items():
        if vdef["type"] == "derived":
            continue
        spec = specs.get(var)
        cols = output_columns(var)
        if spec is None:  # not asked this year: all missing, right dtype
            for col in cols:
                out[col] = _empty(vdef, survey.n)
            continue
        if spec.get("note") and len(spec) == 1:
            for col in cols:
                out[col] = _empty(vdef, survey.n)
            continue
        levels = list(vdef.get("levels", []))
        if vdef["type"] == "categorical":
            if "cases" in spec:
                values = _cases(year, var, spec, survey, levels)
            elif "column" in spec:
                values = _recode(year, var, spec, survey.responses[spec["column"]], spec["column"],
                                 levels)
            else:
                values = _recode(year, var, spec, A.single(survey, spec["from"]), spec["from"],
                                 levels)
            out[var] = pd.Series(pd.Categorical(values, dtype=_dtype(vdef)), index=values.index)
        elif vdef["type"] == "multi":
            frame = A.multiple(survey, spec["from"])
            known = list(frame.columns)
            for opt in vdef["options"]:
                col = f"{var}_{opt}"
                raw = spec["options"].get(opt)
                if raw is None:
                    out[col] = pd.Series(pd.NA, index=frame.index, dtype="boolean")
                    continue
                raws = raw if isinstance(raw, list) else [raw]
                hits = [_match_label(year, var, spec["from"], r, known) for r in raws]
                values = frame[hits].any(axis=1).astype("boolean")
                out[col] = values.where(frame.notna().all(axis=1), pd.NA)
            unknown = set(spec["options"]) - set(vdef["options"])
            if unknown:
                raise CodebookError(
                    f"{_where(year, var)}: option {sorted(unknown)[0]!r} is not an option of {var}"
                )
            named = {
                label_key(r)
                for raw in spec["options"].values()
                if raw is not None
                for r in (raw if isinstance(raw, list) else [raw])
            } | {label_key(r) for r in spec.get("unmapped", [])}
            ticked = [c for c in known if frame[c].fillna(False).any()]
            missed = [c for c in ticked if label_key(c) not in named]
            if missed:
                raise CodebookError(
                    f"{_where(year, var)}: option {missed[0]!r} of {spec['from']} is ticked but"
                    " not mapped (map it, or list it under 'unmapped:' with a reason)"
                )
        elif vdef["type"] == "matrix":
            frame = A.matrix(survey, spec["from"])
            known_rows = list(frame.columns)
            for row in vdef["rows"]:
                col = f"{var}_{row}"
                raw = spec["rows"].get(row)
                if raw is None:
                    out[col] = _empty(vdef, survey.n)
                    continue
                hit = _match_label(year, var, spec["from"], raw, known_rows)
                values = _recode(year, var, spec, frame[hit], spec["from"], levels)
                out[col] = pd.Series(pd.Categorical(values, dtype=_dtype(vdef)), index=frame.index)
            unknown = set(spec["rows"]) - set(vdef["rows"])
            if unknown:
                raise CodebookError(
                    f"{_where(year, var)}: row {sorted(unknown)[0]!r} is not a row of {var}"
                )
        else:
            raise CodebookError(f"{VARIABLES_PATH}: {var} has unknown type {vdef['type']!r}")
    frame = pd.DataFrame(out, index=survey.responses.index)
    return add_derived(frame)


def add_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Compute the derived variables (has_ospo, size3, tech_industry) from their sources."""
    for var, vdef in definitions().items():
        if vdef["type"] != "derived":
            continue
        src = frame[vdef["from"]].astype(object)
        values = src.map(lambda v, m=vdef["map"]: m.get(v) if isinstance(v, str) else None)
        frame[var] = pd.Categorical(values, dtype=_dtype(vdef))
    order = [c for v in definitions() for c in output_columns(v) if c in frame.columns]
    return frame[order]


def _empty(vdef: dict[str, Any], n: int) -> pd.Series:
    if vdef["type"] == "multi":
        return pd.Series([pd.NA] * n, dtype="boolean")
    return pd.Series(pd.Categorical([None] * n, dtype=_dtype(vdef)))


def _asked(specs: dict[str, Any], var: str) -> bool:
    """Whether a year's codebook feeds the variable (derived: whether its source is fed)."""
    vdef = definitions()[var]
    if vdef["type"] == "derived":
        return _asked(specs, vdef["from"])
    spec = specs.get(var) or {}
    return bool(spec) and set(spec) != {"note"}


def codebook_table(years: list[int] | None = None) -> pd.DataFrame:
    """One row per (year, harmonised variable, source): how each year feeds each variable."""
    from ospo_survey.ingest.settings import available_years

    rows = []
    for year in years or available_years():
        specs = year_settings(year).get("harmonize", {})
        for var, vdef in definitions().items():
            spec = specs.get(var, {}) if vdef["type"] != "derived" else {}
            source = spec.get("from") or spec.get("column") or ""
            if "cases" in spec:
                source = ",".join(
                    dict.fromkeys(q for c in spec["cases"] for q in c["when"])
                )
            rows.append(
                {
                    "year": int(year),
                    "variable": var,
                    "type": vdef["type"],
                    "label": vdef.get("label", ""),
                    "levels": " | ".join(vdef.get("levels", vdef.get("options", {}))),
                    "source": source if vdef["type"] != "derived" else vdef["from"],
                    "asked": _asked(specs, var),
                    "note": clean_label(spec.get("note", "")),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- readable codebook

ANSWER_MAP_COLUMNS = ["year", "variable", "qid", "question", "answer", "level"]


def variable_names() -> list[str]:
    """Every harmonised variable and every column it produces (``journey``, ``journey_lead``)."""
    names: list[str] = []
    for var in definitions():
        names += [var, *[c for c in output_columns(var) if c != var]]
    return names


def base_variable(name: str) -> tuple[str, str | None]:
    """``journey_lead`` -> (``journey``, ``lead``); a variable name -> (name, None)."""
    from ospo_survey.core.errors import UnknownVariableError, did_you_mean

    defs = definitions()
    if name in defs:
        return name, None
    for var, vdef in defs.items():
        part = vdef.get("options") or vdef.get("rows") or {}
        for key in part:
            if name == f"{var}_{key}":
                return var, str(key)
    raise UnknownVariableError(
        f"unknown harmonised variable {name!r}:{did_you_mean(name, variable_names())}"
        " (ospo_survey.codebook() lists them all)"
    )


def _condition(qid: str, wanted: Any) -> str:
    if wanted is None:
        return f"{qid} unanswered"
    return f"{qid} = " + " or ".join(wanted if isinstance(wanted, list) else [wanted])


def _text(survey: RawSurvey, qid: str) -> str:
    return str(survey.question(qid)["question"].iloc[0])


def _known(values: pd.Series) -> list[str]:
    if hasattr(values, "cat"):
        return [str(x) for x in values.cat.categories]
    return sorted({str(v) for v in values.dropna()})


def _mapped(year: int, var: str, spec: dict[str, Any], qid: str, known: list[str]) -> dict:
    """raw answer -> level for a ``map:`` (answers nobody could choose are left out)."""
    return {_match_label(year, var, qid, str(raw), known): lv for raw, lv in spec["map"].items()}


def answer_map(survey: RawSurvey, name: str) -> pd.DataFrame:
    """How each raw answer of the year's question(s) becomes a level of a harmonised variable.

    One row per answer (``year, variable, qid, question, answer, level``); ``level`` is missing
    where the answer is left out (counted as not answered). Multiple choice: ``level`` is the
    option the raw option feeds; matrix questions: one block per row (``variable`` is the
    row's column, ``question`` ends with the raw row label); derived variables (``has_ospo``)
    show their source's answers with the derived level. Collector ids are not shown.
    """
    var, part = base_variable(name)
    vdef = definitions()[var]
    year = survey.year
    rows: list[tuple] = []
    if vdef["type"] == "derived":
        src = answer_map(survey, vdef["from"])
        src["variable"] = var
        derive = vdef["map"]
        src["level"] = src["level"].map(lambda v: derive.get(v) if isinstance(v, str) else None)
        return src
    spec = year_settings(year).get("harmonize", {}).get(var) or {}
    if not spec or set(spec) == {"note"}:
        out = pd.DataFrame(columns=ANSWER_MAP_COLUMNS)
        out.attrs["note"] = clean_label(spec.get("note", f"{var} is not asked in {year}"))
        return out
    if "column" in spec:  # a meta column (the collector): its values are ids, never shown
        for i, level in enumerate(spec["map"].values(), start=1):
            rows.append((var, spec["column"], "(survey metadata)", f"{spec['column']} #{i}", level))
    elif "cases" in spec:
        qids = list(dict.fromkeys(q for c in spec["cases"] for q in c["when"]))
        asked = set(survey.questions["qid"])
        question = " | ".join(f"{q}: {_text(survey, q)}" for q in qids if q in asked)
        for case in spec["cases"]:
            when = [_condition(q, w) for q, w in case["when"].items()]
            rows.append((var, ",".join(case["when"]), question, "; ".join(when), case["value"]))
    elif vdef["type"] == "categorical":
        qid = spec["from"]
        known = _known(A.single(survey, qid))
        mapping = _mapped(year, var, spec, qid, known)
        for answer in known:
            rows.append((var, qid, _text(survey, qid), answer, mapping.get(answer)))
    elif vdef["type"] == "multi":
        qid = spec["from"]
        known = list(A.multiple(survey, qid).columns)
        feeds: dict[str, str] = {}
        for opt, raw in spec["options"].items():
            for r in raw if isinstance(raw, list) else ([] if raw is None else [raw]):
                feeds[_match_label(year, var, qid, r, known)] = str(opt)
        for answer in known:
            level = feeds.get(answer)
            if part is None or level == part:
                rows.append((var if part is None else name, qid, _text(survey, qid), answer, level))
    elif vdef["type"] == "matrix":
        qid = spec["from"]
        frame = A.matrix(survey, qid)
        for row, raw_row in spec["rows"].items():
            if raw_row is None or (part is not None and str(row) != part):
                continue
            hit = _match_label(year, var, qid, raw_row, list(frame.columns))
            known = _known(frame[hit])
            mapping = _mapped(year, var, spec, qid, known)
            text = f"{_text(survey, qid)} — {hit}"
            for answer in known:
                rows.append((f"{var}_{row}", qid, text, answer, mapping.get(answer)))
    out = pd.DataFrame([(year, *r) for r in rows], columns=ANSWER_MAP_COLUMNS)
    return out
