"""Every figure the publisher printed that names a clear question and group, recomputed.

The table ``tests/fidelity/published_figures.csv`` holds, per figure: the year, the quoted
sentence, the measure (``pct`` share, ``count`` of respondents, ``funnel`` rows left after a
screening step or rows matched by a ``count``/``flag`` step), the publisher's question id,
the matrix row, the option label(s) counted (``|``-separated), an optional grouping question
and group label(s), the sample, answer labels excluded from the base (e.g. "Don't know"), the
printed value, and — where the printed value cannot be reproduced — the documented value we
get instead, with the reason in ``note``. The test recomputes each figure through the public
API and matches the printed rounding (half up).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

import ospo_survey

TABLE = Path(__file__).parent / "fidelity" / "published_figures.csv"
FIGURES = pd.read_csv(TABLE, dtype=str, keep_default_na=False)


def _split(cell: str) -> list[str]:
    return [c for c in cell.split("|") if c]


def recompute(fig: pd.Series) -> float:
    """The figure's value from the toolkit (percent or count)."""
    year = int(fig["year"])
    if fig["measure"] == "funnel":
        f = ospo_survey.funnel([year])
        f = f[(f["screen"] == fig["sample"]) & (f["step"] == fig["option"])]
        assert len(f) == 1, f"no funnel step {fig['option']!r} in {year}"
        column = "matched" if f["action"].iloc[0] in ("count", "flag") else "rows_out"
        return float(f[column].iloc[0])
    table = ospo_survey.frequencies(
        year, fig["question"], by=fig["by"] or None, sample=fig["sample"] or "publisher"
    )
    if fig["by"]:
        table = table[table["group"].isin(_split(fig["group"]))]
    if fig["row"]:
        table = table[table["row"] == fig["row"]]
    options = _split(fig["option"])
    unknown = set(options) - set(table["option"])
    assert not unknown, f"options not in {fig['question']}: {unknown}"
    chosen = table[table["option"].isin(options)] if options else table.iloc[0:0]
    keys = ["group"] if fig["by"] else []
    base = table.groupby(keys or (lambda _: 0))["base"].first().sum()
    excluded = table[table["option"].isin(_split(fig["exclude"]))]["n"].sum()
    if fig["measure"] == "count":
        return float(chosen["n"].sum()) if options else float(base)
    return 100.0 * chosen["n"].sum() / (base - excluded)


@pytest.mark.data
@pytest.mark.parametrize(
    "fig",
    [row for _, row in FIGURES.iterrows()],
    ids=[f"{r.year}-{i}" for i, r in FIGURES.iterrows()],
)
def test_published_figure(fig):
    value = recompute(fig)
    target = Decimal(fig["expected"] or fig["published"])
    # printed figures round half up (62.50% is printed as 63%)
    step = Decimal(1).scaleb(target.as_tuple().exponent)
    shown = Decimal(repr(float(value))).quantize(step, ROUND_HALF_UP)
    assert shown == target, (
        f"{fig['year']} {fig['quote']!r}: got {value:.3f}, expected {target} ({fig['note']})"
    )


def test_table_documents_every_deviation():
    differs = FIGURES[FIGURES["expected"] != ""]
    assert (differs["note"].str.len() > 10).all(), "each unreproduced figure needs its reason"
