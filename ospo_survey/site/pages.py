"""Building the report site: run a notebook with papermill, clean it, convert it, write it.

Kept apart from the page code (:mod:`ospo_survey.analysis`, :mod:`ospo_survey.rendering`),
which computes what the pages show inside the notebook's kernel: the process that builds a page
(make runs one per page) needs papermill and nbconvert, not the report code, matplotlib or
seaborn.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ospo_survey.core.errors import MissingFileError, ReportError
from ospo_survey.core.files import write_atomic
from ospo_survey.core.paths import PACKAGE_DIR, SOURCE_ENV, project_root, reports_dir
from ospo_survey.rendering.html import esc, with_contents, years_span
from ospo_survey.site.charts import write_chart_files

TEMPLATE_DIR = PACKAGE_DIR / "templates"
TEMPLATE_NAME = "ospo"
MAX_PAGE_BYTES = 3_000_000
PAGE_KINDS = ("year", "trends")
# where each page kind reads its data: "processed" tables only, or the verified raw files
PAGE_SOURCES = {"year": "processed", "trends": "processed"}  # every page: processed only
Progress = Callable[[str], object]


# =========================================================================== building


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def print_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _skip_slow_optional_imports() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in the page builder (1.2-1.6 s a page).

    jsonschema (via nbformat, under papermill and nbconvert) imports that optional IRI checker
    eagerly, and it compiles a grammar on import (python-jsonschema/jsonschema#1428). Notebook
    validation never checks IRI formats, so the builder marks the module absent before
    jsonschema is first imported; a process that already loaded it is left as it is.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def execute_notebook(path: Path, parameters: Mapping[str, Any], *, kernel: str = "python3",
                     km: Any = None):
    """Run a notebook with papermill (in memory, no file written); returns the notebook.

    ``km``: a kernel manager to run it on, left running afterwards (the site builder's
    workers keep one kernel each); by default a new kernel, stopped at the end."""
    _skip_slow_optional_imports()
    import papermill as pm

    reuse = {} if km is None else {"km": km}
    try:
        return pm.execute_notebook(
            str(path),
            None,
            parameters=dict(parameters),
            kernel_name=kernel,
            # the kernel starts in the notebook's folder; papermill's own cwd= would chdir
            # this whole process, which the site builder's worker threads share
            resources={"metadata": {"path": str(path.parent)}},
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            # every cell has run and the page's files are written: stop the kernel at once
            # instead of waiting for it to exit (0.2 s a page, at times 3 s)
            shutdown_kernel="immediate",
            **reuse,
        )
    except pm.PapermillExecutionError as exc:
        detail = f"{exc.ename}: {exc.evalue}"
        raise ReportError(f"{path.name} failed in cell {exc.exec_count}: {detail}") from exc


def settle_builder() -> None:
    """For a process that builds pages and then exits (``ospo-survey site``): import papermill
    and nbconvert now and move everything alive to the garbage collector's permanent
    generation (``gc.freeze``), so that the full collections the pages' notebooks trigger do
    not walk those modules again (0.4 s of a site build). Not for a long-lived process: cycles
    among the frozen objects are never collected."""
    import gc

    _skip_slow_optional_imports()
    import nbconvert  # noqa: F401
    import papermill  # noqa: F401

    gc.freeze()


_VOLATILE_CELL_META = ("papermill", "execution", "collapsed", "scrolled", "ExecuteTime")


def clean_notebook(nb: Any, *, log: Progress | None = None) -> Any:
    """Remove everything that differs between runs; returns the same notebook.

    Papermill and nbclient timings, widget state, random cell ids (renumbered), execution
    counts (renumbered), stderr streams (sent to ``log`` instead) and code cells left without
    output.
    """
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    cells = []
    count = 0
    for cell in nb.cells:
        for key in _VOLATILE_CELL_META:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            outputs = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    if log is not None and out.get("text", "").strip():
                        log("  notebook stderr: " + " ".join(out["text"].split())[:300])
                    continue
                if "execution_count" in out:
                    out["execution_count"] = None
                out.get("metadata", {}).pop("papermill", None)
                data = out.get("data", {})
                if "text/html" in data and not str(data["text/html"]).strip():
                    continue  # an empty fragment: a section the year did not ask
                outputs.append(out)
            cell.outputs = outputs
            cell.execution_count = None
            if not outputs:
                continue
            count += 1
            cell.execution_count = count
            for out in outputs:
                if "execution_count" in out:
                    out["execution_count"] = count
        cells.append(cell)
    for i, cell in enumerate(cells, start=1):
        cell["id"] = f"cell-{i:04d}"
    nb.cells = cells
    return nb


_IMG_NO_ALT = re.compile(r"<img(?![^>]*\balt=)([^>]*)>", re.IGNORECASE)
_EXTERNAL = re.compile(
    r"<(?:script|link|iframe|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


_EXPORTERS = threading.local()


def _exporter() -> Any:
    """This thread's HTML exporter, made once: its templates are compiled on first use, which
    costs a page builder more than converting a page (exporters are not shared by threads)."""
    exporter = getattr(_EXPORTERS, "html", None)
    if exporter is None:
        _skip_slow_optional_imports()
        from nbconvert import HTMLExporter

        exporter = _EXPORTERS.html = HTMLExporter(
            template_name=TEMPLATE_NAME,
            extra_template_basedirs=[str(TEMPLATE_DIR)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
            anchor_link_text="¶",
        )
    return exporter


def render_html(nb: Any, title: str, root: str = "../") -> str:
    """nbconvert's HTML exporter with code hidden and the report template; alt text ensured;
    the search box links from ``root``, the page's way up to the reports folder."""
    from ospo_survey.site.search import search_form

    exporter = _exporter()
    nb.metadata["title"] = title
    nb.metadata["search_header"] = search_form(root)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = with_contents(_IMG_NO_ALT.sub(r'<img alt="Chart"\1>', body))
    if _EXTERNAL.search(body):
        raise ReportError(f"{title}: the page loads a resource from the network")
    return body


def page_path(kind: str, year: int | None = None, out_dir: Path | None = None) -> Path:
    root = Path(out_dir) if out_dir else reports_dir()
    return root / ("trends" if kind == "trends" else str(int(year))) / "index.html"


@dataclass
class ExecutedPage:
    """A page's notebook after its kernel has run it: what :func:`write_page` turns into HTML."""

    nb: Any
    out: Path
    label: str
    title: str
    run_seconds: float


def execute_page(
    kind: str,
    year: int | None = None,
    out: Path | None = None,
    weights: str = "reference",
    *,
    progress: Progress | None = print_progress,
    km: Any = None,
) -> ExecutedPage:
    """Run one page's notebook (``km``: on this kernel, see :func:`execute_notebook`); the
    page is written by :func:`write_page`. The site builder renders one page while its kernel
    runs the next."""
    if kind not in PAGE_KINDS:
        raise ReportError(f"unknown page kind {kind!r}: use one of {', '.join(PAGE_KINDS)}")
    if kind == "year":
        from ospo_survey.ingest.settings import year_settings

        year_settings(year)  # UnknownYearError early
        year = int(year)
    out = Path(out) if out else page_path(kind, year)
    say = progress or (lambda _m: None)
    label = f"{year}" if kind == "year" else "trends"
    t0 = time.perf_counter()
    nb_path = notebooks_dir() / ("report.ipynb" if kind == "year" else "trends.ipynb")
    if not nb_path.is_file():
        raise MissingFileError(f"the report notebook {nb_path} is missing")
    params: dict[str, Any] = {"weights": weights, "summary_path": str(out.parent / "summary.json")}
    if kind == "year":
        params["year"] = year
    say(f"[{label}] executing {nb_path.name} ({weights} weights)")
    # the kernel inherits the source: pages whose inputs are processed tables never read raw
    previous = os.environ.get(SOURCE_ENV)
    os.environ[SOURCE_ENV] = PAGE_SOURCES[kind]
    try:
        nb = execute_notebook(nb_path, params, km=km)
    finally:
        if previous is None:
            os.environ.pop(SOURCE_ENV, None)
        else:
            os.environ[SOURCE_ENV] = previous
    title = (f"The {year} OSPO survey: research report" if kind == "year"
             else f"OSPO survey trends, {years_span()}")
    return ExecutedPage(nb, out, label, title, time.perf_counter() - t0)


def write_page(page: ExecutedPage, *, progress: Progress | None = print_progress) -> Path:
    """Clean, render and write an executed page, with its chart CSVs beside it."""
    say = progress or (lambda _m: None)
    t1 = time.perf_counter()
    nb = clean_notebook(page.nb, log=say)
    say(f"[{page.label}] rendering HTML")
    body = render_html(nb, page.title)
    out = page.out
    body, csvs = write_chart_files(body, out.parent)  # each chart's numbers beside the page
    size = len(body.encode("utf-8"))
    if size > MAX_PAGE_BYTES:
        raise ReportError(f"{out} would be {size / 1e6:.1f} MB (limit 3 MB)")
    write_atomic(out, body)
    t2 = time.perf_counter()
    say(
        f"[{page.label}] wrote {out} ({size / 1e6:.2f} MB, {csvs} chart CSVs; "
        f"run {page.run_seconds:.1f} s, render {t2 - t1:.1f} s)"
    )
    return out


def build_page(
    kind: str,
    year: int | None = None,
    out: Path | None = None,
    weights: str = "reference",
    *,
    progress: Progress | None = print_progress,
    km: Any = None,
) -> Path:
    """Execute, clean, render and write one page (and its ``summary.json`` beside it);
    ``km``: run the notebook on this kernel (see :func:`execute_notebook`). For example,
    ``build_page("year", 2022)`` writes and returns ``reports/2022/index.html``."""
    page = execute_page(kind, year, out, weights, progress=progress, km=km)
    return write_page(page, progress=progress)


# --------------------------------------------------------------------------- codebook page


def codebook_page_path(out_dir: Path | None = None) -> Path:
    return (Path(out_dir) if out_dir else reports_dir()) / "codebook" / "index.html"


def build_codebook(
    out_dir: Path | None = None, *, progress: Progress | None = print_progress
) -> Path:
    """``reports/codebook/index.html``: every harmonised variable and what feeds it, from the
    processed tables only (no notebook: the page is tables)."""
    from ospo_survey.rendering.codebook_page import codebook_body

    out = codebook_page_path(out_dir)
    previous = os.environ.get(SOURCE_ENV)
    os.environ[SOURCE_ENV] = "processed"
    try:
        main = codebook_body()
    finally:
        if previous is None:
            os.environ.pop(SOURCE_ENV, None)
        else:
            os.environ[SOURCE_ENV] = previous
    body = _standalone("Codebook: the harmonised variables · OSPO survey", main,
                       nav='<nav class="crumbs"><a href="../index.html">All reports</a> · '
                           '<a href="../trends/index.html">Trends</a></nav>')
    write_atomic(out, body)
    summary = {"kind": "codebook", "title": "Codebook", "href": "codebook/index.html"}
    write_atomic(out.parent / "summary.json",
                 json.dumps(summary, sort_keys=True, indent=2) + "\n")
    if progress:
        progress(f"[codebook] wrote {out} ({len(body.encode('utf-8')) / 1e6:.2f} MB)")
    return out


def _standalone(title: str, main: str, *, nav: str = "", body_class: str = "standalone",
                main_attrs: str = ' id="content"', root: str = "../",
                description: str = "") -> str:
    """A page of the site written without a notebook (the index, the codebook): the report
    stylesheet, a skip link, the search box (links from ``root``, the way up to the reports
    folder), an optional navigation line and one <main>."""
    from ospo_survey.site.search import search_form

    nav_line = f"{nav}\n" if nav else ""
    meta = f'<meta name="description" content="{esc(description)}">\n' if description else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(title)}</title>
{meta}<style type="text/css">
{_css()}
</style>
</head>
<body class="{body_class}">
<a class="skip-link" href="#content">Skip to content</a>
{search_form(root)}
{nav_line}<main{main_attrs}>
{main}
</main>
</body>
</html>
"""


# --------------------------------------------------------------------------- index page


def _css() -> str:
    return (TEMPLATE_DIR / TEMPLATE_NAME / "static" / "style.css").read_text(encoding="utf-8")


def build_index(out_dir: Path | None = None, *, progress: Progress | None = print_progress) -> Path:
    """``reports/index.html``: one card per built page, from each page's ``summary.json``, and
    the open data release when it is built (the words: :mod:`ospo_survey.rendering.index_page`)."""
    from ospo_survey.rendering.index_page import TITLE, Release, index_main
    from ospo_survey.site.release import PACKAGE_FILE, RELEASE_DIR, RESPONDENTS

    root = Path(out_dir) if out_dir else reports_dir()
    summaries = []
    for path in sorted(root.glob("*/summary.json")):
        if not (path.parent / "index.html").is_file():
            continue
        summaries.append(json.loads(path.read_text(encoding="utf-8")))
    package = root / RELEASE_DIR / PACKAGE_FILE
    release = (Release(json.loads(package.read_text(encoding="utf-8")), RELEASE_DIR,
                       PACKAGE_FILE, RESPONDENTS) if package.is_file() else None)
    questions = (root / "questions" / "index.html").is_file()
    body = _standalone(TITLE, index_main(summaries, release, questions=questions),
                       body_class="index", main_attrs="", root="")
    path = write_atomic(root / "index.html", body)
    from ospo_survey.site.search import build_search_index

    build_search_index(root)
    # the facts the index states, beside it (one number per fact: tests/test_facts.py)
    from ospo_survey.rendering.facts import FACTS_FILE, facts_json
    from ospo_survey.rendering.index_page import index_facts

    write_atomic(root / FACTS_FILE, facts_json(index_facts(summaries), str(root / FACTS_FILE)))
    if progress:
        progress(f"[index] wrote {path} ({len(summaries)} page(s))")
    return path
