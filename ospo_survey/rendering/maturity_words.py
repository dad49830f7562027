"""Maturity ladders in words: what :func:`ospo_survey.analysis.maturity.scalability` measured.

The sentences follow the measure (Loevinger's H and its interval, each stage's H_j, the
invariant item ordering check, a verdict read off the interval) and name the stages by their
labels, never by their keys. A year with too few measured stages gets no verdict, and the
sentence says why. Rules, thresholds and the bootstrap are in ``maturity.yaml`` (``scaling``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ospo_survey.analysis import maturity as M
from ospo_survey.rendering.html import esc
from ospo_survey.rendering.labels import in_words

#: The id of the block that says how each stage is measured (an appendix on the pages).
RULES_ANCHOR = "appendix-stage-rules"

_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _num(x: float) -> str:
    """A coefficient to two decimals, with a true minus sign."""
    return f"{x:.2f}".replace("-", "−")


def _span(lo: float, hi: float) -> str:
    return f"{_num(lo)} to {_num(hi)}" if lo < 0 or hi < 0 else f"{_num(lo)}–{_num(hi)}"


def _count(k: int) -> str:
    return _NUMBER_WORDS.get(k, str(k))


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _labels(model: M.Model) -> dict[str, str]:
    return {s.name: s.label for s in model.stages}


def _quoted(model: M.Model, names: Iterable[str]) -> list[str]:
    labels = _labels(model)
    return [f"“{labels.get(n, n)}”" for n in names]


def _unmeasured(row: pd.Series) -> list[str]:
    return [s for s in str(row["unmeasured"] or "").split(", ") if s]


def year_sentences(frame: pd.DataFrame, year: int) -> list[str]:
    """Plain sentences on one model's ladder in one year, from :func:`scalability`'s frame.

    >>> from ospo_survey.analysis.design import Survey
    >>> t = M.scalability(Survey(2024), "todo5")
    >>> year_sentences(t, 2024)[0][:40]
    'Only two of the ladder’s stages were mea'
    """
    part = frame[frame["year"] == year]
    if part.empty:
        return []
    model = M.get_model(str(part["model"].iloc[0]))
    first = part.iloc[0]
    if pd.isna(first["item"]):
        return [f"The ladder was not measured in {year}: its questions were not asked."]
    k = int(first["measured_stages"])
    gone = _quoted(model, _unmeasured(first))
    not_asked = f" ({_and(gone)} {'was' if len(gone) == 1 else 'were'} not asked)" if gone else ""
    h = (f"H {_num(first['H'])}, 95% interval {_span(first['H_low'], first['H_high'])}"
         if math.isfinite(first["H_low"]) else f"H {_num(first['H'])}")
    verdict = first["verdict"]
    if verdict is None or (isinstance(verdict, float) and math.isnan(verdict)):
        minimum = M.scaling_rules().min_items
        return [f"Only {_count(k)} of the ladder’s stages were measured in {year}{not_asked}: "
                f"too few to test whether they form a scale (it takes at least "
                f"{_count(minimum)}), so this year has no verdict ({h})."]
    n = int(first["respondents"])
    who = f"the {n:,} respondents placed on the ladder in {year}"
    stages_ = f"the {_count(k)} measured stages{not_asked}"
    if verdict == "unclear":
        weakest = M.scaling_rules().scale_min
        out = [f"Whether {stages_} form a scale among {who} is unclear ({h}: the interval "
               f"straddles {_num(weakest)}, the bound of a weak scale)."]
    elif verdict == "not a scale":
        out = [f"Among {who}, {stages_} do not form a scale ({h})."]
    else:
        out = [f"Among {who}, {stages_} form a {verdict} ({h})."]
    out += _item_sentences(model, part)
    out.append(_order_sentence(model, part))
    checks, viol = int(first["iio_checks"]), int(first["iio_violations"])
    if checks:
        out.append(
            "Within groups of respondents who reached the same number of other stages, the "
            "stages keep their order of popularity" + (
                f" (no significant reversal in {checks} checks)." if not viol else
                f" except in {viol} of {checks} checks, where the order reverses significantly."))
    return [s for s in out if s]


def _item_sentences(model: M.Model, part: pd.DataFrame) -> list[str]:
    labels = _labels(model)
    item_min = M.scaling_rules().item_min
    out = []
    for _, r in part.iterrows():
        name = labels.get(str(r["item"]), str(r["item"]))
        span = _span(r["item_H_low"], r["item_H_high"])
        if r["item_fit"] == "does not fit":
            out.append(f"“{name}” does not fit the ladder (its item H is {_num(r['item_H'])}, "
                       f"95% interval {span}, under {_num(item_min)}).")
        elif r["item_fit"] == "unclear":
            out.append(f"Whether “{name}” fits the ladder is unclear (item H "
                       f"{_num(r['item_H'])}, 95% interval {span}).")
    return out


def _order_sentence(model: M.Model, part: pd.DataFrame) -> str:
    """Stages the respondents reach more often than a stage the model puts below them."""
    labels = _labels(model)
    rows = part.sort_values("order")
    pairs = []
    for (_, lo), (_, hi) in zip(rows.iterrows(), rows.iloc[1:].iterrows(), strict=False):
        if hi["p"] > lo["p"]:
            pairs.append(f"“{labels[str(hi['item'])]}” ({hi['p']:.0%}) more often than "
                         f"“{labels[str(lo['item'])]}” ({lo['p']:.0%}), which the model puts "
                         "before it")
    if not pairs:
        return ("The respondents reach the stages in the model’s order: each stage less often "
                "than the one before it.")
    return f"Respondents reach {_and(pairs)}."


def trend_sentences(frame: pd.DataFrame) -> list[str]:
    """Plain sentences on one model's ladder across the years of :func:`scalability`'s frame:
    the verdict by year, the stages that do not fit, and the years with no verdict."""
    if frame.empty:
        return []
    model = M.get_model(str(frame["model"].iloc[0]))
    years = frame.drop_duplicates("year").set_index("year")
    judged = years[years["verdict"].notna() & years["item"].notna()]
    out = []
    scales, others = [], []
    for verdict, g in judged.groupby("verdict", sort=False):
        ys = _and([str(int(y)) for y in g.index])
        hs = _span(g["H"].min(), g["H"].max()) if len(g) > 1 else _num(g["H"].iloc[0])
        if verdict == "unclear":
            weakest = _num(M.scaling_rules().scale_min)
            others.append(f"in {ys} whether they form a scale is unclear (H {hs}: the interval "
                          f"straddles {weakest})")
        elif verdict == "not a scale":
            others.append(f"in {ys} they form no scale (H {hs})")
        else:
            scales.append(f"a {verdict} in {ys} (H {hs})")
    if scales:
        out.append("Read off each year’s 95% interval, the measured stages form "
                   f"{_and(scales)}" + (f"; {'; '.join(others)}." if others else "."))
    elif others:
        out.append(f"Read off each year’s 95% interval, {'; '.join(others)}.")
    labels = _labels(model)
    misfit = frame[frame["item_fit"] == "does not fit"]
    for item, g in misfit.groupby("item", sort=False):
        ys = [str(int(y)) for y in g["year"]]
        when = ("in every year" if len(ys) == len(years) and len(ys) > 1 else f"in {_and(ys)}")
        hs = (_span(g["item_H"].min(), g["item_H"].max()) if len(g) > 1
              else _num(g["item_H"].iloc[0]))
        out.append(f"“{labels.get(str(item), str(item))}” does not fit the ladder {when} "
                   f"(item H {hs}).")
    for y, r in years[years["verdict"].isna()].iterrows():
        gone = _quoted(model, _unmeasured(r))
        k = int(r["measured_stages"]) if pd.notna(r["measured_stages"]) else 0
        out.append(f"{int(y)} has no verdict: only {_count(k)} stages were measured"
                   + (f" ({_and(gone)} not asked)." if gone else "."))
    return out


def unmeasured_note(model: Any, gone: dict[int, list[str]]) -> str:
    """The chart caption's reason why some years stand apart (``gone``: year -> the stages
    that year did not measure, as :func:`ospo_survey.analysis.maturity.unmeasured` gives).

    >>> unmeasured_note("todo5", {2024: ["compliance_education"]})[:24]
    '* 2024: “1 Compliance, i'
    """
    m = M.get_model(model)
    if not gone:
        return ""
    years = [f"{y}: {_and(_quoted(m, stages_))} {'was' if len(stages_) == 1 else 'were'} not "
             "asked" for y, stages_ in sorted(gone.items())]
    return (f"* {'; '.join(years)}. Those respondents are placed by the stages that were "
            "asked, so the year’s shares stand apart: no line joins them to other years.")


def rules_link(text: str = "how each stage is measured", href: str = f"#{RULES_ANCHOR}") -> str:
    """A link to the block that says how each stage is measured."""
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def scale_html(frame: pd.DataFrame, year: int | None = None,
               rules_href: str | None = f"#{RULES_ANCHOR}") -> str:
    """The sentences as escaped HTML (one year's, or across the years when ``year`` is None),
    ending with a link to the stage rules when ``rules_href`` is given."""
    sentences = year_sentences(frame, year) if year is not None else trend_sentences(frame)
    text = esc(" ".join(sentences))
    if rules_href and sentences:
        text += f" See {rules_link(href=rules_href)}."
    return text


def stage_rules_html(models: Iterable[Any], anchor: str = RULES_ANCHOR) -> str:
    """How each stage of each model is measured, in words (the stages' reasons from
    ``maturity.yaml``): a section with ``anchor`` as its id, for the pages' appendix."""
    r = M.scaling_rules()
    classes = [f"{_num(bound)} or more a {name}" for name, bound in r.classes]
    reading = (f"Each stage is a yes/no item: reached or not, by the rule below. A ladder is "
               f"read as a scale with Loevinger’s H (Mokken scaling, unweighted): "
               f"{_and(classes)}; under {_num(r.scale_min)}, no scale. A stage whose own H is "
               f"under {_num(r.item_min)} does not fit the ladder. The verdict is the strongest "
               f"class that the lower end of the {r.interval:.0%} bootstrap interval clears "
               f"({r.resamples:,} resamples of the respondents); none when fewer than "
               f"{_count(r.min_items)} stages were measured.")
    parts = [f'<section id="{esc(anchor)}" class="stage-rules">',
             "<h3>How the maturity stages are measured</h3>", f"<p>{esc(reading)}</p>"]
    for model in models:
        m = M.get_model(model)
        parts.append(f"<h4>{esc(m.label)}</h4>")
        parts.append(f"<p>Who is placed on the ladder: {esc(in_words(m.base_why))}</p><ul>")
        parts += [f"<li><strong>{esc(s.label)}</strong>: {esc(in_words(s.why))}</li>"
                  for s in m.stages]
        parts.append("</ul>")
    parts.append("</section>")
    return "".join(parts)
