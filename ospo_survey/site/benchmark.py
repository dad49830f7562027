"""Building the peer benchmark page (``reports/benchmark/index.html``), like the codebook page:
no notebook, one process; the aggregates are computed here at build time
(:func:`ospo_survey.analysis.benchmark.lattice`) from the processed tables only."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ospo_survey.core.errors import ReportError
from ospo_survey.core.files import write_atomic
from ospo_survey.core.paths import SOURCE_ENV, reports_dir
from ospo_survey.site.pages import MAX_PAGE_BYTES, Progress, _standalone, print_progress

NAV = ('<nav class="crumbs" aria-label="Other reports"><a href="../index.html">All reports</a>'
       ' · <a href="../trends/index.html">Trends</a> · <a href="../codebook/index.html">'
       "Codebook</a></nav>")


def benchmark_page_path(out_dir: Path | None = None) -> Path:
    return (Path(out_dir) if out_dir else reports_dir()) / "benchmark" / "index.html"


def build_benchmark(out: Path | None = None, *,
                    progress: Progress | None = print_progress) -> Path:
    """Write the benchmark page and its ``summary.json`` (the index links it); fails when the
    page would exceed the site's page-size limit."""
    from ospo_survey.analysis.benchmark import lattice
    from ospo_survey.rendering.benchmark_page import TITLE, benchmark_main, summary

    out = Path(out) if out else benchmark_page_path()
    previous = os.environ.get(SOURCE_ENV)
    os.environ[SOURCE_ENV] = "processed"
    try:
        main = benchmark_main(lattice())
    finally:
        if previous is None:
            os.environ.pop(SOURCE_ENV, None)
        else:
            os.environ[SOURCE_ENV] = previous
    body = _standalone(f"{TITLE} · OSPO survey", main, nav=NAV)
    size = len(body.encode("utf-8"))
    if size > MAX_PAGE_BYTES:
        raise ReportError(f"{out} would be {size / 1e6:.1f} MB (limit 3 MB)")
    write_atomic(out, body)
    write_atomic(out.parent / "summary.json",
                 json.dumps(summary(), sort_keys=True, indent=2) + "\n")
    if progress:
        progress(f"[benchmark] wrote {out} ({size / 1e6:.2f} MB)")
    return out
