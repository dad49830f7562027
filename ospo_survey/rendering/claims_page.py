"""The claims page (``reports/claims/index.html``): the publisher's comparative claims, checked.

Words for what :func:`ospo_survey.analysis.claims.check_claims` computes: for each claim, the
quote, whether our numbers reproduce the publisher's, whether the claim holds on the comparable
series with intervals, whether it crosses a series break or the paid panel, and whether it
survives adjustment for organisation size. :func:`write_claims_page` writes the page, its
``summary.json`` (the index links it) and its ``facts.json``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ospo_survey.analysis import claims as C
from ospo_survey.core.files import write_atomic
from ospo_survey.core.paths import PACKAGE_DIR
from ospo_survey.rendering.facts import FACTS_FILE, fact, facts_json
from ospo_survey.rendering.formats import pct
from ospo_survey.rendering.html import esc, json_number

TITLE = "The publisher's claims, checked"
CLAIMS_DIR = "claims"
_CSS = PACKAGE_DIR / "templates" / "ospo" / "static" / "style.css"


def _points(x: float) -> str:
    """'+6.5' for a difference of proportions (0.065): one decimal, so that a small change
    never reads as '−0'."""
    return f"{100 * x:+.1f}".replace("-", "−")


def _share(v: Mapping[str, Any] | None) -> str:
    if not v or v["suppressed"] or not math.isfinite(v["estimate"]):
        return "too few answers"
    return f"{pct(v['estimate'])} ({pct(v['ci_low'])}–{pct(v['ci_high'])}, n = {v['n']:,})"


def reproduction_words(c: Mapping[str, Any]) -> str:
    """'Reproduced: 63% and 37% (ours 62.5% and 27.0%)', naming what did not match."""
    parts = []
    for p, o, ok, g in zip(c["published"], c["ours"], c["reproduced"], c["groups"],
                           strict=False):
        if p is None:
            continue
        ours = "–" if not math.isfinite(o) else f"{o:.1f}%"
        label = "increase" if c["kind"] == "change" and len(c["published"]) == 1 else g
        parts.append(f"{label}: published {p:.0f}%, ours {ours} "
                     + ("(reproduced)" if ok else "(not reproduced)"))
    return "; ".join(parts)


def verdict_words(c: Mapping[str, Any]) -> str:
    """The verdict on the comparable series, with the difference and its interval."""
    if c.get("ci") is None:
        return c["verdict"].capitalize() + "."
    lo, hi = c["ci"]
    what = "change" if c["kind"] == "change" else "gap"
    return (f"{c['verdict'].capitalize()}: the {what} is {_points(c['difference'])} points "
            f"(95% interval {_points(lo)} to {_points(hi)}; sampling noise only).")


def size_words(c: Mapping[str, Any]) -> str:
    s = c.get("size")
    if s is None:
        return "Not tested."
    if isinstance(s, str):
        return s[0].upper() + s[1:] + "."
    return (f"{s['verdict'].capitalize()} (odds ratio of the later year "
            f"{s['odds_ratio']:.2f}, 95% interval {s['ci'][0]:.2f}–{s['ci'][1]:.2f}).")


def _flags(c: Mapping[str, Any]) -> str:
    parts = []
    if c["breaks"]:
        parts.append(f"crosses {'; '.join(c['breaks'])}")
    if c["panel"]:
        parts.append(f"the published {', '.join(map(str, c['panel']))} figure includes the "
                     "paid panel of large organisations; the comparable series leaves it out")
    return "; ".join(parts) if parts else "no series break, no paid panel"


def claims_main(checked: Sequence[Mapping[str, Any]]) -> str:
    """The page's ``<main>`` content."""
    rows = "".join(
        f'<tr><th scope="row"><a href="#claim-{esc(c["id"])}">{esc(c["source"])}</a></th>'
        f"<td>{esc(_short(c['quote']))}</td>"
        f"<td>{'yes' if all(r is not False for r in c['reproduced']) else 'not all'}</td>"
        f"<td>{esc(c['verdict'])}</td><td>{esc(_flags(c))}</td>"
        f"<td>{esc(size_words(c))}</td></tr>" for c in checked)
    table = ('<div class="table-scroll" role="region" aria-label="Claims and verdicts" '
             'tabindex="0"><table class="data claims"><caption>Claims and verdicts</caption>'
             '<thead><tr><th scope="col">source</th><th scope="col">claim</th>'
             '<th scope="col">numbers reproduced</th><th scope="col">on the comparable series'
             '</th><th scope="col">break or paid panel</th><th scope="col">adjusted for '
             f"organisation size</th></tr></thead><tbody>{rows}</tbody></table></div>")
    items = []
    for c in checked:
        values = "; ".join(f"{g}: {_share(v)}" for g, v in zip(c["groups"], c["comparable"],
                                                                 strict=False))
        note = f"<li>About the published figure: {esc(c['note'])}</li>" if c["note"] else ""
        items.append(
            f'<article class="claim" id="claim-{esc(c["id"])}"><h3>{esc(c["source"])}: '
            f"{esc(_short(c['quote']))}</h3><blockquote><p>{esc(c['quote'])}</p></blockquote>"
            f"<ul><li><strong>Verdict on the comparable series:</strong> "
            f"{esc(verdict_words(c))}</li>"
            f"<li>Comparable series: {esc(values)}.</li>"
            f"<li>The publisher's numbers, recomputed on its own sample, unweighted: "
            f"{esc(reproduction_words(c))}.</li>"
            f"<li>Series break or paid panel: {esc(_flags(c))}.</li>"
            f"<li>Adjusted for organisation size: {esc(size_words(c))}</li>{note}</ul>"
            "</article>")
    return f"""<nav class="crumbs" aria-label="Other reports"><a href="../index.html">All
reports</a> · <a href="../trends/index.html">Trends</a></nav>
<h1 class="title" id="content" tabindex="-1">{esc(TITLE)}</h1>
<p class="subtitle">Each comparative claim in the publisher's key findings, 2018–2024:
reproduced, then tested on the comparable series.</p>
<h2 id="how">How each claim is checked</h2>
<p>First, the publisher's numbers are recomputed on the publisher's own sample, unweighted, as
the publisher reports them. Then the claim is tested on the comparable series: the respondents
screened the same way every year, weighted to one common mix of organisation sizes and
industries, 2023 without its paid panel. A claim <em>holds</em> when the 95% interval of the
change or gap lies on the claimed side of zero, and is <em>not shown</em> when the interval
includes zero. Changes across the 2022 change of screening and wording are not tested. A
change is also tested adjusted for organisation size (a survey-weighted logistic model), to
see whether it is only a change in who answered. Intervals reflect sampling noise only; the
respondents chose to answer, so every figure describes them, not all organisations.</p>
<h2 id="verdicts">Claims and verdicts</h2>
{table}
<h2 id="claims">Each claim</h2>
{''.join(items)}"""


def _short(quote: str, words: int = 14) -> str:
    parts = quote.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def claims_page(checked: Sequence[Mapping[str, Any]]) -> str:
    """The whole page: the site's stylesheet, a skip link and the main content."""
    css = _CSS.read_text(encoding="utf-8")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(TITLE)} · OSPO survey</title>
<style type="text/css">
{css}
</style>
</head>
<body class="standalone">
<a class="skip-link" href="#content">Skip to content</a>
<main>
{claims_main(checked)}
</main>
</body>
</html>
"""


def claims_summary(checked: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the index needs: where the page is and how many claims hold."""
    return {"kind": "claims", "title": "Claims checked", "href": f"{CLAIMS_DIR}/index.html",
            "claims": len(checked),
            "holds": sum(c["verdict"] in (C.HOLDS, C.HOLDS_SAME) for c in checked)}


def claims_facts(checked: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The comparable shares the page states, with the ids the other pages use."""
    out = []
    for c in checked:
        if c["variable"] != "has_ospo" or c["kind"] != "change" or c.get("subset"):
            continue
        for y, v in zip(c["years"], c["comparable"], strict=False):
            if v and not v["suppressed"] and c["level"] == "has":
                sample = "harmonized_without_panel" if y in c["panel"] else "harmonized"
                out.append(fact("has_ospo", sample, "reference", y, v["estimate"],
                                "share of organisations with an OSPO or similar initiative"))
    return out


def write_claims_page(beside: str | os.PathLike[str] | None,
                      checked: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Write ``claims/index.html`` (with its summary.json and facts.json) next to the folder
    of ``beside`` (a page's summary path, e.g. the trends page's); a no-op without a path.
    Returns nothing, so that a notebook cell ending with it shows nothing on the page."""
    if not beside:
        return
    checked = C.check_claims() if checked is None else checked
    folder = Path(beside).parent.parent / CLAIMS_DIR
    write_atomic(folder / "index.html", claims_page(checked))
    summary = {k: json_number(v) for k, v in claims_summary(checked).items()}
    write_atomic(folder / "summary.json",
                 json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    write_atomic(folder / FACTS_FILE, facts_json(claims_facts(checked), str(folder)))
