"""Research reports: what each page says (computed here, tested here).

The report notebooks (``notebooks/report.ipynb``, ``notebooks/trends.ipynb``) are thin: each
cell calls one method of :class:`YearReport` or :class:`TrendsReport`, which returns an
:class:`~ospo_survey.plotting.Html` fragment (headings, sentences with the numbers filled in,
charts with alt text, tables). A section or chart whose question a year did not ask returns an
empty fragment, so it leaves nothing on the page.

Building (``ospo-survey report 2024`` / ``make reports``) lives in :mod:`ospo_survey.site`
(re-exported here): :func:`build_page` executes the notebook with papermill in a kernel, strips
everything that differs between runs (timestamps, durations, cell ids, execution counts, widget
state, stderr), renders it with nbconvert's HTML exporter and the ``ospo`` template (inputs
hidden, inline CSS, images embedded, no script or stylesheet fetched from anywhere) and writes
it atomically. :func:`build_index` writes the front page from the small ``summary.json`` each
page run leaves next to its page.
"""

from __future__ import annotations

import html
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from . import answers as A
from . import plotting as P
from .paths import PACKAGE_DIR
from .settings import load_yaml
from .site import MAX_PAGE_BYTES as MAX_PAGE_BYTES
from .site import PAGE_KINDS as PAGE_KINDS
from .site import Progress as Progress
from .site import ReportError as ReportError
from .site import build_index as build_index
from .site import build_page as build_page
from .site import clean_notebook as clean_notebook
from .site import execute_notebook as execute_notebook
from .site import page_path as page_path
from .site import render_html as render_html
from .site import write_atomic as write_atomic
from .site import write_summary as write_summary
from .site import years_span

CONFIG_PATH = PACKAGE_DIR / "reports.yaml"
MIN_N_EFF = 30
DONT_KNOW = ("don't know",)
NOT_WEIGHTED = ("none", "unweighted")
HAS_LEVELS = ("has (formal)", "has (informal)", "has (formality unknown)")
UNWEIGHTED_LABEL = "unweighted"
WEIGHTED_LABEL = "reference-weighted"


@cache
def config() -> dict[str, Any]:
    """Sections, topics, trend notes and publisher headlines (``reports.yaml``)."""
    return load_yaml(CONFIG_PATH)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _h(level: int, text: str, anchor: str | None = None) -> str:
    ident = f' id="{_esc(anchor)}"' if anchor else ""
    return f"<h{level}{ident}>{_esc(text)}</h{level}>"


def _p(text: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<p{c}>{text}</p>"


_LONG_ID = re.compile(r"(?<!\d)\d{9,12}(?!\d)")


def _no_ids(text: Any) -> str:
    """Codebook prose with SurveyMonkey collector/respondent ids withheld (never published)."""
    return _LONG_ID.sub("[id withheld]", " ".join(str(text).split()))


def _round(x: Any, digits: int = 4) -> Any:
    """JSON-safe, platform-stable numbers (NaN/inf become null)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    if not math.isfinite(f):
        return None
    return round(f, digits)


# =========================================================================== weighting


@dataclass
class WeightInfo:
    """Respondent weights (mean 1) and how they were made, for estimates and the methods."""

    scheme: str
    weights: pd.Series
    margins: dict[str, dict[Any, float]] = field(default_factory=dict)
    description: str = "Every respondent counts once."
    source: str = ""
    diagnostics: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def weighted(self) -> bool:
        return bool(self.margins)

    @property
    def n(self) -> int:
        return int(len(self.weights))

    @property
    def n_eff(self) -> float:
        w = self.weights.to_numpy(dtype=float)
        return float(w.sum() ** 2 / np.dot(w, w)) if len(w) and np.dot(w, w) > 0 else 0.0

    @property
    def deff(self) -> float:
        return self.n / self.n_eff if self.n_eff else math.nan


def scheme_name(scheme: str | None) -> str:
    """``none``/``unweighted``/None -> ``unweighted``; anything else is a scheme or YAML path."""
    return "unweighted" if scheme in (None, *NOT_WEIGHTED) else str(scheme)


def compute_weights(
    frame: pd.DataFrame, year: int, scheme: str = "reference", sample: str = "harmonized"
) -> WeightInfo:
    """One year's weights under a scheme (:mod:`ospo_survey.schemes`), aligned to ``frame``.

    ``frame`` holds the year's ``sample`` rows (with ``row_id``). The scheme's own weights are
    used; where the sample has a level the targets do not cover (the self-employed, kept by
    the publisher's 2018-2021 samples), those respondents keep their observed share like
    unknown answers do, and the rest is raked the same way.
    """
    from . import schemes as S
    from .errors import TargetsError

    scheme = scheme_name(scheme)
    ones = pd.Series(1.0, index=frame.index, name="weight")
    spec = S.targets(scheme)
    if not spec.get("margins"):
        return WeightInfo("unweighted", ones)
    description = " ".join(str(spec.get("description", "")).split())
    source = str(spec.get("source", ""))
    try:
        yw = S.year_weights(int(year), scheme, sample)
    except TargetsError as exc:
        return _rake_outside_targets(frame, year, scheme, spec, str(exc))
    by_id = pd.Series(yw.weights.to_numpy(), index=yw.frame["row_id"].astype(str).to_numpy())
    w = frame["row_id"].astype(str).map(by_id).astype(float)
    if w.isna().any():
        raise ReportError(f"{year}: weights do not cover every respondent of the {sample} sample")
    notes = [
        f"{var}: {100 * m[S.MISSING]:.1f}% unknown or missing; they keep their observed share."
        for var, m in yw.margins.items()
        if S.MISSING in m
    ]
    absent = [v for v in spec["margins"] if v not in yw.margins]
    notes += [f"{v}: not asked in {year}; not used." for v in absent]
    return WeightInfo(scheme, w.rename("weight"), yw.margins, description, source,
                      yw.diagnostics, notes)


def _rake_outside_targets(
    frame: pd.DataFrame, year: int, scheme: str, spec: Mapping[str, Any], why: str
) -> WeightInfo:
    """The scheme's raking when some answers have no target: those count as unknown."""
    from . import schemes as S
    from . import weights as W

    margins: dict[str, dict[Any, float]] = {}
    columns: dict[str, pd.Series] = {}
    notes: list[str] = []
    for var, shares in spec["margins"].items():
        col = frame[var].astype(object)
        if col.isna().all():
            notes.append(f"{var}: not asked in {year}; not used.")
            continue
        known = col.notna() & col.isin(list(shares)) & ~col.isin(S.UNKNOWN_LEVELS)
        outside = sorted({str(v) for v in col[col.notna() & ~col.isin(list(shares))]}
                         - set(S.UNKNOWN_LEVELS))
        if outside:
            n_out = int(col.isin(outside).sum())
            notes.append(
                f"{var}: {', '.join(outside)} ({n_out:,} respondents) has no reference target; "
                "they keep their observed share, like unknown answers."
            )
        miss = float((~known).mean())
        total = sum(shares.values())
        margins[var] = {lv: sh / total * (1 - miss) for lv, sh in shares.items()}
        if miss > 0:
            margins[var][S.MISSING] = miss
        columns[var] = col.where(known, S.MISSING)
    data = pd.DataFrame(columns, index=frame.index)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = W.weight(data, margins, tol=1e-8, max_iter=500, trim={"max_ratio": 8.0})
    notes.extend(" ".join(str(c.message).split()) for c in caught)
    w = result.weights.reindex(frame.index).astype(float).rename("weight")
    return WeightInfo(scheme, w, margins, " ".join(str(spec.get("description", "")).split()),
                      str(spec.get("source", "")), result.diagnostics, notes)


# =========================================================================== estimates


def _estimate(
    df: pd.DataFrame,
    variable: str,
    *,
    weights: str | None,
    by: str | None = None,
    levels: list[Any] | None = None,
    min_n_eff: float = MIN_N_EFF,
) -> pd.DataFrame:
    from . import estimate as E

    return E.proportions(
        df, variable, weights=weights, by=by, levels=levels, ci="wilson", min_n_eff=min_n_eff
    )


def _multi(
    df: pd.DataFrame, columns: Mapping[str, str], *, weights: str | None, name: str,
    min_n_eff: float = MIN_N_EFF,
) -> pd.DataFrame:
    from . import estimate as E

    return E.multi_proportions(
        df, dict(columns), name=name, weights=weights, ci="wilson", min_n_eff=min_n_eff
    )


def _flag_series(values: pd.Series, hit: pd.Series) -> pd.Series:
    """A yes/no categorical: yes where ``hit``, no where answered otherwise, NaN unanswered."""
    out = np.where(values.isna(), None, np.where(hit.fillna(False), "yes", "no"))
    return pd.Series(pd.Categorical(out, categories=["yes", "no"]), index=values.index)


@cache
def answers_of(year: int, qid: str, how: str) -> Any:
    """``answers.single / multiple / matrix`` of one question, computed once per process
    (the one-hot decoding is the slowest step of a page)."""
    from .dataset import year_data

    survey = year_data(int(year)).survey
    return {"single": A.single, "multiple": A.multiple, "matrix": A.matrix}[how](survey, qid)


def find_question(year: int, patterns: Iterable[str]) -> str | None:
    """The first non-text question of ``year`` whose wording matches one of ``patterns``."""
    from .dataset import year_data

    survey = year_data(year).survey
    q = survey.questions
    q = q[(q["kind"] != "meta") & (q["qid"].astype(str) != "")]
    pats = [re.compile(p, re.IGNORECASE) for p in patterns]
    for qid, text in q.drop_duplicates("qid")[["qid", "question"]].itertuples(index=False):
        if any(p.search(str(text)) for p in pats) and A.kind(survey, qid) != "text":
            return qid
    return None


def _question_text(year: int, qid: str) -> str:
    from .dataset import year_data

    q = year_data(year).survey.question(qid)
    return str(q["question"].iloc[0])


def variable_levels(var: str) -> dict[str, str]:
    """Labels of a harmonised multi variable's options (journey stages)."""
    from .codebook import definitions

    spec = definitions()[var]
    return dict(spec.get("options", {}))


def _drop_empty_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """Leave out levels nobody chose (e.g. 'don't know' in a year that did not offer it)."""
    if "count" in frame.columns:
        return frame[frame["count"] > 0].reset_index(drop=True)
    return frame


# =========================================================================== headline rules


def _condition(cond: Mapping[str, Any], yd: Any, where: str) -> pd.Series:
    """Evaluate a headline condition on one year's respondents (all rows, raw order)."""
    survey = yd.survey
    idx = survey.responses.index
    if "all" in cond and "ticked" not in cond:
        out = pd.Series(True, index=idx)
        for c in cond["all"]:
            out &= _condition(c, yd, where)
        return out
    if "any" in cond and "ticked" not in cond:
        out = pd.Series(False, index=idx)
        for c in cond["any"]:
            out |= _condition(c, yd, where)
        return out
    if "not" in cond:
        return ~_condition(cond["not"], yd, where)
    if "flag" in cond:
        return yd.harmonized[cond["flag"]].astype(bool)
    if "matrix" in cond:
        frame = answers_of(yd.year, cond["matrix"], "matrix")
        row = _match(list(frame.columns), cond["row"], f"{where}: row of {cond['matrix']}")
        values = frame[row]
        if "in" not in cond:
            return values.notna()
        known = [str(c) for c in values.cat.categories]
        wanted = [_match(known, w, f"{where}: answer") for w in cond["in"]]
        return values.astype(object).isin(wanted).fillna(False).astype(bool)
    if "answer" in cond:
        values = answers_of(yd.year, cond["answer"], "single")
        known = [str(c) for c in values.cat.categories]
        wanted = [_match(known, w, f"{where}: answer of {cond['answer']}") for w in cond["in"]]
        return values.astype(object).isin(wanted).fillna(False).astype(bool)
    if "ticked" in cond:
        frame = answers_of(yd.year, cond["ticked"], "multiple")
        hits = [_match(list(frame.columns), w, f"{where}: option of {cond['ticked']}")
                for w in cond["any"]]
        return frame[hits].fillna(False).any(axis=1).astype(bool)
    from .screen import evaluate  # answered, harmonized, column ... (cheap conditions)

    return evaluate(dict(cond), survey, yd.harmonized, where).astype(bool)


def _match(known: list[str], label: str, where: str) -> str:
    from .read import _key

    by_key = {_key(k): k for k in known}
    hit = by_key.get(_key(str(label)))
    if hit is None:
        raise ReportError(f"{CONFIG_PATH.name}: {where}: {label!r} not found (have: {known[:8]})")
    return hit


def _sample_mask(yd: Any, sample: str) -> pd.Series:
    flags = yd.harmonized
    if sample == "all":
        return pd.Series(True, index=flags.index)
    if sample == "company_level":
        return flags["publisher_sample"].astype(bool) & flags["company_level"].astype(bool)
    return flags[f"{sample}_sample"].astype(bool)


def _rule_share(year: int, rule: Mapping[str, Any], weights: pd.Series | None, where: str):
    from .dataset import year_data

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


def _describe(cond: Any) -> str:
    """A readable one-line form of a condition, for the rule column."""
    if not isinstance(cond, Mapping):
        return str(cond)
    if "all" in cond and "ticked" not in cond:
        return " and ".join(_describe(c) for c in cond["all"]) or "everyone"
    if "any" in cond and "ticked" not in cond:
        return "(" + " or ".join(_describe(c) for c in cond["any"]) + ")"
    if "not" in cond:
        return f"not {_describe(cond['not'])}"
    if "answered" in cond:
        return f"answered {cond['answered']}"
    if "answer" in cond:
        return f"{cond['answer']} ∈ {{{'; '.join(map(str, cond['in']))}}}"
    if "ticked" in cond:
        return f"ticked {cond['ticked']} ∈ {{{'; '.join(map(str, cond['any']))}}}"
    if "harmonized" in cond:
        return f"{cond['harmonized']} ∈ {{{'; '.join(map(str, cond['in']))}}}"
    if "matrix" in cond:
        if "in" in cond:
            return f"{cond['matrix']} “{cond['row']}” ∈ {{{'; '.join(map(str, cond['in']))}}}"
        return f"answered {cond['matrix']} “{cond['row']}”"
    if "flag" in cond:
        return cond["flag"]
    return json.dumps(cond, sort_keys=True, ensure_ascii=False)


def _half_up(x: float) -> int:
    """Round half away from zero, as published percentages are (62.5% -> 63%)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def headline_table(year: int, weights: pd.Series | None = None) -> pd.DataFrame:
    """The publisher's headline figures for ``year`` beside ours (same rule), and the rule."""
    from .dataset import year_data

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
        reproduced = bool(_half_up(shown) == _half_up(published)) if math.isfinite(shown) else False
        rows.append(
            {
                "claim": rule["claim"],
                "unit": unit,
                "published": published,
                "ours": shown,
                "weighted": wours,
                "reproduced": reproduced,
                "rule": text,
                "note": " ".join(str(rule.get("note", "")).split()),
            }
        )
    cols = ["claim", "unit", "published", "ours", "weighted", "reproduced", "rule", "note"]
    return pd.DataFrame(rows, columns=cols)


# =========================================================================== yearly report


class YearReport:
    """Everything one yearly page shows, computed from the package's data."""

    def __init__(
        self,
        year: int,
        weights: str = "reference",
        *,
        sample: str = "publisher",
        min_n_eff: float = MIN_N_EFF,
    ) -> None:
        from .dataset import year_data

        self.year = int(year)
        self.scheme = weights
        self.sample = sample
        self.min_n_eff = float(min_n_eff)
        self.yd = year_data(self.year)
        mask = _sample_mask(self.yd, sample)
        self.frame = self.yd.harmonized[mask].copy()
        self.winfo = compute_weights(self.frame, self.year, weights, sample)
        self.frame["_w"] = self.winfo.weights
        self.wcol = "_w" if self.winfo.weighted else None
        self._topics: dict[str, tuple[pd.DataFrame, dict[str, Any]] | None] = {}
        self._findings: list[dict[str, Any]] | None = None
        self._headlines: pd.DataFrame | None = None
        self._adoption: dict[bool, pd.DataFrame] = {}

    # ------------------------------------------------------------------ helpers

    @property
    def n(self) -> int:
        return int(len(self.frame))

    @property
    def weight_label(self) -> str:
        return WEIGHTED_LABEL if self.winfo.weighted else UNWEIGHTED_LABEL

    def asked(self, var: str) -> bool:
        return var in self.frame.columns and bool(self.frame[var].notna().any())

    def estimate(self, var: str, *, by: str | None = None, weighted: bool = True,
                 levels: list[Any] | None = None) -> pd.DataFrame:
        """Tidy shares of a harmonised variable in this report's sample (weighted by default)."""
        return _estimate(self.frame, var, weights=self.wcol if weighted else None, by=by,
                         levels=levels, min_n_eff=self.min_n_eff)

    def adoption_by(self, by: str) -> pd.DataFrame:
        """Share with an OSPO per level of a harmonised variable (label column = level)."""
        if not (self.asked("has_ospo") and self.asked(by)):
            return pd.DataFrame()
        est = self.estimate("has_ospo", by=by)
        out = est[(est["level"] == "has") & (est["n"] > 0)].copy()
        out["label"] = out[by].astype(str)
        return out.reset_index(drop=True)

    def _chart(self, frame: pd.DataFrame, title: str, *, label: str = "level", sort=False,
               caption: str = "", xlabel: str = "Share of respondents (%)"
               ) -> P.Chart | P.Html | None:
        if frame is None or frame.empty or int(frame["n"].max()) == 0:
            return None
        if frame["suppressed"].astype(bool).all():
            return P.Html([_p(f"<strong>{_esc(title)}</strong>: too few answers to show "
                              f"(n = {int(frame['n'].max()):,}; every estimate's effective n is "
                              f"below {self.min_n_eff:g}).", "note")], title)
        cap = (caption + " " if caption else "") + f"Estimates {self.weight_label}."
        return P.bar_ci(frame, title=title, label=label, sort=sort, caption=cap,
                        min_n_eff=self.min_n_eff, xlabel=xlabel)

    # ------------------------------------------------------------------ topics

    def topic(self, key: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """Estimates for one configured topic, or None when the year did not ask it."""
        if key not in self._topics:
            self._topics[key] = self._topic(key)
        return self._topics[key]

    def _topic(self, key: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        spec = config()["topics"][key]
        meta: dict[str, Any] = {"key": key, "title": spec["title"], "noun": spec.get("noun", "")}
        base = self.frame[["_w"]].copy()
        if "harmonized" in spec:
            var = spec["harmonized"]
            if not self.asked(var):
                return None
            among = list(spec.get("among", []))
            col = self.frame[var].astype(object)
            values = col.where(col.isin(among)) if among else col
            base["_v"] = pd.Categorical(values, categories=among or None)
            est = _estimate(base, "_v", weights=self.wcol, levels=among or None,
                            min_n_eff=self.min_n_eff)
            meta.update(kind="single", qid=var, question=f"harmonised variable {var}")
        else:
            qid = find_question(self.year, spec["match"])
            if qid is None:
                return None
            survey = self.yd.survey
            kind = A.kind(survey, qid)
            meta.update(qid=qid, question=_question_text(self.year, qid), kind=kind)
            if kind == "single":
                base["_v"] = answers_of(self.year, qid, "single").reindex(base.index)
                est = _estimate(base, "_v", weights=self.wcol, min_n_eff=self.min_n_eff)
            elif kind == "multiple":
                m = answers_of(self.year, qid, "multiple").reindex(base.index)
                cols = {}
                for i, opt in enumerate(m.columns):
                    base[f"_o{i}"] = m[opt]
                    cols[str(opt)] = f"_o{i}"
                est = _multi(base, cols, weights=self.wcol, name=qid, min_n_eff=self.min_n_eff)
                meta["sort"] = True
            elif kind == "matrix" and spec.get("top"):
                m = answers_of(self.year, qid, "matrix").reindex(base.index)
                tops = [re.compile(t, re.IGNORECASE) for t in spec["top"]]
                parts = []
                for row in m.columns:
                    vals = m[row].astype(object)
                    hit = vals.map(lambda v: isinstance(v, str) and any(t.search(v) for t in tops))
                    base["_v"] = _flag_series(vals, hit.astype(bool))
                    e = _estimate(base, "_v", weights=self.wcol, levels=["yes", "no"],
                                  min_n_eff=self.min_n_eff)
                    e = e[e["level"] == "yes"].copy()
                    e["level"] = str(row)
                    parts.append(e)
                est = pd.concat(parts, ignore_index=True)
                est = est[est["n"] > 0]  # rows nobody answered (e.g. an "other" row)
                meta["sort"] = True
                scale = [str(c) for c in m[m.columns[0]].cat.categories] if len(m.columns) else []
                chosen = [c for c in scale if any(t.search(c) for t in tops)]
                meta["top_label"] = "answering " + " or ".join(f"“{c}”" for c in chosen)
            else:
                return None
        if est.empty or int(est["n"].max()) == 0:
            return None
        if meta.get("kind") == "single" and "harmonized" in spec:
            est = _drop_empty_levels(est)
        return est.reset_index(drop=True), meta

    def topic_chart(self, key: str) -> P.Chart | P.Html | None:
        got = self.topic(key)
        if got is None:
            return None
        est, meta = got
        qid = meta.get("qid", "")
        if "harmonized" in config()["topics"][key]:
            cap = f"Harmonised variable {_esc(qid)}."
        else:
            cap = f"Question {_esc(qid)}: “{_esc(meta.get('question', ''))}”"
        if meta.get("kind") == "multiple":
            cap += " Share of those answering who ticked each option."
        if meta.get("top_label"):
            cap += f" Share {_esc(meta['top_label'])}, per row (base: those answering the row)."
        return self._chart(est, f"{meta['title']} ({self.year})", sort=meta.get("sort", False),
                           caption=cap.strip())

    def section(self, key: str) -> P.Html:
        """One configured section (heading, intro, a chart per asked topic), or nothing."""
        spec = config()["sections"][key]
        charts = [self.topic_chart(t) for t in spec["topics"]]
        charts = [c for c in charts if c is not None]
        out = P.Html(label=key)
        if not charts:
            return out
        out.add(_h(2, spec["title"], key), _p(_esc(" ".join(spec.get("intro", "").split()))))
        out.add(*charts)
        return out

    # ------------------------------------------------------------------ headline numbers

    def adoption(self, weighted: bool = True) -> pd.DataFrame:
        if not self.asked("has_ospo"):
            return pd.DataFrame()
        if weighted not in self._adoption:
            self._adoption[weighted] = self.estimate("has_ospo", weighted=weighted)
        return self._adoption[weighted]

    def _level(self, frame: pd.DataFrame, level: str, col: str = "level") -> pd.Series | None:
        hit = frame[frame[col] == level] if not frame.empty else frame
        return None if hit.empty else hit.iloc[0]

    def formal_share(self) -> pd.Series | None:
        got = self.topic("structure")
        if got is None:
            return None
        est, _ = got
        return self._level(est, "has (formal)")

    def size_gap(self) -> tuple[pd.Series | None, pd.Series | None]:
        est = self.adoption_by("size3")
        if est.empty:
            return None, None
        return self._level(est, "large", "size3"), self._level(est, "small", "size3")

    def findings(self) -> list[dict[str, Any]]:
        """Key findings as sentences whose numbers come from the data, with the values used."""
        if self._findings is None:
            self._findings = self._compute_findings()
        return self._findings

    def _compute_findings(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        y = self.year
        weighted_note = "weighted" if self.winfo.weighted else "unweighted"
        out.append(
            {
                "id": "sample",
                "text": (
                    f"The {y} analysis covers {self.n:,} respondents ({self.sample} sample)"
                    + (
                        f"; weighting to the reference targets leaves an effective sample size "
                        f"of {self.winfo.n_eff:,.0f} (design effect {self.winfo.deff:.2f})."
                        if self.winfo.weighted
                        else "; estimates are unweighted."
                    )
                ),
                "values": {"n": self.n, "n_eff": self.winfo.n_eff},
            }
        )
        adopt = self.adoption()
        has = self._level(adopt, "has") if not adopt.empty else None
        if has is not None and not has["suppressed"]:
            plan = self._level(adopt, "planning")
            unw = self._level(self.adoption(weighted=False), "has")
            text = (
                f"{P.pct(has['estimate'])} of organisations in the {y} sample have an OSPO or "
                f"similar open source initiative (95% CI {P.pct(has['ci_low'])}–"
                f"{P.pct(has['ci_high'])}, {weighted_note}"
                + (f"; unweighted {P.pct(unw['estimate'])}" if self.winfo.weighted else "")
                + f", n = {int(has['n']):,})"
            )
            if plan is not None and not plan["suppressed"]:
                text += f", and a further {P.pct(plan['estimate'])} are planning one"
            out.append({"id": "adoption", "text": text + ".",
                        "values": {"has": has["estimate"], "unweighted": unw["estimate"],
                                   "n": int(has["n"])}})
        formal = self.formal_share()
        if formal is not None and not formal["suppressed"]:
            out.append(
                {
                    "id": "formal",
                    "text": (
                        f"Of those with an OSPO whose structure is known, "
                        f"{P.pct(formal['estimate'])} describe it as formally structured "
                        f"(95% CI {P.pct(formal['ci_low'])}–{P.pct(formal['ci_high'])}, "
                        f"n = {int(formal['n']):,})."
                    ),
                    "values": {"formal": formal["estimate"], "n": int(formal["n"])},
                }
            )
        large, small = self.size_gap()
        if large is not None and small is not None and not (large["suppressed"] or
                                                            small["suppressed"]):
            ratio = large["estimate"] / small["estimate"] if small["estimate"] > 0 else math.nan
            rtxt = f", {ratio:.1f} times the rate" if math.isfinite(ratio) else ""
            out.append(
                {
                    "id": "size",
                    "text": (
                        f"{P.pct(large['estimate'])} of organisations with more than 10,000 "
                        f"employees have an OSPO, against {P.pct(small['estimate'])} of those "
                        f"with up to 250{rtxt} (n = {int(large['n']):,} and "
                        f"{int(small['n']):,})."
                    ),
                    "values": {"large": large["estimate"], "small": small["estimate"]},
                }
            )
        for key, spec in config()["topics"].items():
            if "finding" not in spec:
                continue
            got = self.topic(key)
            if got is None:
                continue
            est, meta = got
            ok = est[~est["suppressed"] & est["estimate"].notna()]
            ok = ok[~ok["level"].astype(str).str.startswith("Other")]
            if ok.empty:
                continue
            top = ok.sort_values("estimate", ascending=False, kind="stable").iloc[0]
            base = "those answering" if not meta.get("top_label") else (
                f"those {meta['top_label']}"
            )
            text = spec["finding"].format(
                label=str(top["level"]), pct=P.pct(top["estimate"]),
                base=f"{base}, n = {int(top['n']):,}",
            )
            out.append({"id": key, "text": text,
                        "values": {"label": str(top["level"]), "estimate": top["estimate"]}})
        return out

    # ------------------------------------------------------------------ page sections

    def title_block(self) -> P.Html:
        sub = (
            f"{self.n:,} respondents · {self.sample} sample · estimates {self.weight_label}"
            f" · suppression below effective n {self.min_n_eff:g}"
        )
        nav = (
            '<nav class="crumbs"><a href="../index.html">All reports</a> · '
            f'<a href="../trends/index.html">Trends {years_span()}</a></nav>'
        )
        return P.Html(
            [
                nav,
                f'<h1 class="title">The {self.year} OSPO survey: research report</h1>',
                _p(_esc(sub), "subtitle"),
            ],
            "title",
        )

    def key_findings(self) -> P.Html:
        items = "".join(f"<li>{_esc(f['text'])}</li>" for f in self.findings())
        return P.Html([_h(2, "Key findings", "key-findings"), f'<ul class="findings">{items}</ul>'],
                      "findings")

    def fielding(self) -> str:
        r = self.yd.survey.responses.loc[self.frame.index]
        parts = []
        if "start_date" in r.columns and "end_date" in r.columns:
            start = pd.to_datetime(r["start_date"], errors="coerce").min()
            end = pd.to_datetime(r["end_date"], errors="coerce").max()
            if pd.notna(start) and pd.notna(end):
                parts.append(
                    f"Responses in the export were collected between {start:%-d %B %Y} and "
                    f"{end:%-d %B %Y} (first start and last completion)."
                )
        if not parts:
            parts.append("The export carries no response dates.")
        counts = self.frame["channel"].value_counts(sort=False) if self.asked("channel") else None
        if counts is not None:
            counts = counts[(counts > 0) & (counts.index.astype(str) != "unknown")]
        if counts is not None and not counts.empty:
            listed = ", ".join(f"{k} {int(v):,}" for k, v in counts.items())
            parts.append(f"Respondents by SurveyMonkey collector group: {_esc(listed)}.")
        else:
            parts.append("The export does not say how respondents were reached (no collectors).")
        return " ".join(parts)

    def funnel_table(self) -> P.Html:
        from .dataset import funnel

        f = funnel([self.year])
        f = f[f["screen"] == self.sample] if self.sample in set(f["screen"]) else f
        show = f[["step", "action", "rows_in", "removed", "rows_out", "matched", "why"]].rename(
            columns={"rows_in": "in", "rows_out": "left", "why": "why (from the codebook)"}
        )
        show["why (from the codebook)"] = show["why (from the codebook)"].map(_no_ids)
        show["step"] = show["step"].map(_no_ids)
        return P.table(show, caption=f"Screening funnel, {self.sample} sample ({self.year})")

    def sample_section(self) -> P.Html:
        out = P.Html(label="sample")
        out.add(_h(2, "The sample", "sample"))
        raw_n = self.yd.survey.n
        out.add(
            _p(
                f"The raw export holds {raw_n:,} responses; the {self.sample} screen keeps "
                f"{self.n:,}. {self.fielding()}"
            )
        )
        out.add(self.funnel_table())
        out.add(_h(3, "Respondent profile"))
        profile = [
            ("org_size", "Organisation size (employees)"),
            ("industry", "Industry"),
            ("region", "Headquarters region"),
            ("role", "Respondent's role"),
        ]
        for var, title in profile:
            if not self.asked(var):
                continue
            est = _drop_empty_levels(self.estimate(var))
            out.add(self._chart(est, f"{title} ({self.year})",
                                caption=f"Harmonised variable {var}."))
        return out

    def adoption_section(self) -> P.Html:
        out = P.Html(label="adoption")
        if not self.asked("ospo_status"):
            return out
        out.add(_h(2, "OSPO adoption", "adoption"))
        out.add(_p("Whether the respondent's organisation has an open source program office "
                   "(OSPO) or similar initiative, overall and by organisation size, industry, "
                   "region and open source journey stage."))
        est = _drop_empty_levels(self.estimate("ospo_status"))
        out.add(self._chart(est, f"OSPO or similar initiative ({self.year})",
                            caption="Harmonised variable ospo_status."))
        for by, title in (
            ("org_size", "organisation size"),
            ("industry", "industry"),
            ("region", "headquarters region"),
        ):
            est = self.adoption_by(by)
            if est.empty:
                continue
            out.add(self._chart(est, f"Share with an OSPO, by {title} ({self.year})",
                                label="label", caption=f"Harmonised has_ospo by {by}."))
        journey = self.journey_adoption()
        if not journey.empty:
            out.add(self._chart(journey, f"Share with an OSPO, by open source journey stage "
                                f"({self.year})", label="label",
                                caption="Stages are not exclusive (select all that apply)."))
        return out

    def journey_adoption(self) -> pd.DataFrame:
        if not self.asked("has_ospo"):
            return pd.DataFrame()
        parts = []
        base = self.frame[["_w"]].copy()
        for opt, label in variable_levels("journey").items():
            col = f"journey_{opt}"
            if opt in ("not_involved", "dont_know") or not self.asked(col):
                continue
            inside = self.frame[col].fillna(False).astype(bool)
            if not inside.any():
                continue
            vals = self.frame["has_ospo"].astype(object).where(inside)
            base["_v"] = pd.Categorical(vals, categories=["has", "planning", "none"])
            e = _estimate(base, "_v", weights=self.wcol, min_n_eff=self.min_n_eff)
            e = e[e["level"] == "has"].copy()
            e["label"] = label
            parts.append(e)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def headlines(self) -> pd.DataFrame:
        if self._headlines is None:
            self._headlines = headline_table(
                self.year, self.winfo.weights if self.winfo.weighted else None
            )
        return self._headlines

    def headline_section(self) -> P.Html:
        table = self.headlines()
        out = P.Html(label="headlines")
        out.add(_h(2, "The publisher's headline figures", "headlines"))
        if table.empty:
            out.add(_p(f"The publisher's {self.year} README states no figure that the data can "
                       "check."))
            return out
        ok = int(table["reproduced"].sum())
        out.add(_p(f"{ok} of {len(table)} figures from the publisher's {self.year} README are "
                   "reproduced by the rule shown (unweighted, as the publisher reports); the "
                   "note says why the others differ. The weighted column applies this report's "
                   "weights to the same rule."))

        def fmt(v, unit):
            if v is None or not math.isfinite(v):
                return "–"
            return f"{v:,.0f}" if unit == "count" else f"{v:.1f}%"

        show = pd.DataFrame(
            {
                "claim": table["claim"],
                "published": [fmt(v, u) if u == "count" else f"{v:.0f}%"
                              for v, u in zip(table["published"], table["unit"], strict=True)],
                "ours": [fmt(v, u) for v, u in zip(table["ours"], table["unit"], strict=True)],
                "weighted": [fmt(v, u) for v, u in zip(table["weighted"], table["unit"],
                                                       strict=True)],
                "reproduced": ["yes" if r else "no" for r in table["reproduced"]],
                "rule": table["rule"],
                "why it differs / note": table["note"],
            }
        )
        out.add(P.table(show, caption=f"Publisher's figures for {self.year}",
                        css_class="data headlines"))
        return out

    def methods_section(self) -> P.Html:
        out = P.Html(label="methods")
        out.add(_h(2, "Methods", "methods"))
        out.add(_h(3, "Screening"))
        from .dataset import funnel

        f = funnel([self.year])
        steps = f[(f["screen"] == self.sample) & (f["action"] != "start")]
        if steps.empty:
            out.add(_p(f"The {self.sample} sample keeps every response of the export."))
        else:
            items = "".join(
                f"<li><strong>{_esc(_no_ids(s.step))}</strong> ({_esc(s.action)}: "
                f"{int(s.removed):,} removed, {int(s.matched):,} matched). "
                f"{_esc(_no_ids(s.why))}</li>"
                for s in steps.itertuples(index=False)
            )
            out.add(f"<ul>{items}</ul>")
        out.add(_h(3, "Weighting"))
        w = self.winfo
        if not w.weighted:
            out.add(_p("Estimates are unweighted: every respondent counts once. "
                       + _esc(" ".join(w.notes))))
        else:
            out.add(
                _p(
                    f"Scheme <em>{_esc(w.scheme)}</em>: {_esc(w.description.rstrip('.'))}. "
                    "Weights are raked (iterative proportional fitting) to the margins below and "
                    "trimmed at 8 times the mean; respondents whose answer is unknown keep "
                    "their own year's share in a (missing) cell. Confidence intervals are "
                    "Wilson intervals at each estimate's effective sample size, from "
                    "linearised (Taylor) variances; estimates whose effective n is below "
                    f"{self.min_n_eff:g} are suppressed."
                )
            )
            d = w.diagnostics
            summ = d.summary() if d is not None else {}
            out.add(
                _p(
                    f"Design effect due to weighting (Kish) {w.deff:.2f}; effective sample size "
                    f"{w.n_eff:,.0f} of {w.n:,}. Weights range from "
                    f"{summ.get('min', float('nan')):.2f} to {summ.get('max', float('nan')):.2f}"
                    f"; raking {'converged' if summ.get('converged') else 'did not converge'}"
                    f" (largest margin error {summ.get('max_abs_error', float('nan')):.1e})."
                )
            )
            if w.notes:
                out.add("<ul>" + "".join(f"<li>{_esc(n)}</li>" for n in w.notes) + "</ul>")
            if d is not None:
                m = d.to_frame()
                keep = [c for c in ("variable", "level", "target", "n", "unweighted_share",
                                    "weighted_share") if c in m.columns]
                shown = m[keep].rename(columns={"unweighted_share": "unweighted",
                                                "weighted_share": "weighted"})
                pf = {c: (lambda v: P.pct(v, 1)) for c in ("target", "unweighted", "weighted")}
                out.add(P.table(shown, caption="Weighting targets and achieved shares",
                                formats=pf))
            out.add(P.weight_histogram(w.weights, title=f"Distribution of the weights "
                                       f"({self.year})"))
        out.add(_h(3, "Limits of an opt-in survey"))
        out.add(
            _p(
                "Respondents chose to take part after hearing of the survey through the TODO "
                "Group, the Linux Foundation and partners (and, in 2023, a paid panel), so they "
                "are not a probability sample of organisations: people close to open source "
                "are likely over-represented and several people may answer for one "
                "organisation. Weighting only corrects the make-up on the weighting variables; "
                "confidence intervals describe sampling noise under the assumption that the "
                "weighted sample is representative, not the selection bias, and differences "
                "between years mix real change with changes in who answered and in question "
                "wording."
            )
        )
        return out

    def provenance_section(self) -> P.Html:
        from . import __version__
        from .fetch import provenance

        prov = provenance([self.year])
        out = P.Html(label="provenance")
        out.add(_h(2, "Provenance", "provenance"))
        repo, _, commit = prov.attrs["upstream"].partition("@")
        link = f"https://github.com/{repo}/tree/{commit}"
        out.add(
            _p(
                f'Upstream data: <a href="{_esc(link)}">{_esc(repo)}</a> at commit '
                f"<code>{_esc(commit)}</code>; toolkit ospo-survey {_esc(__version__)}; "
                f"weighting scheme {_esc(self.scheme)}."
            )
        )
        show = prov[["year", "role", "upstream_path", "sha256"]].copy()
        show["year"] = show["year"].astype(str)
        out.add(P.table(show, caption="Raw files and their sha256",
                        formats={"sha256": P.raw_html(lambda v: f"<code>{_esc(v)}</code>")},
                        css_class="data provenance"))
        return out

    # ------------------------------------------------------------------ summary

    def summary(self) -> dict[str, Any]:
        """Headline numbers for the index page (and tests): plain JSON-ready values."""
        from . import __version__

        adopt = self.adoption()
        unw = self.adoption(weighted=False)

        def level(frame, lev):
            row = self._level(frame, lev) if not frame.empty else None
            if row is None:
                return None
            return {
                "estimate": _round(row["estimate"]),
                "ci_low": _round(row["ci_low"]),
                "ci_high": _round(row["ci_high"]),
                "n": int(row["n"]),
                "count": int(row["count"]) if "count" in row else None,
                "suppressed": bool(row["suppressed"]),
            }

        formal = self.formal_share()
        heads = self.headlines()
        return {
            "kind": "year",
            "year": self.year,
            "title": f"{self.year} report",
            "href": f"{self.year}/index.html",
            "sample": self.sample,
            "weights": self.scheme,
            "n": self.n,
            "n_eff": _round(self.winfo.n_eff, 1),
            "deff": _round(self.winfo.deff, 3),
            "has_ospo": level(adopt, "has"),
            "has_ospo_unweighted": level(unw, "has"),
            "planning": level(adopt, "planning"),
            "formal": None if formal is None else _round(formal["estimate"]),
            "findings": [f["text"] for f in self.findings()],
            "headlines_reproduced": int(heads["reproduced"].sum()) if not heads.empty else 0,
            "headlines_total": int(len(heads)),
            "toolkit_version": __version__,
        }


# =========================================================================== trends report


class TrendsReport:
    """Harmonised variables across years, unweighted beside reference-weighted."""

    def __init__(
        self,
        weights: str = "reference",
        *,
        sample: str = "harmonized",
        min_n_eff: float = MIN_N_EFF,
        years: Iterable[int] | None = None,
    ) -> None:
        from .dataset import load_harmonized

        self.scheme = weights
        self.sample = sample
        self.min_n_eff = float(min_n_eff)
        h = load_harmonized(years, sample=sample)
        self.years = sorted(int(y) for y in h["year"].unique())
        parts, self.winfo = [], {}
        for y in self.years:
            part = h[h["year"] == y].copy()
            info = compute_weights(part, y, weights, sample)
            self.winfo[y] = info
            part["_w"] = info.weights.to_numpy()
            parts.append(part)
        self.frame = pd.concat(parts).reset_index(drop=True)
        self.frame["year_group"] = pd.Categorical(self.frame["year"].astype(int),
                                                  categories=self.years)
        self.weighted = any(i.weighted for i in self.winfo.values())
        self._adoption: pd.DataFrame | None = None

    def asked_years(self, var: str) -> list[int]:
        ok = self.frame.groupby("year")[var].apply(lambda s: bool(s.notna().any()))
        return [int(y) for y, v in ok.items() if v]

    def series(self, var: str, level: Any, *, among: Iterable[Any] | None = None,
               by: str | None = None, frame: pd.DataFrame | None = None,
               label: str | None = None) -> pd.DataFrame:
        """Share of ``level`` per year, unweighted and weighted (``series`` column)."""
        df = self.frame if frame is None else frame
        years = self.asked_years(var)
        if not years:
            return pd.DataFrame()
        df = df[df["year"].isin(years)].copy()
        col = df[var]
        if among is not None:
            col = col.astype(object).where(col.astype(object).isin(list(among)))
        if isinstance(level, (list, tuple)):
            obj = col.astype(object)
            vals = np.where(obj.isna(), None, np.where(obj.isin(list(level)), "yes", "no"))
            df["_v"] = pd.Categorical(vals, categories=["yes", "no"])
            label = label or " or ".join(map(str, level))
            level = "yes"
        elif col.dtype == bool or str(col.dtype) == "boolean":
            vals = np.where(col.isna(), None, np.where(col.fillna(False), "yes", "no"))
            df["_v"] = pd.Categorical(vals, categories=["yes", "no"])
            level = "yes" if level is True else level
        else:
            df["_v"] = pd.Categorical(col.astype(object),
                                      categories=list(among) if among is not None else None)
            if among is None and isinstance(self.frame[var].dtype, pd.CategoricalDtype):
                df["_v"] = pd.Categorical(col.astype(object),
                                          categories=self.frame[var].cat.categories)
        df["year_group"] = pd.Categorical(df["year"].astype(int), categories=years)
        groups = ["year_group"] if by is None else ["year_group", by]
        out = []
        schemes = [(UNWEIGHTED_LABEL, None)]
        if self.weighted:
            schemes.append((WEIGHTED_LABEL, "_w"))
        for name, w in schemes:
            e = _estimate(df, "_v", weights=w, by=groups if by else "year_group",
                          min_n_eff=self.min_n_eff)
            e = e[(e["level"] == level) & (e["n"] > 0)].copy()
            e["series"] = name
            out.append(e)
        res = pd.concat(out, ignore_index=True)
        res["year"] = res["year_group"].astype(int)
        res["variable"] = var
        res["level"] = label or str(level)
        return res.drop(columns="year_group")

    # ------------------------------------------------------------------ content

    def title_block(self) -> P.Html:
        nav = '<nav class="crumbs"><a href="../index.html">All reports</a></nav>'
        sub = (
            f"{len(self.frame):,} respondents in {len(self.years)} years · harmonised sample · "
            f"{UNWEIGHTED_LABEL} beside {WEIGHTED_LABEL}"
            f" · suppression below effective n {self.min_n_eff:g}"
        )
        return P.Html([nav, f'<h1 class="title">OSPO survey trends, {self.years[0]}–'
                       f"{self.years[-1]}</h1>", _p(_esc(sub), "subtitle")], "title")

    def adoption_series(self) -> pd.DataFrame:
        if self._adoption is None:
            self._adoption = self._adoption_series()
        return self._adoption

    def _adoption_series(self) -> pd.DataFrame:
        s = self.series("has_ospo", "has")
        if s.empty:
            return s
        if "channel" in self.frame.columns:
            panel = self.frame["channel"].astype(object) == "panel (1,000+ employees)"
            if panel.any():
                years = sorted(self.frame.loc[panel, "year"].unique())
                sub = self.frame[~panel & self.frame["year"].isin(years)]
                extra = self.series("has_ospo", "has", frame=sub)
                extra = extra[extra["series"] == UNWEIGHTED_LABEL].copy()
                extra["series"] = "unweighted, no paid panel"
                s = pd.concat([s, extra], ignore_index=True)
        return s

    def findings(self) -> list[dict[str, Any]]:
        out = []
        s = self.adoption_series()
        if not s.empty:
            for name in (UNWEIGHTED_LABEL, WEIGHTED_LABEL):
                part = s[(s["series"] == name) & ~s["suppressed"]].sort_values("year")
                if len(part) < 2:
                    continue
                a, b = part.iloc[0], part.iloc[-1]
                out.append(
                    {
                        "id": f"adoption_{name}",
                        "text": (
                            f"OSPO adoption ({name}) went from {P.pct(a['estimate'])} in "
                            f"{int(a['year'])} (95% CI {P.pct(a['ci_low'])}–"
                            f"{P.pct(a['ci_high'])}) to {P.pct(b['estimate'])} in "
                            f"{int(b['year'])} ({P.pct(b['ci_low'])}–{P.pct(b['ci_high'])})."
                        ),
                        "values": {"first": a["estimate"], "last": b["estimate"]},
                    }
                )
        f = self.series("ospo_status", "has (formal)", among=["has (formal)", "has (informal)"])
        part = f[(f["series"] == (WEIGHTED_LABEL if self.weighted else UNWEIGHTED_LABEL))
                 & ~f["suppressed"]].sort_values("year") if not f.empty else f
        if len(part) >= 2:
            a, b = part.iloc[0], part.iloc[-1]
            out.append(
                {
                    "id": "formal",
                    "text": (
                        f"Among OSPOs of known structure, the formally structured share was "
                        f"{P.pct(a['estimate'])} in {int(a['year'])} and {P.pct(b['estimate'])}"
                        f" in {int(b['year'])}."
                    ),
                    "values": {"first": a["estimate"], "last": b["estimate"]},
                }
            )
        return out

    def key_findings(self) -> P.Html:
        items = "".join(f"<li>{_esc(f['text'])}</li>" for f in self.findings())
        return P.Html([_h(2, "Key findings", "key-findings"), f'<ul class="findings">{items}</ul>'],
                      "findings")

    def notes(self) -> P.Html:
        items = [
            f"<li><strong>{', '.join(map(str, n['years']))}</strong>: "
            f"{_esc(' '.join(n['text'].split()))}</li>"
            for n in config().get("trend_notes", [])
            if set(n["years"]) & set(self.years)
        ]
        out = P.Html(label="notes")
        out.add(_h(2, "What changed between years", "changes"))
        marks = " and ".join(b["text"] for b in self._break_specs())
        out.add(_p("Read every series with these breaks in mind."
                   + (f" The dashed line in the charts marks {marks}." if marks else "")))
        out.add("<ul>" + "".join(items) + "</ul>")
        return out

    def _break_specs(self) -> list[dict[str, Any]]:
        """The ``trend_breaks`` of reports.yaml whose two years are both in this report."""
        return [b for b in config().get("trend_breaks", [])
                if b["after"] in self.years and b["before"] in self.years]

    def _breaks(self) -> list[tuple[float, str]]:
        return [((b["after"] + b["before"]) / 2, b["label"]) for b in self._break_specs()]

    def chart(self, frame: pd.DataFrame, title: str, caption: str = "") -> P.Chart | None:
        return P.trend_ci(frame, title=title, caption=caption, min_n_eff=self.min_n_eff,
                          breaks=self._breaks())

    def _diff_rows(self, var: str, level: Any, label: str, among=None) -> list[dict[str, Any]]:
        from . import estimate as E

        years = self.asked_years(var)
        rows = []
        for a, b in zip(years, years[1:], strict=False):
            da = self.frame[self.frame["year"] == a].copy()
            db = self.frame[self.frame["year"] == b].copy()
            for d in (da, db):
                col = d[var].astype(object)
                if among is not None:
                    col = col.where(col.isin(list(among)))
                d["_v"] = col
            row = {"indicator": label, "from": a, "to": b}
            for name, w in ((UNWEIGHTED_LABEL, None), (WEIGHTED_LABEL, "_w")):
                if w and not self.weighted:
                    continue
                try:
                    diff = E.difference(da, db, "_v", level, weights_a=w, weights_b=w,
                                        min_n_eff=self.min_n_eff)
                except ValueError:
                    continue
                if diff.empty:
                    continue
                r = diff.iloc[0]
                row[f"{name} change"] = (
                    f"{100 * r['estimate']:+.1f} pp ({100 * r['ci_low']:+.1f} to "
                    f"{100 * r['ci_high']:+.1f})"
                )
                row[f"{name} p"] = float(r["p_value"])
            rows.append(row)
        return rows

    def differences(self) -> P.Html:
        rows = self._diff_rows("has_ospo", "has", "has an OSPO")
        rows += self._diff_rows("ospo_status", "has (formal)", "formal (of known structure)",
                                among=["has (formal)", "has (informal)"])
        out = P.Html(label="differences")
        if not rows:
            return out
        t = pd.DataFrame(rows)
        fmt = {c: _p_value for c in t.columns if c.endswith(" p")}
        fmt.update({"from": str, "to": str})
        out.add(_h(2, "Year-over-year differences", "differences"))
        out.add(_p("Change from one survey year to the next in percentage points, with 95% "
                   "confidence intervals and two-sided p-values (independent samples). Changes "
                   "across the 2022 break mix real change with changes in screening and "
                   "wording."))
        out.add(P.table(t, caption="Year-over-year changes", formats=fmt))
        return out

    def adoption_section(self) -> P.Html:
        out = P.Html(label="adoption")
        s = self.adoption_series()
        if s.empty:
            return out
        out.add(_h(2, "OSPO adoption", "adoption"))
        out.add(self.chart(s, "Organisations with an OSPO or similar initiative",
                           "Harmonised has_ospo = has."))
        by = self.series("has_ospo", "has", by="size3")
        if not by.empty:
            out.add(_h(3, "By organisation size"))
            for band, label in (("small", "up to 250 employees"), ("mid", "251–10,000"),
                                ("large", "over 10,000")):
                part = by[by["size3"].astype(str) == band]
                out.add(self.chart(part, f"With an OSPO: organisations with {label}",
                                   f"Harmonised size3 = {band}."))
        f = self.series("ospo_status", "has (formal)", among=["has (formal)", "has (informal)"])
        if not f.empty:
            out.add(_h(3, "Formal vs informal"))
            out.add(self.chart(f, "Formally structured, among OSPOs of known structure",
                               "Harmonised ospo_status: formal / (formal + informal)."))
        return out

    def _series_section(
        self,
        label: str,
        heading: str,
        specs: Iterable[tuple[str, Any, str, str]],
        intro: str = "",
    ) -> P.Html:
        """One trend chart per (variable, level, title, caption) that has data; a heading (and
        intro) only when at least one chart is drawn."""
        out = P.Html(label=label)
        charts = []
        for var, level, title, caption in specs:
            s = self.series(var, level)
            if not s.empty:
                charts.append(self.chart(s, title, caption))
        charts = [c for c in charts if c is not None]
        if charts:
            out.add(_h(2, heading, label))
            if intro:
                out.add(_p(intro))
            out.add(*charts)
        return out

    def policies_section(self) -> P.Html:
        from .codebook import definitions

        rows = definitions()["policy"]["rows"]
        return self._series_section(
            "policies",
            "Open source policies",
            [(f"policy_{row}", "yes", f"Formal policy: {label}", f"Harmonised policy_{row} = yes.")
             for row, label in rows.items()],
        )

    def journey_section(self) -> P.Html:
        return self._series_section(
            "journey",
            "Open source journey stages",
            [(f"journey_{opt}", True, f"Journey stage: {label}",
              f"Harmonised journey_{opt} (select all that apply).")
             for opt, label in variable_levels("journey").items()
             if opt not in ("not_involved", "dont_know")],
            intro="The harmonised sample keeps only respondents involved in open source, "
                  "so the stages are shares of those involved.",
        )

    def methods_section(self) -> P.Html:
        out = P.Html(label="methods")
        out.add(_h(2, "Methods", "methods"))
        rows = []
        for y in self.years:
            w = self.winfo[y]
            rows.append({"year": str(y), "n": w.n, "effective n": round(w.n_eff),
                         "design effect": round(w.deff, 2) if math.isfinite(w.deff) else None,
                         "weighting variables": ", ".join(w.margins) or "none"})
        out.add(_p(
            "The harmonised sample applies one screen to every year (involved in open source, "
            "works for an organisation, the year's own quality checks). Each year is raked "
            "separately to the reference targets"
            f" ({_esc(next(iter(self.winfo.values())).description)}); confidence intervals are "
            "Wilson intervals at the effective sample size. The limits of an opt-in survey "
            "apply to every year (see the yearly reports)."))
        out.add(P.table(pd.DataFrame(rows), caption="Sample and weighting by year"))
        return out

    def provenance_section(self) -> P.Html:
        from . import __version__
        from .fetch import provenance

        prov = provenance(self.years)
        repo, _, commit = prov.attrs["upstream"].partition("@")
        out = P.Html(label="provenance")
        out.add(_h(2, "Provenance", "provenance"))
        out.add(_p(f'Upstream data: <a href="https://github.com/{_esc(repo)}/tree/'
                   f'{_esc(commit)}">{_esc(repo)}</a> at commit <code>{_esc(commit)}</code>; '
                   f"toolkit ospo-survey {_esc(__version__)}."))
        show = prov[prov["role"].isin(["responses", "responses_text", "license"])].copy()
        show["year"] = show["year"].astype(str)
        out.add(P.table(show[["year", "role", "upstream_path", "sha256"]],
                        caption="Raw files and their sha256",
                        formats={"sha256": P.raw_html(lambda v: f"<code>{_esc(v)}</code>")},
                        css_class="data provenance"))
        return out

    def summary(self) -> dict[str, Any]:
        from . import __version__

        s = self.adoption_series()
        series = {}
        if not s.empty:
            for name, part in s.groupby("series", sort=False):
                series[str(name)] = {
                    str(int(r["year"])): None if r["suppressed"] else _round(r["estimate"])
                    for _, r in part.sort_values("year").iterrows()
                }
        return {
            "kind": "trends",
            "title": "Trends",
            "href": "trends/index.html",
            "years": self.years,
            "n": int(len(self.frame)),
            "weights": self.scheme,
            "adoption": series,
            "findings": [f["text"] for f in self.findings()],
            "toolkit_version": __version__,
        }


# =========================================================================== summaries


def _p_value(v: Any) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


# --------------------------------------------------------------------------- notebook setup


def setup_notebook() -> None:
    """Call first in a report notebook: chart style and quiet, deterministic output."""
    P.set_style()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    pd.set_option("display.max_columns", 50)
