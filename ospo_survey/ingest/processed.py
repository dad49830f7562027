"""Reading ``data/processed``: the tables pages are built from, and the manifest beside them.

``make processed`` (:func:`ospo_survey.processing.build.build`) writes the tables and
``manifest.json``: each raw file's sha256 (for provenance footers) and the sha256 of every package
data file that feeds the tables (codebooks, variable definitions, targets, file registry). A
reader checks the manifest against the package's files, so a page is never built from tables
that no longer match the codebooks: the error says to run ``make processed``.

Processed first: by default (``OSPO_SURVEY_SOURCE`` unset or ``auto``) the loaders of
:mod:`ospo_survey.ingest.dataset` read here whenever the tables are fresh — the manifest matches
the package's data files (which pin the raw files' sha256) and every year stamp matches the code
that reads, harmonises and weights — and fall back to the raw files otherwise.
``OSPO_SURVEY_SOURCE=processed`` (set by the site builder for pages whose inputs are processed
tables) makes them read here only and forbids raw reads; ``OSPO_SURVEY_SOURCE=raw`` makes them
always compute from the raw files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ospo_survey.core.errors import MissingFileError, StaleProcessedError
from ospo_survey.core.paths import PACKAGE_DIR, SOURCE_ENV, processed_dir, raw_reads_forbidden

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
YEAR_STAMP = "inputs.json"  # data/processed/<year>/inputs.json: what that year's rows come from
# the code that turns raw files into processed tables (a change to it can change every year)
CODE_GLOBS = ("core/*.py", "ingest/*.py", "inference/**/*.py", "processing/*.py")
REBUILD = "build the processed tables with `make processed`"
# package data that feeds the processed tables (relative to the package folder)
INPUT_GLOBS = ("codebooks/*.yaml", "variables.yaml", "targets/*.yaml", "registry/*.csv")


_RAW_ONLY: list[bool] = []  # non-empty while the processed tables are being built


def from_processed() -> bool:
    """Whether loaders read ``data/processed``, not the raw files: always under
    ``$OSPO_SURVEY_SOURCE=processed``, never under ``raw`` or while the tables are being built,
    and otherwise whenever the tables are fresh (:func:`is_fresh`)."""
    if raw_reads_forbidden():
        return True
    if _RAW_ONLY or os.environ.get(SOURCE_ENV, "auto") == "raw":
        return False
    return is_fresh()


@contextmanager
def raw_only() -> Iterator[None]:
    """Loaders compute from the raw files inside this block (the processed build uses it)."""
    _RAW_ONLY.append(True)
    try:
        yield
    finally:
        _RAW_ONLY.pop()


def is_fresh() -> bool:
    """Whether ``data/processed`` exists and was built from the package's current data files
    (codebooks, definitions, targets, the raw-file registry and its sha256) and code."""
    from ospo_survey.ingest.settings import codebook_dir

    path = processed_dir() / MANIFEST
    try:
        st = path.stat()
    except OSError:
        return False
    return _fresh(str(path), st.st_mtime_ns, st.st_size, str(codebook_dir()))


@lru_cache(maxsize=8)
def _fresh(path: str, mtime_ns: int, size: int, codebooks: str) -> bool:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("inputs") != input_digests():
        return False
    code = code_digest()
    for year in data.get("years", []):
        stamp = Path(path).parent / str(year) / YEAR_STAMP
        try:
            if json.loads(stamp.read_text(encoding="utf-8")).get("code") != code:
                return False
        except (OSError, ValueError):
            return False
    return True


def input_digests() -> dict[str, str]:
    """sha256 of every package data file that feeds the processed tables, by relative path."""
    from ospo_survey.ingest.settings import codebook_dir

    out: dict[str, str] = {}
    for pattern in INPUT_GLOBS:
        base = PACKAGE_DIR
        if pattern.startswith("codebooks/"):
            base, pattern = codebook_dir(), pattern.split("/", 1)[1]
            prefix = "codebooks/"
        else:
            prefix = ""
        for path in sorted(base.glob(pattern)):
            rel = prefix + path.name if prefix else str(path.relative_to(PACKAGE_DIR))
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(out.items()))


@cache
def manifest() -> dict[str, Any]:
    """The manifest of ``data/processed``, checked against the package's data files."""
    path = processed_dir() / MANIFEST
    if not path.is_file():
        raise MissingFileError(f"{path} is missing: {REBUILD}")
    data = json.loads(path.read_text(encoding="utf-8"))
    now = input_digests()
    for rel, digest in sorted(data.get("inputs", {}).items()):
        if now.get(rel) != digest:
            raise StaleProcessedError(
                f"{path}: {rel} changed since the processed tables were built: run `make processed`"
            )
    extra = sorted(set(now) - set(data.get("inputs", {})))
    if extra:
        raise StaleProcessedError(
            f"{path}: {extra[0]} is newer than the processed tables: run `make processed`"
        )
    return data


def table(name: str) -> pd.DataFrame:
    """One processed table (``harmonized``, ``funnel``, ``2022/harmonized`` ...), verified fresh.

    Each file is read once per process and version (its path, modification time and size):
    a page asks for the same tables many times. Callers get their own copy.
    """
    return _read_parquet(*version(name)).copy()


def version(name: str) -> tuple[str, int, int]:
    """What identifies one processed table's content in this process: its path, modification
    time and size (the key of the per-process caches built on the tables)."""
    manifest()
    path = processed_dir() / f"{name}.parquet"
    if not path.is_file():
        raise MissingFileError(f"{path} is missing: {REBUILD}")
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def read_version(key: tuple[str, int, int]) -> pd.DataFrame:
    """The cached frame of one table version (see :func:`version`) itself, not a copy: for
    caches that derive new frames from it and never change it."""
    return _read_parquet(*key)


@lru_cache(maxsize=64)
def _read_parquet(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(path, engine="pyarrow")


def provenance(years: list[int]) -> pd.DataFrame:
    """year, role, upstream_path, sha256 of the raw files behind the processed tables."""
    import pandas as pd

    data = manifest()
    wanted = {str(y) for y in years} | {"all"}  # the shared files (LICENSE) always
    rows = [f for f in data["raw_files"] if str(f["year"]) in wanted]
    out = pd.DataFrame(rows, columns=["year", "role", "upstream_path", "sha256"])
    out.attrs["upstream"] = data["upstream"]
    return out


def fielding(year: int, sample: str) -> tuple[str, str] | None:
    """First start and last completion date (ISO days) of a year's sample, from the manifest."""
    window = manifest().get("fielding", {}).get(str(int(year)), {}).get(sample)
    return (window[0], window[1]) if window else None


@cache
def year_survey(year: int) -> Any:
    """One year's answers as :class:`~ospo_survey.ingest.read.RawSurvey` offers them to the
    answer decoders, rebuilt from the processed tables (labels, write-in flags, codes)."""
    from ospo_survey.ingest.read import ProcessedSurvey

    year = int(year)
    answers = table(f"{year}/answers")
    questions = table("questions")
    questions = questions[questions["year"] == year].drop(columns="year").reset_index(drop=True)
    codes = table("answer_labels")
    codes = codes[codes["year"] == year].drop(columns="year").reset_index(drop=True)
    return ProcessedSurvey.from_tables(
        year, processed_dir() / str(year) / "answers.parquet", answers, questions, codes
    )


def write_manifest(
    out_dir: Path, years: list[int], fielding: dict[str, dict[str, list[str]]] | None = None
) -> Path:
    """The manifest for tables just built from ``years`` (raw hashes as verified on read)."""
    from ospo_survey.core.files import write_atomic
    from ospo_survey.ingest.fetch import provenance as raw_provenance

    prov = raw_provenance(years)
    data = {
        "upstream": prov.attrs["upstream"],
        "years": [int(y) for y in years],
        "raw_files": [
            {"year": r.year if isinstance(r.year, str) else int(r.year), "role": str(r.role),
             "upstream_path": str(r.upstream_path), "sha256": str(r.sha256)}
            for r in prov.itertuples(index=False)
        ],
        "inputs": input_digests(),
        "fielding": fielding or {},
    }
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = write_atomic(out_dir / MANIFEST, text)
    write_year_stamps(out_dir, data)
    return path


def code_digest() -> str:
    """sha256 over the code that reads, harmonises and weights (one digest for all of it)."""
    h = hashlib.sha256()
    for pattern in CODE_GLOBS:
        for path in sorted(PACKAGE_DIR.glob(pattern)):
            h.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def write_year_stamps(out_dir: Path, manifest_data: dict[str, Any]) -> list[Path]:
    """Per year, ``<year>/inputs.json``: the digests of what that year's rows are built from
    (its raw files, its codebook, the shared definitions and targets, the code).

    Rewritten only when its content changes, so its modification time says when the year's
    processed rows last changed: the Makefile makes each year page depend on it (and
    make re-reads it after the build), so a change to one year's codebook rebuilds that
    year's page and what reads it, not every page.
    """
    from ospo_survey.core.files import write_atomic

    shared = {k: v for k, v in manifest_data["inputs"].items()
              if not k.startswith(("codebooks/", "registry/"))}
    code = code_digest()
    written = []
    for year in manifest_data["years"]:
        data = {
            "year": int(year),
            "raw_files": [r for r in manifest_data["raw_files"] if r["year"] == year],
            "codebook": manifest_data["inputs"].get(f"codebooks/{year}.yaml"),
            "inputs": shared,
            "code": code,
        }
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        path = out_dir / str(year) / YEAR_STAMP
        if not (path.is_file() and path.read_text(encoding="utf-8") == text):
            write_atomic(path, text)
        written.append(path)
    return written
