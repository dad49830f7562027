"""The index page's words: a card per built page, the contents, the open data and the footer.

Made from the pages' ``summary.json`` values and the open data release's ``datapackage.json``
(:func:`index_main`); :func:`ospo_survey.site.pages.build_index` reads those files and writes
the page around what this module returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ospo_survey.core.meta import VERSION
from ospo_survey.ingest.fetch import UPSTREAM_COMMIT, UPSTREAM_REPO
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.facts import fact
from ospo_survey.rendering.formats import pct
from ospo_survey.rendering.html import esc

TITLE = "OSPO survey research reports"


@dataclass(frozen=True)
class Release:
    """The open data release as the index links it: its Data Package and where its files lie
    (relative to the index)."""

    meta: Mapping[str, Any]  # the release's datapackage.json
    folder: str  # the release's folder under the site root
    package_file: str  # the Data Package's file name in that folder
    respondents: str  # the respondents table's name (``.csv`` and ``.parquet``)


def codebook_card(summary: Mapping[str, Any]) -> str:
    href = esc(summary["href"])
    return (f'<article class="card codebook"><h2><a href="{href}">Codebook</a></h2>'
            '<p class="big">Every harmonised variable</p><p>Its levels, and in each year the '
            "question as asked with every answer and the level it becomes.</p>"
            f'<p class="more"><a href="{href}">Read the codebook →</a></p></article>')


def _comparable(trends: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The comparable series of the trends summary, by year (as text)."""
    if not trends:
        return {}
    return {str(r["year"]): r for r in trends.get("comparable", [])}


def _weighting(trends: Mapping[str, Any] | None) -> str:
    if not trends or trends.get("weights") in (None, "none"):
        return "unweighted"
    return "weighted to a common mix of organisation sizes and industries"


def benchmark_card(summary: Mapping[str, Any]) -> str:
    href = esc(summary["href"])
    return (f'<article class="card benchmark"><h2><a href="{href}">Organisations like mine'
            '</a></h2><p class="big">A peer benchmark</p><p>Pick your organisation\'s size, '
            "industry, region and OSPO status: its peers beside all organisations, pooled "
            f'over recent years.</p><p class="more"><a href="{href}">Compare →</a></p></article>')


def trends_card(summary: Mapping[str, Any]) -> str:
    """The trends card: the latest comparable figure, and each run of years between the
    series breaks with its range (never one range across a break)."""
    href = esc(summary["href"])
    points = [r for r in summary.get("comparable", []) if not r["suppressed"]]
    years = summary.get("years", [])
    span = f"{years[0]}–{years[-1]}" if years else ""
    big, lines = '<p class="big">–</p>', ""
    if points:
        last = points[-1]
        big = (f'<p class="big">{pct(last["estimate"])} <span>have an OSPO in '
               f'{last["year"]}, comparable sample</span></p>')
        for run in _runs(points, summary.get("breaks", [])):
            lo = min(r["estimate"] for r in run)
            hi = max(r["estimate"] for r in run)
            when = (f"{run[0]['year']}–{run[-1]['year']}" if len(run) > 1
                    else str(run[0]["year"]))
            rng = pct(lo) if pct(lo) == pct(hi) else f"between {pct(lo)} and {pct(hi)}"
            lines += f"<li>{esc(when)}: {rng}</li>"
        for b in summary.get("breaks", []):
            lines += (f"<li>The series is not compared across {esc(b['text'])} "
                      f"({b['after']}–{b['before']}).</li>")
    return (
        f'<article class="card trends"><h2 id="trends"><a href="{href}">Trends {span}</a></h2>'
        f'{big}<ul>{lines}</ul>'
        f'<p class="more"><a href="{href}">Read the trends report →</a></p></article>'
    )


def _runs(points: Sequence[Mapping[str, Any]], breaks: Sequence[Mapping[str, Any]]
          ) -> list[list[Mapping[str, Any]]]:
    """The points split into runs of years between the breaks."""
    cuts = sorted(int(b["before"]) for b in breaks)
    runs: list[list[Mapping[str, Any]]] = []
    for r in sorted(points, key=lambda r: r["year"]):
        if not runs or any(runs[-1][-1]["year"] < c <= r["year"] for c in cuts):
            runs.append([])
        runs[-1].append(r)
    return runs


def page_card(summary: Mapping[str, Any], trends: Mapping[str, Any] | None = None) -> str:
    """A page's card from its summary: a year's leads with its comparable figure (the
    ``trends`` summary's series), the publisher's own sample beside it, labelled."""
    if summary.get("kind") == "trends":
        return trends_card(summary)
    href = esc(summary["href"])
    year = str(summary["year"])
    comp = _comparable(trends).get(year) or summary.get("comparable")
    unw = summary.get("has_ospo_unweighted") or {}
    facts = []
    if comp and not comp.get("suppressed"):
        label = "comparable sample" + (", without the paid panel" if comp.get("without_panel")
                                       else "")
        big = f'<p class="big">{pct(comp["estimate"])} <span>have an OSPO ({label})</span></p>'
        facts.append(f"95% interval {pct(comp['ci_low'])}–{pct(comp['ci_high'])}, "
                     f"n = {int(comp['n']):,}")
    else:
        big = '<p class="big">–</p>'
    if unw and not unw.get("suppressed"):
        facts.append(f"Publisher's sample, as published (unweighted): {pct(unw['estimate'])} "
                     f"of {summary['n']:,} respondents")
    else:
        facts.append(f"{summary['n']:,} respondents (publisher sample)")
    if summary.get("headlines_total"):
        facts.append(
            f"{summary['headlines_reproduced']} of {summary['headlines_total']} publisher "
            "figures reproduced"
        )
    items = "".join(f"<li>{esc(f)}</li>" for f in facts)
    panel = summary.get("panel")
    caveat = ""
    if panel:
        caveat = (f'<p class="caveat">The publisher\'s {year} sample includes '
                  f'{int(panel["n"]):,} respondents from a paid {esc(panel["label"])}, '
                  f'{pct(panel["has_ospo_panel"])} of whom report an OSPO: figures with them '
                  "run high.</p>")
    return (
        f'<article class="card"><h2 id="y{year}"><a href="{href}">{year}</a></h2>{big}'
        f'<ul>{items}</ul>{caveat}<p class="more"><a href="{href}">Read the {year} '
        "report →</a></p></article>"
    )


def comparable_chart(trends: Mapping[str, Any]) -> str:
    """The front page's chart: the comparable series with 95% intervals, a gap and a marker at
    each series break, and the panel year's value with its paid panel as an open marker."""
    main = "comparable sample"
    rows = [{**r, "series": main} for r in trends.get("comparable", [])]
    panel = "2023 with its paid panel" if trends.get("with_panel") else ""
    rows += [{**r, "series": f"{r['year']} with its paid panel"} for r in
             trends.get("with_panel", [])]
    if not rows:
        return ""
    frame = pd.DataFrame(rows)
    frame["n_eff"] = float("nan")
    breaks = [((b["after"] + b["before"]) / 2, b["label"]) for b in trends.get("breaks", [])]
    chart = P.trend_ci(frame, title="Organisations with an OSPO or similar initiative, "
                       "comparable sample", ylabel="Share (%)", breaks=breaks,
                       marked=[s for s in frame["series"].unique() if s != main],
                       caption=(f"Respondents screened the same way every year, "
                                f"{_weighting(trends)}"
                                + (f"; {esc(panel)} is the open marker" if panel else "")
                                + ". The line stops at the 2022 change of screening and "
                                "wording."))
    return chart.html if chart is not None else ""


def quotable(summaries: Sequence[Mapping[str, Any]], trends: Mapping[str, Any] | None) -> str:
    """Three sentences a reader can quote, each with how to quote it: year, who answered,
    weighting, the interval in plain words."""
    years = sorted((s for s in summaries if s.get("kind") == "year"), key=lambda s: s["year"])
    comp = _comparable(trends)
    if not years or not comp:
        return ""
    last = years[-1]
    y = str(last["year"])
    weighting = _weighting(trends)
    items = []
    c = comp.get(y)
    if c and not c["suppressed"]:
        items.append((
            f"In {y}, {pct(c['estimate'])} of respondents' organisations had an OSPO or "
            "similar initiative.",
            f"{y} State of OSPOs survey; {int(c['n']):,} respondents involved in open source "
            f"and working for an organisation (the comparable sample); {weighting}; with "
            f"sampling noise alone the share is likely between {pct(c['ci_low'])} and "
            f"{pct(c['ci_high'])}."))
    size = last.get("size") or {}
    large, small = size.get("large"), size.get("small")
    if large and small and not (large["suppressed"] or small["suppressed"]):
        items.append((
            f"In {y}, {pct(large['estimate'])} of organisations with over 10,000 employees had "
            f"an OSPO, against {pct(small['estimate'])} of those with up to 250.",
            f"{y} survey; the publisher's own sample, {large['n']:,} and {small['n']:,} "
            f"respondents; {weighting}; likely ranges {pct(large['ci_low'])}–"
            f"{pct(large['ci_high'])} and {pct(small['ci_low'])}–{pct(small['ci_high'])}; an "
            "association with size, not a cause."))
    ch = last.get("change") or {}
    if ch.get("tested"):
        a, b = str(ch["from"]), str(ch["to"])
        panel = [yy for yy in (a, b) if (comp.get(yy) or {}).get("without_panel")]
        items.append((
            f"From {a} to {b}, the share of respondents' organisations with an OSPO went from "
            f"{pct(comp[a]['estimate'])} to {pct(comp[b]['estimate'])}.",
            f"{a} and {b} surveys, the comparable sample"
            + (f" ({', '.join(panel)} without its paid panel)" if panel else "")
            + f"; {weighting}; the change, {_signed(ch['estimate'])} points, is likely between "
            f"{_signed(ch['ci_low'])} and {_signed(ch['ci_high'])} points from sampling noise "
            "alone; who answered also changed."))
    if not items:
        return ""
    lis = "".join(f'<li><p class="quote"><strong>{esc(q)}</strong></p>'
                  f'<p class="how">How to quote: '
                  f"{esc(h)}</p></li>" for q, h in items)
    return (f'<section class="story" aria-labelledby="quotable"><h2 id="quotable">Three '
            f'findings to quote</h2><ol class="quotable">{lis}</ol></section>')


def _signed(x: float) -> str:
    return f"{100 * x:+.0f}".replace("-", "−")


def index_facts(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The facts the index states (``reports/facts.json``), with the ids the pages use."""
    trends = next((s for s in summaries if s.get("kind") == "trends"), None)
    weights = (trends or {}).get("weights") or "reference"
    w = "none" if weights == "none" else weights
    what = "share of organisations with an OSPO or similar initiative"
    out = []
    for r in (trends or {}).get("comparable", []):
        sample = "harmonized_without_panel" if r.get("without_panel") else "harmonized"
        if not r["suppressed"]:
            out.append(fact("has_ospo", sample, w, r["year"], r["estimate"], what))
        out.append(fact("answering_has_ospo", sample, None, r["year"], r["n"],
                        "respondents answering the OSPO question"))
    for r in (trends or {}).get("with_panel", []):
        if not r["suppressed"]:
            out.append(fact("has_ospo", "harmonized", w, r["year"], r["estimate"], what))
    for s in summaries:
        if s.get("kind") != "year":
            continue
        y = s["year"]
        out.append(fact("respondents", s.get("sample", "publisher"), None, y, s["n"],
                        "respondents in the sample"))
        unw = s.get("has_ospo_unweighted") or {}
        if unw and not unw.get("suppressed"):
            out.append(fact("has_ospo", s.get("sample", "publisher"), "unweighted", y,
                            unw["estimate"], what))
        for key, name, words in (("large", "has_ospo_over_10000", "over 10,000 employees"),
                                 ("small", "has_ospo_up_to_250", "up to 250 employees")):
            row = (s.get("size") or {}).get(key)
            if row and not row["suppressed"]:
                out.append(fact(name, s.get("sample", "publisher"), s.get("weights", w), y,
                                row["estimate"],
                                f"share with an OSPO among organisations with {words}"))
        ch = s.get("change") or {}
        if ch.get("tested"):
            panel = any(r.get("without_panel") for r in (trends or {}).get("comparable", [])
                        if str(r["year"]) in (str(ch["from"]), str(ch["to"])))
            out.append(fact("has_ospo_change", "harmonized_without_panel" if panel
                            else "harmonized", s.get("weights", w), f"{ch['from']}-{ch['to']}",
                            ch["estimate"],
                            "change in the share with an OSPO, in proportion points"))
    return out


def open_data_section(release: Release | None) -> str:
    """Links to the open data release, when it is built (``make release``)."""
    if release is None:
        return ""
    meta = release.meta
    base = f"{release.folder}/"
    respondents, package_file = release.respondents, release.package_file
    years = [r["path"] for r in meta["resources"] if r["name"] != respondents]
    per_year = ", ".join(
        f'<a href="{esc(base + p)}">{esc(Path(p).stem)}</a>' for p in years
    )
    licence = meta["licenses"][0]
    return f"""<section class="open-data">
<h2 id="open-data">Open data</h2>
<p>{esc(meta["resources"][0]["description"])} Download the respondents as
<a href="{base}{respondents}.csv">CSV</a> or <a href="{base}{respondents}.parquet">Parquet</a>,
and each year's answers to the closed questions ({per_year}), described by a Frictionless
<a href="{base}{package_file}">Data Package</a> (field types, levels, descriptions).
Licence: <a href="{esc(licence["path"])}">{esc(licence["name"])}</a>. {esc(meta["attribution"])}</p>
</section>"""


def index_main(summaries: Sequence[Mapping[str, Any]], release: Release | None, *,
               questions: bool = False) -> str:
    """The index's ``<main>`` content: title, contents, a card per page (trends, the years in
    order, the codebook), the open data and the footer. ``summaries``: the built pages'
    ``summary.json`` values; ``release``: the open data release, None when not built;
    ``questions``: the question pages are built (the index links them)."""
    years = sorted((s for s in summaries if s.get("kind") == "year"), key=lambda s: s["year"])
    trends = [s for s in summaries if s.get("kind") == "trends"]
    codebooks = [s for s in summaries if s.get("kind") == "codebook"]
    cards = "".join([*(page_card(s) for s in trends),
                     *(page_card(s, trends[0] if trends else None) for s in years),
                     *(codebook_card(s) for s in codebooks),
                     *(benchmark_card(s) for s in summaries if s.get("kind") == "benchmark")])
    toc = "".join(f'<li><a href="#trends">Trends {esc(s["years"][0])}–{esc(s["years"][-1])}'
                  "</a></li>" for s in trends if s.get("years"))
    toc += "".join(f'<li><a href="#y{s["year"]}">{s["year"]}</a></li>' for s in years)
    toc += "".join(f'<li><a href="{esc(s["href"])}">Codebook</a></li>' for s in codebooks)
    if release is not None:
        toc += '<li><a href="#open-data">Open data</a></li>'

    claims = [s for s in summaries if s.get("kind") == "claims"]
    story = ""
    if trends:
        chart = comparable_chart(trends[0])
        story = (('<section class="story" aria-labelledby="series"><h2 id="series">The '
                  "comparable series</h2>" + chart + "</section>" if chart else "")
                 + quotable(summaries, trends[0]))
    # the story's sections come first in the contents, when the page has them
    toc = "".join(f'<li><a href="#{a}">{t}</a></li>' for a, t in (
        ("series", "The comparable series"), ("quotable", "Findings to quote"))
        if f'id="{a}"' in story) + toc
    toc = (f'<nav class="toc" aria-label="Contents"><h2 class="toc-title">Contents</h2>'
           f'<ol class="inline">{toc}</ol></nav>' if toc else "")
    claims_line = "".join(
        f'<p class="claims-link"><a href="{esc(s["href"])}">Claims checked</a>: the '
        "publisher's comparative claims, reproduced and tested on the comparable series.</p>"
        for s in claims)
    if questions:
        claims_line += ('<p class="questions-link"><a href="questions/index.html">Questions '
                        "across the years</a>: every harmonised question, how each year asked "
                        "it and its answers side by side.</p>")
    if not cards:
        cards = "<p>No report has been built yet: run <code>make reports</code>.</p>"
    open_data = open_data_section(release)
    return f"""<h1 class="title" id="content" tabindex="-1">{esc(TITLE)}</h1>
<p class="subtitle">The TODO Group's State of OSPOs survey, {esc(years[0]['year']) if years
    else ''}–{esc(years[-1]['year']) if years else ''}, re-analysed from the published raw
data: one report per survey year, one on trends across the years, a codebook of the harmonised
variables and the open data behind them.</p>
{toc}
{story}
{claims_line}
<section class="cards" aria-label="Reports">
{cards}
</section>
{open_data}
<footer>
<p>Built by ospo-survey {esc(VERSION)} from
<a href="https://github.com/{UPSTREAM_REPO}/tree/{UPSTREAM_COMMIT}">{UPSTREAM_REPO}</a>
at commit <code>{UPSTREAM_COMMIT}</code>. Estimates describe the survey's opt-in respondents;
weighted figures are standardised to a common organisation-size and industry mix taken from the
surveys' own respondents, not to known population totals. See each report's methods appendix
for the limits of an opt-in survey.</p>
</footer>"""
