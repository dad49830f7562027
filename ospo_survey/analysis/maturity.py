"""OSPO maturity models: each respondent's stage, stage shares per year, and whether a ladder holds.

The models are data (``ospo_survey/maturity.yaml``): ordered stages, each with a rule in the
package's one condition language (:func:`ospo_survey.ingest.screen.evaluate`) and the reason
for it. Nothing here knows a year: a stage is measured in a year when its rule's inputs were
asked that year (:func:`ospo_survey.ingest.screen.measured`), and a stage that is not measured
gets an empty estimate and a note, never 0.

The answers describe the respondents of an opt-in survey; intervals are sampling noise only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.analysis import policy
from ospo_survey.core.errors import MaturityError
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.core.yamlio import load_yaml
from ospo_survey.inference import estimate as E
from ospo_survey.ingest.dataset import load_harmonized
from ospo_survey.ingest.harmonize import panel_level
from ospo_survey.ingest.screen import describe, evaluate, inputs, measured
from ospo_survey.ingest.settings import available_years, year_settings

MODELS_PATH = PACKAGE_DIR / "maturity.yaml"
ASSIGN = ("highest", "cumulative")
COLUMNS = ["year", "model", "stage", "n", "base", "estimate", "ci_low", "ci_high"]
REPRODUCIBILITY_COLUMNS = [
    "year", "model", "respondents", "items", "errors", "cr", "perfect", "mmr", "scalability",
    "holds",
]
CR_THRESHOLD = 0.90  # Guttman's (1950) conventional threshold for a scale


@dataclass(frozen=True)
class Stage:
    """One rung: its name, its rule (None for the floor) and why."""

    name: str
    rule: dict[str, Any] | None
    why: str
    label: str = ""  # the stage in words, for pages (name is the key used in output)


@dataclass(frozen=True)
class Model:
    """A maturity model as ``maturity.yaml`` defines it."""

    key: str
    label: str
    source: str
    assign: str
    base: dict[str, Any]
    base_why: str
    stages: tuple[Stage, ...]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def rungs(self) -> list[Stage]:
        """The stages with a rule (the floor has none): the items of the Guttman scale."""
        return [s for s in self.stages if s.rule is not None]


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _parse(key: str, spec: Any) -> Model:
    where = f"{MODELS_PATH.name}: {key}"
    if not isinstance(spec, dict) or not isinstance(spec.get("stages"), list):
        raise MaturityError(f"{where}: needs a list of stages")
    assign = spec.get("assign", "highest")
    if assign not in ASSIGN:
        raise MaturityError(f"{where}: assign {assign!r} is not one of {', '.join(ASSIGN)}")
    if not isinstance(spec.get("base"), dict):
        raise MaturityError(f"{where}: needs a base condition")
    stages = []
    for i, st in enumerate(spec["stages"]):
        if not isinstance(st, dict) or not st.get("name") or not st.get("why"):
            raise MaturityError(f"{where}: stage {i + 1} needs a name and a why")
        if st.get("rule") is None and i > 0:
            raise MaturityError(f"{where}: stage {st['name']!r} has no rule (only the first may)")
        stages.append(Stage(str(st["name"]), st.get("rule"), _text(st["why"]),
                            _text(st.get("label") or st["name"])))
    if len({s.name for s in stages}) != len(stages):
        raise MaturityError(f"{where}: stage names repeat")
    return Model(key, _text(spec.get("label", key)), _text(spec.get("source")), assign,
                 spec["base"], _text(spec.get("base_why")), tuple(stages))


@cache
def models() -> dict[str, Model]:
    """Every model of ``maturity.yaml``, in file order."""
    data = load_yaml(MODELS_PATH)
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise MaturityError(f"{MODELS_PATH.name}: needs a `models:` mapping")
    return {str(k): _parse(str(k), v) for k, v in data["models"].items()}


def get_model(model: str | Model) -> Model:
    """A model by name; an unknown name raises one line naming the choices."""
    if isinstance(model, Model):
        return model
    known = models()
    if model not in known:
        close = get_close_matches(str(model), list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise MaturityError(
            f"unknown maturity model {model!r}{hint}: use one of {', '.join(known)}"
        )
    return known[model]


def rules(model: str | Model) -> pd.DataFrame:
    """The model's stages with their rules in words and their reasons (for pages and notebooks)."""
    m = get_model(model)
    rows = [{"model": m.key, "order": 0, "stage": "(base)", "rule": describe(m.base),
             "why": m.base_why}]
    rows += [
        {"model": m.key, "order": i, "stage": s.name,
         "rule": describe(s.rule) if s.rule is not None else "(floor: no rung's rule holds)",
         "why": s.why}
        for i, s in enumerate(m.stages, start=1)
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- placing respondents


@dataclass
class Placement:
    """One year's placement: stage codes (-1 = outside the base), rung criteria, what's unasked."""

    codes: np.ndarray
    base: np.ndarray
    criteria: pd.DataFrame  # one boolean column per measured rung
    unmeasured: list[str]


def _condition(cond: dict[str, Any], part: pd.DataFrame, where: str) -> np.ndarray:
    hit = evaluate(cond, None, part, where=where, source=MODELS_PATH.name)
    return hit.to_numpy(dtype=bool)


def place(part: pd.DataFrame, m: Model) -> Placement:
    """Stage codes for one year's rows (the rules are evaluated within the year)."""
    n = len(part)
    if not measured(m.base, part):
        empty = pd.DataFrame(index=part.index)
        return Placement(np.full(n, -1), np.zeros(n, bool), empty, m.names)
    base = _condition(m.base, part, f"{m.key} base")
    crit: dict[str, np.ndarray] = {}
    unmeasured = []
    for s in m.rungs:
        if measured(s.rule, part):
            crit[s.name] = _condition(s.rule, part, f"{m.key} stage {s.name}") & base
        else:
            unmeasured.append(s.name)
    floor = 0 if m.stages[0].rule is None else -1
    codes = np.where(base, floor, -1)
    alive = base.copy()
    for i, s in enumerate(m.stages):
        if s.name not in crit:
            continue  # the floor, or a stage not measured this year
        if m.assign == "cumulative":
            alive &= crit[s.name]
            codes[alive] = i
        else:
            codes[crit[s.name]] = i
    return Placement(codes, base, pd.DataFrame(crit, index=part.index), unmeasured)


def _by_year(frame: pd.DataFrame) -> Iterable[tuple[Any, pd.DataFrame]]:
    if "year" not in frame.columns:
        yield None, frame
        return
    yield from frame.groupby("year", sort=True, observed=True)


def stages(frame: pd.DataFrame, model: str | Model) -> pd.Series:
    """Each respondent's stage, an ordered categorical (NA = outside the model's base).

    ``frame`` holds harmonised rows (``load_harmonized``); rules are applied year by year, so a
    stage whose inputs a year did not ask is skipped in that year (``unmeasured``).
    """
    m = get_model(model)
    codes = pd.Series(-1, index=frame.index, dtype=np.int64)
    for _, part in _by_year(frame):
        codes.loc[part.index] = place(part, m).codes
    cat = pd.Categorical.from_codes(codes.to_numpy(), categories=m.names, ordered=True)
    return pd.Series(cat, index=frame.index, name=f"stage_{m.key}")


def unmeasured(frame: pd.DataFrame, model: str | Model) -> dict[Any, list[str]]:
    """Per year of ``frame``: the model's stages whose inputs that year did not ask."""
    m = get_model(model)
    return {y: place(part, m).unmeasured for y, part in _by_year(frame)}


# --------------------------------------------------------------------------- stage shares


def _years(years: Iterable[int] | None) -> list[int]:
    ys = sorted(int(year_settings(y)["year"]) for y in years) if years else available_years()
    return list(dict.fromkeys(ys))


def _check_by(by: str | None, frame: pd.DataFrame) -> None:
    if by is None or by in frame.columns:
        return
    close = get_close_matches(by, [str(c) for c in frame.columns], n=1)
    hint = f"; closest: {close[0]!r}" if close else ""
    raise MaturityError(
        f"--by {by!r} is not a harmonised variable{hint} (e.g. has_ospo, ospo_status, size3)"
    )


def _not_asked(m: Model, stage: str, part: pd.DataFrame) -> list[str]:
    rule = next(s.rule for s in m.stages if s.name == stage)
    return [c for c in inputs(rule) if c not in part.columns or part[c].isna().all()]


def _breaks(years: list[int]) -> list[str]:
    """The trend breaks of ``reports.yaml`` that fall between the years shown."""
    return [f"trend break between {b['after']} and {b['before']}: {_text(b['text'])}."
            for b in policy.spanned(years)]


def stage_shares(
    design: Any,
    model: str = "haddad",
    by: str | None = None,
    ci: E.CIMethod = "beta",
) -> pd.DataFrame:
    """Share of respondents at each stage, per year of ``design`` (a
    :class:`~ospo_survey.analysis.design.Survey`: its years, sample and weights) and ``by``
    group, with 95% intervals (the year pages' table; researchers use
    :meth:`Survey.maturity <ospo_survey.analysis.design.Survey.maturity>`).

    Columns ``year, model, [group,] stage, n, base, estimate, ci_low, ci_high``: ``n``
    respondents at the stage (unweighted), ``base`` respondents placed on the ladder, and the
    (weighted, if the design weights) share with its interval from
    :func:`ospo_survey.inference.estimate.proportions`. Shares sum to 1 within a year (and
    group). A stage not measured in a year has ``n`` and the estimate empty; the reasons, the
    weighting and the breaks between the years shown are in ``.attrs["notes"]``.
    """
    m = get_model(model)
    scheme, sample, ys = design.scheme, design.sample, list(design.years)
    frame = design.frame
    parts, notes = [], []
    for y in ys:
        part = frame[frame["year"] == y].reset_index(drop=True)
        _check_by(by, part)
        placed = place(part, m)
        if not measured(m.base, part):
            notes.append(f"{m.key}: not measured in {y} (its base's inputs were not asked).")
            continue
        cat = pd.Categorical.from_codes(placed.codes, categories=m.names, ordered=True)
        part = part.assign(stage=cat)
        info = design.weight_info[y]
        est = E.proportions(part, "stage", weights="weight", by=by, ci=ci)
        est.insert(0, "year", y)
        for stage in placed.unmeasured:
            gone = est["level"] == stage
            est.loc[gone, ["count", "estimate", "ci_low", "ci_high"]] = np.nan
            notes.append(
                f"{m.key} {stage}: not measured in {y} ({', '.join(_not_asked(m, stage, part))}"
                " not asked): respondents are placed by the stages that were asked, so the"
                f" year's other shares do not compare with years that measured {stage}."
            )
        if info.weighted:
            notes.extend(f"{y} weights ({info.scheme}): {t}" for t in info.notes)
        notes.extend(_small_bases(est, y, by))
        parts.append(est)
    if not parts:
        raise MaturityError(f"{m.key}: not measured in any of {', '.join(map(str, ys))}")
    est = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame(
        {
            "year": est["year"].astype(np.int64),
            "model": m.key,
            "stage": pd.Categorical(est["level"], categories=m.names, ordered=True),
            "n": est["count"].astype("Int64"),
            "base": est["n"].astype("Int64"),
            "estimate": est["estimate"].astype(float),
            "ci_low": est["ci_low"].astype(float),
            "ci_high": est["ci_high"].astype(float),
        }
    )
    if by is not None:
        out.insert(2, "group", est[by].array)  # a categorical keeps its level order
    keys = ["year", "group", "stage"] if by is not None else ["year", "stage"]
    out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    notes += _context_notes(ys, sample, scheme)
    out.attrs["notes"] = list(dict.fromkeys(notes))
    return out


def _small_bases(est: pd.DataFrame, year: int, by: str | None) -> list[str]:
    """Groups where some stage's effective sample size is under the estimators' floor."""
    small = est[est["suppressed"] & est["estimate"].notna()]
    if small.empty:
        return []
    groups = sorted({str(g) for g in small[by]}) if by is not None else []
    where = f"{year} ({by} = {', '.join(groups)})" if groups else str(year)
    return [f"{where}: effective sample size under 30 for some stages; read those with care."]


def _context_notes(ys: list[int], sample: str, scheme: str) -> list[str]:
    notes = [f"{sample} sample, {scheme}: an opt-in survey; shares describe its respondents."]
    for y in ys:
        channel = load_harmonized([y], sample=sample)["channel"]
        k = int((channel == panel_level()).sum())
        if k:
            notes.append(policy.panel_note(y, k, panel_level(), excluded=False))
    return notes + _breaks(ys)


# --------------------------------------------------------------------------- does the ladder hold?


def guttman(items: pd.DataFrame | np.ndarray) -> dict[str, float]:
    """Guttman scale statistics of a 0/1 respondents x items matrix, items in ladder order.

    A respondent's score ``s`` is the number of items passed; the cumulative pattern for that
    score passes exactly the first ``s`` items (Goodenough-Edwards error counting). ``errors``
    is the number of cells that differ from it, and

    * ``cr`` = 1 - errors / (respondents x items), Guttman's coefficient of reproducibility;
    * ``perfect`` = the share of respondents with no error (a perfectly cumulative pattern);
    * ``mmr`` = the mean over items of max(p, 1 - p), the minimal marginal reproducibility,
      which a CR near it does not exceed by much (Menzel 1953);
    * ``scalability`` = (cr - mmr) / (1 - mmr), Menzel's coefficient (0.60 is the usual bar).

    >>> guttman(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]]))["errors"]
    2.0
    """
    x = np.asarray(items, dtype=float)
    n, k = x.shape if x.ndim == 2 else (0, 0)
    if n == 0 or k == 0:
        return {"respondents": n, "items": k, "errors": np.nan, "cr": np.nan,
                "perfect": np.nan, "mmr": np.nan, "scalability": np.nan}
    score = x.sum(axis=1)
    ideal = (np.arange(k)[None, :] < score[:, None]).astype(float)
    wrong = (x != ideal).sum(axis=1)
    errors = float(wrong.sum())
    cr = 1 - errors / (n * k)
    p = x.mean(axis=0)
    mmr = float(np.maximum(p, 1 - p).mean())
    cs = (cr - mmr) / (1 - mmr) if mmr < 1 else np.nan
    return {"respondents": n, "items": k, "errors": errors, "cr": cr,
            "perfect": float((wrong == 0).mean()), "mmr": mmr, "scalability": cs}


def reproducibility(
    years: Iterable[int] | None = None, model: str = "haddad", sample: str = "harmonized"
) -> pd.DataFrame:
    """Whether the model's ladder is cumulative in the answers, per year (unweighted).

    Items are the stages with a rule that are measured that year, in the model's order (the
    floor is not an item); respondents are those in the model's base. :func:`guttman` gives the
    statistics; ``holds`` = ``cr >= 0.90``, the conventional threshold (Guttman 1950). A CR
    that holds with ``scalability`` well under 0.60 owes much to lopsided item shares. The
    statistics describe how the respondents' answers line up, so they are not weighted.
    """
    m = get_model(model)
    rows = []
    for y in _years(years):
        part = load_harmonized([y], sample=sample)
        placed = place(part, m)
        items = placed.criteria[placed.base]
        rows.append({"year": y, "model": m.key, **guttman(items.to_numpy())})
    out = pd.DataFrame(rows, columns=REPRODUCIBILITY_COLUMNS[:-1])
    out["respondents"] = out["respondents"].astype(np.int64)
    out["items"] = out["items"].astype(np.int64)
    out["errors"] = out["errors"].astype("Int64")
    out["holds"] = out["cr"] >= CR_THRESHOLD
    return out
