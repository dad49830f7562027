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

from ospo_survey.core.meta import VERSION
from ospo_survey.ingest.fetch import UPSTREAM_COMMIT, UPSTREAM_REPO
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


def benchmark_card(summary: Mapping[str, Any]) -> str:
    href = esc(summary["href"])
    return (f'<article class="card benchmark"><h2><a href="{href}">Organisations like mine'
            '</a></h2><p class="big">A peer benchmark</p><p>Pick your organisation\'s size, '
            "industry, region and OSPO status: its peers beside all organisations, pooled "
            f'over recent years.</p><p class="more"><a href="{href}">Compare →</a></p></article>')


def trends_card(summary: Mapping[str, Any]) -> str:
    href = esc(summary["href"])
    main = summary.get("main_series")
    values = summary.get("adoption", {}).get(main, {}) if main else {}
    vals = [(y, v) for y, v in values.items() if v is not None]
    years = summary.get("years", [])
    span = f"{years[0]}–{years[-1]}" if years else ""
    lines, big = "", '<p class="big">–</p>'
    if vals:
        low = min(vals, key=lambda kv: kv[1])
        high = max(vals, key=lambda kv: kv[1])
        big = (f'<p class="big">{pct(low[1])}–{pct(high[1])} <span>have an OSPO, year by '
               "year</span></p>")
        lines = (f"<li>lowest {pct(low[1])} ({low[0]}), highest {pct(high[1])} ({high[0]}), "
                 f"{esc(main)}</li>")
        panel_years = sorted(summary.get("adoption", {}).get(summary.get("panel_series"), {}))
        lines += "".join(f"<li>{esc(y)} without its paid panel</li>" for y in panel_years)
    return (
        f'<article class="card trends"><h2 id="trends"><a href="{href}">Trends {span}</a></h2>'
        f'{big}<ul>{lines}</ul>'
        f'<p class="why">The harmonised sample: one screen for every year, '
        f'{esc(summary.get("weighting", ""))}; see each year for its own figures.</p>'
        f'<p class="more"><a href="{href}">Read the trends report →</a></p></article>'
    )


def page_card(summary: Mapping[str, Any], trends: Mapping[str, Any] | None = None) -> str:
    """A page's card from its summary; a year's puts the publisher-sample figure beside the
    harmonised one of the ``trends`` summary."""
    if summary.get("kind") == "trends":
        return trends_card(summary)
    href = esc(summary["href"])
    year = str(summary["year"])
    has = summary.get("has_ospo") or {}
    unw = summary.get("has_ospo_unweighted") or {}
    big = (
        f'<p class="big">{pct(has.get("estimate"))} <span>have an OSPO</span></p>'
        if has and not has.get("suppressed")
        else '<p class="big">–</p>'
    )
    facts = [f"{summary['n']:,} respondents ({summary.get('sample', 'publisher')} sample)"]
    if has and not has.get("suppressed"):
        facts.append(f"95% CI {pct(has.get('ci_low'))}–{pct(has.get('ci_high'))}")
    if unw:
        facts.append(f"unweighted {pct(unw.get('estimate'))}")
    harmonised = None
    if trends:
        main = trends.get("main_series")
        harmonised = trends.get("adoption", {}).get(main, {}).get(year) if main else None
        if harmonised is not None:
            facts.append(f"harmonised sample, {main}: {pct(harmonised)}")
        with_panel = (trends.get("adoption", {}).get(trends.get("panel_series") or "", {})
                      .get(year))
        if with_panel is not None:
            facts.append(f"harmonised with the paid panel: {pct(with_panel)}")
    if summary.get("formal") is not None:
        facts.append(f"{pct(summary['formal'])} of OSPOs formal")
    if summary.get("headlines_total"):
        facts.append(
            f"{summary['headlines_reproduced']} of {summary['headlines_total']} publisher "
            "figures reproduced"
        )
    items = "".join(f"<li>{esc(f)}</li>" for f in facts)
    why = ""
    if harmonised is not None:
        why = ('<p class="why">The first figure uses the publisher\'s own sample for the year; '
               "the harmonised one screens every year the same way (involved in open source, "
               "works for an organisation)"
               + (" and leaves the paid panel out" if summary.get("panel") else "")
               + ", so it can be compared across years.</p>")
    panel = summary.get("panel")
    caveat = ""
    if panel:
        caveat = (f'<p class="caveat">Includes {int(panel["n"]):,} respondents from a paid '
                  f'{esc(panel["label"])}, {pct(panel["has_ospo_panel"])} of whom report an '
                  f"OSPO; without them, {pct(panel['has_ospo_without'])}.</p>")
    return (
        f'<article class="card"><h2 id="y{year}"><a href="{href}">{year}</a></h2>{big}'
        f'<ul>{items}</ul>{caveat}{why}<p class="more"><a href="{href}">Read the {year} '
        "report →</a></p></article>"
    )


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


def index_main(summaries: Sequence[Mapping[str, Any]], release: Release | None) -> str:
    """The index's ``<main>`` content: title, contents, a card per page (trends, the years in
    order, the codebook), the open data and the footer. ``summaries``: the built pages'
    ``summary.json`` values; ``release``: the open data release, None when not built."""
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

    toc = (f'<nav class="toc" aria-label="Contents"><h2 class="toc-title">Contents</h2>'
           f'<ol class="inline">{toc}</ol></nav>' if toc else "")
    if not cards:
        cards = "<p>No report has been built yet: run <code>make reports</code>.</p>"
    open_data = open_data_section(release)
    return f"""<h1 class="title" id="content" tabindex="-1">{esc(TITLE)}</h1>
<p class="subtitle">The TODO Group's State of OSPOs survey, {esc(years[0]['year']) if years
    else ''}–{esc(years[-1]['year']) if years else ''}, re-analysed from the published raw
data: one report per survey year, one on trends across the years, a codebook of the harmonised
variables and the open data behind them.</p>
{toc}
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
