"""Writing ``data/processed``: every processed table, validated and atomically replaced.

This step sits above loading (:mod:`ospo_survey.ingest.dataset`) and weighting
(:mod:`ospo_survey.inference.schemes`) because the processed tables include the reference weights;
nothing below imports it, which keeps loading and weighting free of cycles.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ospo_survey.core.errors import CodebookError
from ospo_survey.core.files import remove_stale_temporaries, write_atomic
from ospo_survey.core.paths import SOURCE_ENV, processed_dir
from ospo_survey.inference.schemes import diagnostics_table, year_weights
from ospo_survey.ingest.dataset import (
    SAMPLES,
    _select,
    codebook,
    fielding_window,
    funnel,
    load_harmonized,
    questions,
    year_data,
)
from ospo_survey.ingest.harmonize import definitions, output_columns
from ospo_survey.ingest.processed import is_fresh, raw_only, write_manifest
from ospo_survey.ingest.read import ANSWER_COLUMNS
from ospo_survey.ingest.settings import available_years

HARMONIZED_FLAGS = {"publisher_sample", "harmonized_sample", "company_level"}


def validate(frame: pd.DataFrame, name: str) -> None:
    """Schema checks on write: keys, types, levels, and nothing identifying.

    Harmonised columns must carry exactly the levels ``variables.yaml`` defines (categorical)
    or be nullable booleans (multiple-choice options); sample flags must be plain booleans.
    """
    def fail(msg: str) -> None:
        raise CodebookError(f"{name}: {msg}")

    if "row_id" in frame.columns:
        if frame["row_id"].isna().any() or frame["row_id"].duplicated().any():
            fail("row_id must be present and unique")
        if not frame["row_id"].is_monotonic_increasing:
            fail("rows must be sorted by row_id")
    for col in frame.columns:
        lowered = col.lower()
        if any(t in lowered for t in ("respondent_id", "collector_id", "ip_address", "_date")):
            fail(f"identifying column {col!r} must not be written")
    for flag in HARMONIZED_FLAGS & set(frame.columns):
        if frame[flag].dtype != bool:
            fail(f"{flag} must be boolean, not {frame[flag].dtype}")
    for var, vdef in definitions().items():
        for col in output_columns(var):
            if col not in frame.columns:
                continue
            dtype = frame[col].dtype
            if vdef["type"] == "multi":
                if str(dtype) != "boolean":
                    fail(f"{col} must be a nullable boolean, not {dtype}")
            elif not isinstance(dtype, pd.CategoricalDtype) or list(dtype.categories) != list(
                vdef["levels"]
            ):
                fail(f"{col} must be categorical with levels {vdef['levels']}")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Validate, then write atomically (temporary file in the same folder, then rename)."""
    validate(frame, str(path))
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow",
                                                    compression="zstd"))


def answer_maps(years: Iterable[int]) -> pd.DataFrame:
    """How every year's raw answers feed every harmonised variable it asks (the codebook page
    and ``codebook(year, variable)`` read this table in a page run)."""
    frames = []
    summary = codebook(list(years))
    for row in summary[summary["asked"]].itertuples(index=False):
        frames.append(codebook(int(row.year), str(row.variable)))
    out = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    return out.astype({c: "string" for c in out.columns if c != "year"})


def build(
    years: Iterable[int] | None = None, *, out_dir: Path | None = None, progress=None
) -> list[Path]:
    """Write every processed table; returns the paths written (sorted).

    The tables are always computed from the raw files (never read back from older tables).
    """
    year_data.cache_clear()
    year_weights.cache_clear()
    with raw_only():
        return _build(years, out_dir=out_dir, progress=progress)


def ensure_fresh() -> None:
    """Build ``data/processed`` when it is missing or stale (one line on stderr), so that the
    API reads the processed tables instead of re-reading and re-harmonising the raw files.
    Does nothing when the tables are fresh or ``$OSPO_SURVEY_SOURCE`` is ``raw``/``processed``
    (the site builder's runs, which must not write them)."""
    if os.environ.get(SOURCE_ENV, "auto") != "auto" or is_fresh():
        return
    print(f"ospo-survey: {processed_dir()} is missing or stale: building it"
          " (as `make processed` does)", file=sys.stderr)
    build()
    for cached in (year_data, year_weights):
        cached.cache_clear()


def _build(
    years: Iterable[int] | None = None, *, out_dir: Path | None = None, progress=None
) -> list[Path]:
    out = Path(out_dir) if out_dir else processed_dir()
    ys = sorted(int(y) for y in (years or available_years()))
    remove_stale_temporaries(out)
    written: list[Path] = []
    for y in ys:
        data = year_data(y)
        for name, frame in (
            ("answers", _select(data.answers, "all")),
            ("harmonized", _select(data.harmonized, "all")),
        ):
            path = out / str(y) / f"{name}.parquet"
            write_parquet(frame, path)
            written.append(path)
        if progress:
            progress(f"built {y}: {int(data.harmonized['publisher_sample'].sum())} respondents")
    tables = {
        "harmonized.parquet": load_harmonized(ys, sample="all"),
        "codebook.parquet": codebook(ys),
        "funnel.parquet": funnel(ys),
        "questions.parquet": questions(ys).astype({"row": "string", "option": "string"}),
        "answer_map.parquet": answer_maps(ys),
        "answer_labels.parquet": pd.concat(
            [year_data(y).survey.answers.assign(year=y)[["year", *ANSWER_COLUMNS]] for y in ys],
            ignore_index=True,
        ),
    }
    weights = []
    for y in ys:
        yw = year_weights(y, "reference", "harmonized")
        weights.append(pd.DataFrame({"year": y, "row_id": yw.frame["row_id"].to_numpy(),
                                     "weight": yw.weights.to_numpy()}))
    tables["weights.parquet"] = pd.concat(weights, ignore_index=True)
    diag = diagnostics_table("reference", "harmonized")
    tables["weight_diagnostics.parquet"] = diag[diag["year"].isin(ys)].reset_index(drop=True)
    for name, frame in tables.items():
        write_parquet(frame, out / name)
        written.append(out / name)
    fielding = {
        str(y): {s: list(w) for s in SAMPLES if (w := fielding_window(y, s)) is not None}
        for y in ys
    }
    written.append(write_manifest(out, ys, fielding))
    return sorted(written)
