"""What a year's methods appendix must disclose (AAPOR Transparency Initiative), as data.

Facts of the fieldwork (sponsor, who ran it, mode, population, recruitment) are declared per
year in the codebook's ``fieldwork:`` block; everything countable (screening funnel, channel
counts, fielding window, sample sizes, weighting variables) comes from the data the page uses.
No HTML here: :mod:`ospo_survey.rendering.disclosure` writes the sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ospo_survey.analysis.common import standardised_phrase
from ospo_survey.core.errors import CodebookError
from ospo_survey.ingest.dataset import fielding_window, funnel
from ospo_survey.ingest.harmonize import panel_level
from ospo_survey.ingest.settings import codebook_path, year_settings

if TYPE_CHECKING:
    from ospo_survey.analysis.year import YearAnalysis

FIELDWORK_KEYS = ("sponsor", "conducted_by", "mode", "population", "recruitment", "source")


def fieldwork(year: int) -> dict[str, str]:
    """The codebook's ``fieldwork:`` block, every key present and non-empty."""
    block = year_settings(year).get("fieldwork") or {}
    missing = [k for k in FIELDWORK_KEYS if not " ".join(str(block.get(k, "")).split())]
    if missing:
        raise CodebookError(
            f"{codebook_path(year)}: fieldwork: is missing {', '.join(missing)}; add it "
            f"(keys: {', '.join(FIELDWORK_KEYS)})"
        )
    return {k: " ".join(str(block[k]).split()) for k in FIELDWORK_KEYS}


@dataclass(frozen=True)
class Disclosure:
    """The facts behind one year's disclosure list."""

    year: int
    sample: str
    fieldwork: dict[str, str]
    raw_n: int
    n: int
    window: tuple[str, str] | None
    steps: pd.DataFrame  # the sample's funnel: step, action, rows_in, removed, rows_out, matched
    channels: pd.Series  # respondents per collector group (empty when the export has none)
    panel_level: str  # the channel level of a paid panel (variables.yaml channel.panel)
    weighted: bool
    scheme: str
    weighting_phrase: str  # 'standardised to a common ... mix across years' ('' unweighted)
    targets_pool: str  # 'pooled from 2018-2024 (version reference-2018-2024)' ('' if not said)
    n_eff: float
    deff: float
    min_n_eff: float
    quality_steps: list[str]  # names of the year's quality checks (codebook screening.quality)


def disclosure(ya: YearAnalysis) -> Disclosure:
    """Collect one page's disclosure facts from its codebook, funnel, manifest and weights."""
    f = funnel([ya.year])
    steps = f[f["screen"] == ya.sample].reset_index(drop=True)
    if ya.asked("channel"):
        counts = ya.frame["channel"].value_counts(sort=False)
        counts = counts[(counts > 0) & (counts.index.astype(str) != "unknown")]
    else:
        counts = pd.Series(dtype="int64")
    settings = year_settings(ya.year)
    quality = [str(s.get("name", "")) for s in settings.get("screening", {}).get("quality", [])]
    return Disclosure(
        year=ya.year,
        sample=ya.sample,
        fieldwork=fieldwork(ya.year),
        raw_n=int(ya.yd.survey.n),
        n=ya.n,
        window=fielding_window(ya.year, ya.sample),
        steps=steps,
        channels=counts.astype("int64"),
        panel_level=panel_level(),
        weighted=ya.winfo.weighted,
        scheme=ya.winfo.scheme,
        weighting_phrase=standardised_phrase(ya.winfo.margins) if ya.winfo.weighted else "",
        targets_pool=_targets_pool(ya.winfo.scheme) if ya.winfo.weighted else "",
        n_eff=float(ya.winfo.n_eff),
        deff=float(ya.winfo.deff),
        min_n_eff=ya.min_n_eff,
        quality_steps=[q for q in quality if q],
    )


def _targets_pool(scheme: str) -> str:
    """Which survey years the scheme's targets pool, and their version, as the targets file
    records them (a new year makes a new version, so past pages keep saying what they used)."""
    from ospo_survey.inference.schemes import targets

    spec = targets(scheme)
    years = spec.get("pooled_years") or []
    if not years:
        return ""
    span = f"{min(years)}-{max(years)}"
    version = spec.get("version")
    return f"pooled from {span}" + (f" (version {version})" if version else "")


def channel_counts(d: Disclosure) -> list[tuple[str, int]]:
    """(collector group, respondents) in the variable's level order."""
    return [(str(k), int(v)) for k, v in d.channels.items()]


def panel_count(d: Disclosure) -> int:
    """Respondents reached through the paid panel (0 in years without one)."""
    return int(dict(channel_counts(d)).get(d.panel_level, 0))

