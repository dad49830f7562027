"""The provenance footer of every page: upstream commit, toolkit version, raw files' sha256."""

from __future__ import annotations

from collections.abc import Iterable

from ospo_survey.core.meta import VERSION
from ospo_survey.ingest.dataset import provenance
from ospo_survey.rendering import plotting as P
from ospo_survey.rendering.html import esc, heading, para


def provenance_block(
    years: list[int], *, roles: Iterable[str] | None = None, extra: str = ""
) -> P.Html:
    """Heading, the upstream repository at its pinned commit, and the raw files (``roles`` of
    them, default all) with their sha256 as the processed tables' manifest records them."""
    prov = provenance(years)
    repo, _, commit = prov.attrs["upstream"].partition("@")
    link = f"https://github.com/{repo}/tree/{commit}"
    out = P.Html(label="provenance")
    out.add(heading(2, "Provenance", "provenance"))
    out.add(para(f'Upstream data: <a href="{esc(link)}">{esc(repo)}</a> at commit '
                 f"<code>{esc(commit)}</code>; toolkit ospo-survey {esc(VERSION)}{extra}."))
    show = prov if roles is None else prov[prov["role"].isin(list(roles))]
    show = show[["year", "role", "upstream_path", "sha256"]].copy()
    show["year"] = show["year"].astype(str)
    show["role"] = show["role"].astype(str).str.replace("_", " ")
    show = show.rename(columns={"role": "file", "upstream_path": "path in the upstream data"})
    out.add(P.table(show, caption="Raw files and their sha256",
                    formats={"sha256": P.raw_html(lambda v: f"<code>{esc(v)}</code>")},
                    css_class="data provenance"))
    return out
