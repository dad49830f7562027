"""The peer benchmark page: pick a profile, see its peers beside all organisations.

Why precomputed: the page works offline from ``file://`` with no server, so every profile the
controls allow is pooled at build time (:func:`ospo_survey.analysis.benchmark.lattice`) and
embedded as aggregates in one JSON block; a small script (``templates/benchmark/static``)
fills the table and chart when a control changes and keeps the profile in the URL's hash.
Only aggregates that pass the suppression threshold and complementary suppression are written:
a suppressed or withheld cell carries a reason code, never its numbers, and no respondent row
reaches the page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import product
from typing import Any

import pandas as pd

from ospo_survey.analysis import benchmark as B
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.rendering.html import esc

TITLE = "Organisations like mine: an OSPO peer benchmark"
STATIC = PACKAGE_DIR / "templates" / "benchmark" / "static"


def pct(x: float) -> float:
    """A share as the page stores and shows it: percent, one decimal."""
    return float(round(float(x) * 100, 1))


def _published(row: Any, years: dict[str, int]) -> list[Any]:
    return [pct(row.estimate), pct(row.ci_low), pct(row.ci_high), int(row.n), years[row.years]]


def _widen_codes(cells: pd.DataFrame, dims: Sequence[str]) -> dict[int, str]:
    """For each thin cell (under the threshold, not fixed nor structural): the part whose
    widening gains most effective n (the same rule as :func:`benchmark`'s ``reason``)."""
    names = {d.variable: d.name for d in B.dimensions()}
    n_eff = {(tuple(k), item): v for *k, item, v in cells[[*dims, "item", "n_eff"]]
             .itertuples(index=False)}
    thin = (cells["suppressed"] & cells["reason"].str.startswith("effective n")).to_numpy()
    out = {}
    for i, *key_, item in cells[[*dims, "item"]][thin].itertuples():
        key = tuple(key_)
        best, gain = None, -1.0
        for j, d in enumerate(dims):
            if key[j] == "":
                continue
            parent = (*key[:j], "", *key[j + 1:])
            value = B.widening_gain(n_eff.get((parent, item), 0.0))
            if value > gain:
                best, gain = d, value
        out[i] = f"w:{names[best]}" if best else "thin"
    return out


def page_data(lattice: B.Lattice) -> dict[str, Any]:
    """The JSON the page embeds: the controls, the rows, all organisations' shares per item and
    span of years, and one entry per profile with at least one match (a list, one element per
    row: ``[estimate, ci_low, ci_high, n, years]`` in percent, or a reason code)."""
    cells = lattice.cells
    dims = [d.variable for d in B.dimensions()]
    items = B.items()
    spans = sorted(set(cells["years"]) - {""})
    years = {s: i for i, s in enumerate(spans)}
    widen = _widen_codes(cells, dims)
    choice_index = {d.variable: {lv: i for i, lv in enumerate(d.choices.values())}
                    for d in B.dimensions()}
    position = {it.key: j for j, it in enumerate(items)}
    profiles: dict[str, list[Any]] = {}
    for i, row in enumerate(cells.itertuples(index=False)):
        key = "|".join("" if getattr(row, d) == "" else str(choice_index[d][getattr(row, d)])
                       for d in dims)
        entry = profiles.setdefault(key, ["none"] * len(items))
        if row.reason == B.FIXED:
            code: Any = "fixed"
        elif row.withheld:
            code = "withheld"
        elif row.suppressed and row.n == 0:
            code = "nobody"  # no one with this profile answered it: a known zero
        elif row.suppressed and row.reason.startswith("effective n"):
            code = widen[i]
        elif row.suppressed:
            code = "none"  # not asked of these peers (a structural reason)
        else:
            code = _published(row, years)
        entry[position[row.item]] = code
    sections = [it.section for it in items]
    for entry in profiles.values():  # a row absent in a section withheld elsewhere: withheld
        for name in set(sections):
            where = [j for j, sec in enumerate(sections) if sec == name]
            if any(isinstance(entry[j], str) and entry[j] not in ("none", "fixed", "nobody")
                   for j in where):
                for j in where:
                    if entry[j] == "none":
                        entry[j] = "withheld"
    alls = {f"{position[k]}|{years[s]}": [pct(v["estimate"]), pct(v["ci_low"]),
                                          pct(v["ci_high"]), int(v["n"])]
            for (k, s), v in lattice.all.items()}
    absent = _absent_hints(profiles, len(dims))
    return {
        "dims": [{"name": d.name, "label": d.label, "choices": list(d.choices)}
                 for d in B.dimensions()],
        "items": [{"section": it.section, "label": it.label} for it in items],
        "years": spans,
        "all": alls,
        "profiles": profiles,
        "absent": absent,
        "minNEff": float(lattice.min_n_eff),
    }


def _absent_hints(profiles: dict[str, list[Any]], k: int) -> dict[str, str]:
    """For profiles nobody matches: the part to widen (the one whose widening matches most)."""
    dims = B.dimensions()
    sizes = {key: sum(1 for c in v if isinstance(c, list)) for key, v in profiles.items()}
    out = {}
    ranges = [["", *map(str, range(len(d.choices)))] for d in dims]
    for combo in product(*ranges):
        key = "|".join(combo)
        if key in profiles:
            continue
        best, gain = None, -1
        for j in range(k):
            if combo[j] == "":
                continue
            parent = "|".join((*combo[:j], "", *combo[j + 1:]))
            value = sizes.get(parent, -1)
            if value > gain:
                best, gain = dims[j].name, value
        out[key] = best or ""
    return out


def _json_block(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.replace("</", "<\\/")


def _select(dim: B.Dimension) -> str:
    options = "".join(f'<option value="{esc(c)}">{esc(c)}</option>' for c in dim.choices)
    return (f'<div class="control"><label for="pick-{esc(dim.name)}">{esc(dim.label)}</label>'
            f'<select id="pick-{esc(dim.name)}" name="{esc(dim.name)}">'
            f'<option value="">any</option>{options}</select></div>')


def benchmark_main(lattice: B.Lattice) -> str:
    """The page's ``<main>`` content: the words, the controls, an empty table and chart that
    the script fills from the embedded aggregates, and the method."""
    data = page_data(lattice)
    threshold = f"{lattice.min_n_eff:g}"
    script = (STATIC / "benchmark.js").read_text(encoding="utf-8")
    style = (STATIC / "benchmark.css").read_text(encoding="utf-8")
    controls = "".join(_select(d) for d in B.dimensions())
    years = ", ".join(map(str, B.DEFAULT_YEARS))
    return f"""<style>{style}</style>
<h1 class="title" id="content" tabindex="-1">{esc(TITLE)}</h1>
<p class="subtitle">How do organisations like yours run open source? Pick a profile: the table
shows the peers who match it beside all organisations, pooled over the survey years {years}
(2023 without its paid panel of large organisations, re-weighted).</p>
<form class="profile" id="profile" aria-describedby="profile-help">
<fieldset><legend>Your organisation</legend>{controls}</fieldset>
<p id="profile-help" class="help">Leave a part at “any” to match everyone. The profile is kept
in the page's address, so the link you share opens the same comparison.</p>
</form>
<p class="status" id="status" role="status" aria-live="polite"></p>
<div class="table-scroll" tabindex="0" role="region" aria-label="Results table">
<table class="data benchmark" id="results">
<caption id="results-caption">Peers beside all organisations</caption>
<thead><tr><th scope="col">Item</th><th scope="col">Peers</th><th scope="col">95% interval</th>
<th scope="col">Peers n</th><th scope="col">All organisations</th>
<th scope="col">95% interval</th><th scope="col">All n</th><th scope="col">Years</th></tr>
</thead><tbody></tbody></table></div>
<figure class="benchmark-chart"><div id="chart"><svg id="chart-svg" role="img"
aria-label="Bar chart of the shares"></svg></div>
<figcaption>Peers (dark bars) beside all organisations (light bars), with 95% intervals; the
table above has the numbers.</figcaption></figure>
<section class="method" aria-labelledby="how"><h2 id="how">How to read it</h2>
<p>Shares are of the survey's opt-in respondents, weighted to a common organisation-size and
industry mix; they describe respondents, and a difference between peers and everyone is an
association, not a cause. Practices are the share doing each activity frequently; policies the
share with a formal policy; the journey stage is the highest rung of Ibrahim Haddad's ladder
ticked; challenges were asked of organisations with an OSPO (top three, 2022-2023). Each year
is estimated with its own weights and the years are pooled as independent strata, each weighted
by its number of respondents; intervals describe sampling noise only. Industry was not asked in
2024, policies and challenges not in 2024 either: the Years column says which years each row
pools.</p>
<p>A share whose effective sample size is under {threshold} is not shown, and the row says
which part of the profile to widen; a few more are withheld so that a hidden number cannot be
worked out from the published ones. The same numbers come from
<code>ospo_survey.benchmark()</code> and <code>ospo-survey benchmark</code>.</p>
</section>
<script type="application/json" id="benchmark-data">{_json_block(data)}</script>
<script>{script}</script>"""


def summary() -> dict[str, Any]:
    """The page's ``summary.json`` (the index links it)."""
    return {"kind": "benchmark", "title": "Organisations like mine",
            "href": "benchmark/index.html",
            "years": list(B.DEFAULT_YEARS)}
