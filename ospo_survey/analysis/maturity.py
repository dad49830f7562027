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
from ospo_survey.core.frames import share_attrs
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
    unmeasured = _unmeasured(part, m)
    if not measured(m.base, part):
        empty = pd.DataFrame(index=part.index)
        return Placement(np.full(n, -1), np.zeros(n, bool), empty, unmeasured)
    base = _condition(m.base, part, f"{m.key} base")
    crit = {s.name: _condition(s.rule, part, f"{m.key} stage {s.name}") & base
            for s in m.rungs if s.name not in unmeasured}
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
    return {y: _unmeasured(part, m) for y, part in _by_year(frame)}


def _unmeasured(part: pd.DataFrame, m: Model) -> list[str]:
    """The stages a year's rows cannot place (every stage when the base was not asked; else
    the rungs whose inputs were not asked): what :func:`place` skips, no rule evaluated."""
    if not measured(m.base, part):
        return list(m.names)
    return [s.name for s in m.rungs if not measured(s.rule, part)]


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
    return share_attrs(out, notes=list(dict.fromkeys(notes)))


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


# --------------------------------------------------------------------------- is the ladder a scale?

SCALE_COLUMNS = [
    "year", "model", "item", "order", "p", "item_H", "item_H_low", "item_H_high", "item_fit",
    "respondents", "measured_stages", "unmeasured", "H", "H_low", "H_high", "iio_checks",
    "iio_violations", "cr", "verdict", "reason",
]


@dataclass(frozen=True)
class ScalingRules:
    """How a ladder is read as a scale: ``maturity.yaml``'s ``scaling`` section."""

    classes: tuple[tuple[str, float], ...]  # (name, lower bound of H), strongest first
    item_min: float
    min_items: int
    interval: float
    resamples: int
    seed: int
    iio_minvi: float
    iio_alpha: float

    @property
    def scale_min(self) -> float:
        """The weakest class's bound: under it, no scale."""
        return self.classes[-1][1]


@cache
def scaling_rules() -> ScalingRules:
    """``maturity.yaml``'s ``scaling`` rules (Mokken 1971; Sijtsma & Molenaar 2002), checked."""
    spec = load_yaml(MODELS_PATH).get("scaling")
    where = f"{MODELS_PATH.name}: scaling"
    try:
        classes = tuple((str(c["name"]), float(c["min"])) for c in spec["classes"])
        rules_ = ScalingRules(
            classes, float(spec["item_min"]), int(spec["min_items"]), float(spec["interval"]),
            int(spec["resamples"]), int(spec["seed"]), float(spec["iio_minvi"]),
            float(spec["iio_alpha"]),
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise MaturityError(
            f"{where}: needs classes (name, min), item_min, min_items, interval, resamples, "
            f"seed, iio_minvi and iio_alpha ({exc!r} is missing or not a number)"
        ) from None
    bounds = [b for _, b in classes]
    if not classes or bounds != sorted(bounds, reverse=True):
        raise MaturityError(f"{where}: classes must run from the highest bound down")
    if not 0 < rules_.interval < 1 or rules_.resamples < 1 or rules_.min_items < 2:
        raise MaturityError(f"{where}: interval in (0, 1), resamples >= 1, min_items >= 2")
    return rules_


@dataclass(frozen=True)
class Loevinger:
    """Loevinger's scalability coefficients of dichotomous items (one sample or many).

    ``H`` for the item set, ``item_H`` (H_j) per item, ``pair_H`` (H_ij) per item pair and
    ``p`` the items' popularities; leading axes are resamples when computed from many count
    vectors. An item that everyone or no one passed has no H_j (NaN).
    """

    H: np.ndarray
    item_H: np.ndarray
    pair_H: np.ndarray
    p: np.ndarray


def _loevinger_counts(patterns: np.ndarray, counts: np.ndarray) -> Loevinger:
    """Coefficients from response patterns (P x k, 0/1) and their counts (B x P)."""
    z = patterns.astype(float)
    c = np.atleast_2d(counts).astype(float)
    n = c.sum(axis=1)[:, None]
    p = (c @ z) / n
    both = np.einsum("bq,qi,qj->bij", c, z, z) / n[:, :, None]
    cov = both - p[:, :, None] * p[:, None, :]
    covmax = np.minimum(p[:, :, None], p[:, None, :]) - p[:, :, None] * p[:, None, :]
    k = z.shape[1]
    off = ~np.eye(k, dtype=bool)
    cov, covmax = np.where(off, cov, 0.0), np.where(off, covmax, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pair = np.where(off & (covmax > 0), cov / np.where(covmax > 0, covmax, 1), np.nan)
        item = np.where(covmax.sum(axis=2) > 0, cov.sum(axis=2) / covmax.sum(axis=2), np.nan)
        tot = covmax.sum(axis=(1, 2))
        h = np.where(tot > 0, cov.sum(axis=(1, 2)) / np.where(tot > 0, tot, 1), np.nan)
    return Loevinger(h, item, pair, p)


def loevinger(items: pd.DataFrame | np.ndarray) -> Loevinger:
    """Loevinger's H, H_j and H_ij of a 0/1 respondents x items matrix (Mokken scaling).

    For two items i, j with i the more popular, a Guttman error is failing i but passing j;
    H_ij = 1 - observed errors / errors expected if the items were independent
    (n (1 - p_i) p_j), which equals cov_ij / max cov_ij given the margins. H_j and H pool
    the errors over item j's pairs and over all pairs. Unweighted, as Mokken scaling is.

    >>> h = loevinger(np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]]))
    >>> float(h.H)
    1.0
    """
    x = np.asarray(items, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        k = x.shape[1] if x.ndim == 2 else 0
        return Loevinger(np.array(np.nan), np.full(k, np.nan), np.full((k, k), np.nan),
                         x.mean(axis=0) if x.ndim == 2 and len(x) else np.full(k, np.nan))
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    got = _loevinger_counts(patterns, counts)
    return Loevinger(got.H[0], got.item_H[0], got.pair_H[0], got.p[0])


def bootstrap_loevinger(
    items: pd.DataFrame | np.ndarray, resamples: int, seed: int
) -> Loevinger:
    """H, H_j and H_ij in ``resamples`` bootstrap resamples of the respondents (rows).

    Resampling n respondents with replacement is a multinomial draw over the observed
    response patterns (at most 2^k of them), so the resamples are drawn as pattern counts: the
    same distribution as resampling rows, at a fraction of the cost. ``seed`` fixes the draws:
    the same data and seed give the same resamples.
    """
    x = np.asarray(items, dtype=float)
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=resamples)
    return _loevinger_counts(patterns, draws)


def _minsize(n: int) -> int:
    """mokken's default minimum rest-score group size (check.restscore, check.iio)."""
    if n >= 500:
        return n // 10
    if n >= 250:
        return n // 5
    return max(n // 3, 50)


def _rest_groups(rest: np.ndarray, minsize: int) -> np.ndarray:
    """Join adjacent rest scores into groups of at least ``minsize`` respondents (the last
    short group joins the one before): a group id per respondent."""
    values, counts = np.unique(rest, return_counts=True)
    gid, size, ids = 0, 0, []
    for c in counts:
        ids.append(gid)
        size += c
        if size >= minsize:
            gid, size = gid + 1, 0
    ids_arr = np.array(ids)
    if size and gid > 0:  # the top group is short: join it to the one below
        ids_arr[ids_arr == gid] = gid - 1
    return ids_arr[np.searchsorted(values, rest)]


def iio_violations(
    items: pd.DataFrame | np.ndarray, minvi: float = 0.03, alpha: float = 0.05
) -> tuple[int, int]:
    """Manifest invariant item ordering of 0/1 items: (checks, significant violations).

    For each item pair, i the more popular overall, respondents are grouped by their rest
    score (the sum of the other items, groups joined up to mokken's minimum size); in each
    group where j is passed more often than i by more than ``minvi``, a one-sided exact
    McNemar test on the discordant respondents (c of them pass j only, b pass i only; under
    the ordering c ~ Binomial(b + c, 1/2) at worst) counts a violation when p < ``alpha``
    (Ligtvoet, van der Ark, te Marvelde & Sijtsma 2010, method MIIO).

    >>> iio_violations(np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]] * 30))
    (4, 0)
    """
    from scipy.special import bdtrc

    x = np.asarray(items, dtype=float)
    n, k = x.shape
    if n == 0 or k < 2:
        return 0, 0
    p = x.mean(axis=0)
    order = sorted(range(k), key=lambda j: (-p[j], j))
    total = x.sum(axis=1)
    minsize = _minsize(n)
    checks = violations = 0
    for a in range(k):
        for b in range(a + 1, k):
            i, j = order[a], order[b]  # i at least as popular as j
            groups = _rest_groups(total - x[:, i] - x[:, j], minsize)
            for g in np.unique(groups):
                rows = groups == g
                checks += 1
                xi, xj = x[rows, i], x[rows, j]
                if xj.mean() - xi.mean() <= minvi:
                    continue
                only_j = int(((xj == 1) & (xi == 0)).sum())
                only_i = int(((xi == 1) & (xj == 0)).sum())
                if bdtrc(only_j - 1, only_i + only_j, 0.5) < alpha:  # P(X >= only_j)
                    violations += 1
    return checks, violations


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def scale_verdict(low: float, high: float, rules_: ScalingRules | None = None) -> str:
    """The scale's class read off its interval (``maturity.yaml`` ``scaling``): the strongest
    class whose bound the lower end clears, "not a scale" when the upper end is under the
    weakest bound, "unclear" when the interval straddles it.

    >>> scale_verdict(0.52, 0.63), scale_verdict(0.25, 0.41), scale_verdict(0.05, 0.2)
    ('strong scale', 'unclear', 'not a scale')
    """
    r = rules_ or scaling_rules()
    for name, bound in r.classes:
        if low >= bound:
            return name
    return "not a scale" if high < r.scale_min else "unclear"


def item_fit(low: float, high: float, rules_: ScalingRules | None = None) -> str:
    """Whether a stage fits the ladder, read off its H_j interval: "fits", "does not fit" or
    "unclear" (against ``item_min``); "" when it has no H_j."""
    r = rules_ or scaling_rules()
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    return "fits" if low >= r.item_min else "does not fit" if high < r.item_min else "unclear"


def _scale_rows(year: int, m: Model, part: pd.DataFrame, r: ScalingRules) -> list[dict]:
    """One row per measured stage (or one empty row) for one year of one model."""
    stage_order = {s.name: i for i, s in enumerate(m.stages)}
    common = {"year": year, "model": m.key}
    if not measured(m.base, part):
        return [{**common, "item": None, "measured_stages": 0, "unmeasured": ", ".join(m.names),
                 "respondents": 0, "verdict": None,
                 "reason": f"not measured in {year}: the base's inputs were not asked"}]
    placed = place(part, m)
    x = placed.criteria[placed.base].to_numpy(dtype=float)
    names = list(placed.criteria.columns)
    n, k = x.shape
    gone = ", ".join(placed.unmeasured)
    point = loevinger(x)
    boot = bootstrap_loevinger(x, r.resamples, r.seed) if n and k >= 2 else None
    h_low, h_high = _interval(boot.H, r.interval) if boot is not None else (np.nan, np.nan)
    checks, viol = iio_violations(x, r.iio_minvi, r.iio_alpha) if k >= 2 else (0, 0)
    if k < r.min_items:
        verdict = None
        reason = (f"only {k} stage(s) measured in {year} ({gone} not asked): a scale needs "
                  f"at least {r.min_items}")
    elif not np.isfinite(h_low):
        verdict, reason = None, f"no respondent varies on the stages in {year}"
    else:
        verdict = scale_verdict(h_low, h_high, r)
        reason = (f"H {r.interval:.0%} interval {h_low:.3f}-{h_high:.3f} "
                  f"({r.resamples} bootstrap resamples of {n} respondents)")
    scale = {"respondents": n, "measured_stages": k, "unmeasured": gone,
             "H": float(point.H), "H_low": h_low, "H_high": h_high, "iio_checks": checks,
             "iio_violations": viol, "cr": guttman(x)["cr"], "verdict": verdict,
             "reason": reason}
    rows = []
    for j, name in enumerate(names):
        lo, hi = (_interval(boot.item_H[:, j], r.interval) if boot is not None
                  else (np.nan, np.nan))
        rows.append({**common, "item": name, "order": stage_order[name],
                     "p": float(point.p[j]), "item_H": float(point.item_H[j]),
                     "item_H_low": lo, "item_H_high": hi, "item_fit": item_fit(lo, hi, r),
                     **scale})
    return rows


def scalability(
    design: Any, model: str | Model = "haddad", years: Iterable[int] | None = None
) -> pd.DataFrame:
    """Whether a model's stages form a cumulative scale, per year: Mokken scaling.

    ``design`` is a :class:`~ospo_survey.analysis.design.Survey` (its respondents: its sample,
    subset and exclusions; weights are not used: the coefficients describe how the respondents'
    answers line up, unweighted as Mokken scaling is); ``years`` a subset of its years.
    Items are the stages with a rule measured that year, each reached (1) or not (0), over the
    respondents in the model's base.

    One row per year and measured stage (``item``; one row with no item when the model's base
    was not asked). Stage columns: ``order`` (position in the model), ``p`` (share reaching
    it), ``item_H`` with its bootstrap interval and ``item_fit``. Year columns, repeated:
    ``respondents``, ``measured_stages``, ``unmeasured`` (stages not asked), ``H`` with
    ``H_low``/``H_high``, ``iio_checks``/``iio_violations`` (:func:`iio_violations`), ``cr``
    (Guttman's CR, secondary), ``verdict`` (:func:`scale_verdict`; missing when fewer than
    ``min_items`` stages were measured) and ``reason``. Rules: ``maturity.yaml`` ``scaling``.

    >>> from ospo_survey.analysis.design import Survey
    >>> t = scalability(Survey(2024), "todo5")
    >>> row = t.iloc[0]
    >>> row["item"], int(row["measured_stages"]), row["verdict"]
    ('ecosystem_participation', 2, None)
    """
    m = get_model(model)
    r = scaling_rules()
    ys = list(design.years) if years is None else [int(y) for y in years]
    missing = sorted(set(ys) - {int(y) for y in design.years})
    if missing:
        raise MaturityError(
            f"years {', '.join(map(str, missing))} are not in the design "
            f"({', '.join(map(str, design.years))}): build the Survey with them"
        )
    frame = design.frame
    needed = {"year", *inputs(m.base), *(c for st in m.rungs for c in inputs(st.rule))}
    frame = frame[[c for c in frame.columns if c in needed]]  # narrow: years split fast
    rows: list[dict] = []
    for y in sorted(dict.fromkeys(ys)):
        part = frame[frame["year"] == y].reset_index(drop=True)
        rows += _scale_rows(y, m, part, r)
    out = pd.DataFrame(rows, columns=SCALE_COLUMNS)
    for col in ("order", "respondents", "measured_stages", "iio_checks", "iio_violations"):
        out[col] = out[col].astype("Int64")
    out["year"] = out["year"].astype(np.int64)
    out["verdict"] = out["verdict"].astype(object).where(out["verdict"].notna(), None)
    return out
