"""A small report site built once per test session (shared by test_reports and test_browser).

Two years, one per raw header layout (2019: two header rows; 2024: three), the trends page and
the index: enough to check every kind of page while keeping the suite's time reasonable. Built
by the site builder behind `make reports` (``ospo_survey.site.batch``), two pages at a time.
"""

from __future__ import annotations

from pathlib import Path

SITE_YEARS = (2019, 2024)
_BUILT: dict[str, Path] = {}


def ensure_processed() -> None:
    """Build data/processed when it is missing or stale (the trends page reads only it)."""
    from ospo_survey.ingest import processed

    processed.manifest.cache_clear()
    if not processed.is_fresh():
        from ospo_survey.processing.build import build

        build()
        processed.manifest.cache_clear()


def build_site(tmp_path_factory) -> Path:
    """Build (once per process) into a temporary folder and return it."""
    if "site" in _BUILT:
        return _BUILT["site"]
    import os

    from ospo_survey.site.batch import build_site as build_pages

    ensure_processed()
    root = tmp_path_factory.mktemp("site")
    cwd = os.getcwd()
    # the builder `make reports` runs: the pages two at a time in one process, then the index
    # (and the question pages and the benchmark, which the year pages link to)
    names = [*map(str, SITE_YEARS), "trends", "questions", "benchmark"]
    built = build_pages(names, out_dir=root, jobs=2)
    assert sorted(built) == sorted(names)
    assert os.getcwd() == cwd  # the worker threads never move the process's folder
    _BUILT["site"] = root
    return root


def pages(root: Path) -> dict[str, Path]:
    """name -> HTML file of every page of the site."""
    out = {"index": root / "index.html", "trends": root / "trends" / "index.html",
           "claims": root / "claims" / "index.html"}  # written with the trends page
    out.update({str(y): root / str(y) / "index.html" for y in SITE_YEARS})
    return out
