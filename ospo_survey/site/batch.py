"""Building many pages in one process: what ``make reports`` runs.

A page built alone (``ospo-survey report 2022``) pays for a fresh Python process that imports
papermill and nbconvert, about a second before its notebook starts. ``make reports`` instead
queues every stale page (each page's make rule adds its name to ``reports/.queue``) and
``ospo-survey site --queue reports/.queue`` builds them here: one process, as many pages at a
time as make's ``-j`` allows, then the index. Each worker runs its notebooks one after another
in one kernel, its namespace emptied before each page (:mod:`ospo_survey.site.kernels`), so
that kernel start and imports are paid once per worker, not once per page. The open data
release, the codebook, the question pages and the benchmark page (no notebook) run their own
``ospo-survey`` command in the worker's kernel, so that their Python work does not hold this
process's lock and they pay no new process, imports or table reads.

A notebook page's HTML is rendered and written by one more thread while the worker's kernel
runs its next page (nbconvert's rendering is a quarter to half a second a page).

Make still decides what is stale (per-page inputs, per-year stamps): the builder builds what
the queue names, longest first, and stops scheduling at the first failure.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ospo_survey.core.errors import OspoSurveyError, ReportError, did_you_mean
from ospo_survey.core.paths import SOURCE_ENV, reports_dir
from ospo_survey.site.kernels import WorkerKernels
from ospo_survey.site.pages import (
    PAGE_SOURCES,
    Progress,
    build_index,
    codebook_page_path,
    execute_page,
    notebooks_dir,
    page_path,
    print_progress,
    write_page,
)

TRENDS, CODEBOOK, RELEASE, INDEX = "trends", "codebook", "release", "index"
QUESTIONS = "questions"  # reports/questions/: one page per harmonised question
BENCHMARK = "benchmark"  # reports/benchmark/: the peer benchmark
# longest first, so that two workers finish together: the release, then trends, the question
# pages, the benchmark page, then the years (newest first), then the codebook page
_FIRST, _LAST = (RELEASE, TRENDS, QUESTIONS, BENCHMARK), (CODEBOOK,)


def site_targets() -> list[str]:
    """Everything ``make reports`` can build, in build order (longest first)."""
    from ospo_survey.ingest.settings import available_years

    years = [str(y) for y in sorted(available_years(), reverse=True)]
    return [*_FIRST, *years, *_LAST]


def ordered(targets: Iterable[str]) -> list[str]:
    """``targets`` deduplicated in build order; an unknown name is an error naming it."""
    known = site_targets()
    wanted = []
    for t in targets:
        name = str(t).strip()
        if not name or name == INDEX:  # the index is written after every build
            continue
        if name not in known:
            raise ReportError(f"unknown page {name!r}:{did_you_mean(name, known)} "
                              f"use a year, {TRENDS}, {CODEBOOK}, {QUESTIONS}, {BENCHMARK}"
                              f" or {RELEASE}")
        wanted.append(name)
    return [t for t in known if t in wanted]


def read_queue(path: Path) -> list[str]:
    """The page names a make run queued in ``path`` (one per line; missing file: none)."""
    try:
        return ordered(Path(path).read_text(encoding="utf-8").split())
    except FileNotFoundError:
        return []


def make_jobs(env: Mapping[str, str] | None = None) -> int:
    """Pages at a time under make: its ``-jN`` (``-j`` alone: every core), else one."""
    flags = (os.environ if env is None else env).get("MAKEFLAGS", "")
    for word in flags.split():
        if word.startswith("--"):
            continue
        m = re.fullmatch(r"-?[a-zA-Z]*j(\d*)", word)
        if m:
            return int(m.group(1)) if m.group(1) else (os.cpu_count() or 1)
    return 1


def _command(name: str, out_dir: Path | None) -> list[str]:
    """The ``ospo-survey`` command line that builds a page without a notebook."""
    from ospo_survey.site.release import RELEASE_DIR  # (pandas: not in the builder's imports)

    cmd = [sys.executable, "-m", "ospo_survey"]
    if name == RELEASE:
        return [*cmd, "export", *([str(out_dir / RELEASE_DIR)] if out_dir else [])]
    if name == QUESTIONS:
        out = ["--out", str(out_dir / QUESTIONS / "index.html")] if out_dir else []
        return [*cmd, "report", QUESTIONS, *out]
    if name == BENCHMARK:
        return [*cmd, "benchmark", "--page",
                *(["--out", str(out_dir / BENCHMARK / "index.html")] if out_dir else [])]
    out = ["--out", str(codebook_page_path(out_dir))] if out_dir else []
    return [*cmd, "report", CODEBOOK, *out]


def _build_one(name: str, out_dir: Path | None, weights: str, progress: Progress | None,
               kernels: WorkerKernels,
               renderer: concurrent.futures.Executor) -> concurrent.futures.Future | None:
    """Build ``name`` in this worker's kernel. A notebook page is only executed here: its
    HTML is rendered and written on ``renderer`` (the returned future), while this worker's
    kernel goes on to its next page."""
    if name in (RELEASE, CODEBOOK, QUESTIONS, BENCHMARK):
        # the page's own command, in the worker's kernel (its imports and tables are loaded)
        km = kernels.mine()
        km.before_page()
        try:
            argv = _command(name, Path(out_dir) if out_dir else reports_dir())[3:]
            code = km.run_cli(argv, cwd=str(notebooks_dir()))
        except RuntimeError as exc:
            raise ReportError(f"the {name} build failed: {exc}") from exc
        finally:
            km.after_page()
        if code:
            raise ReportError(f"the {name} build failed (exit {code}; its message is above)")
        return None
    km = kernels.mine()
    km.before_page()
    try:
        if name == TRENDS:
            page = execute_page(TRENDS, out=page_path(TRENDS, out_dir=out_dir), weights=weights,
                                progress=progress, km=km)
        else:
            page = execute_page("year", int(name), out=page_path("year", int(name), out_dir),
                                weights=weights, progress=progress, km=km)
    finally:
        km.after_page()
    return renderer.submit(write_page, page, progress=progress)


def build_site(
    targets: Sequence[str] | None = None,
    *,
    out_dir: Path | None = None,
    jobs: int = 1,
    weights: str = "reference",
    index: bool = True,
    progress: Progress | None = print_progress,
) -> list[str]:
    """Build ``targets`` (default: every page and the release) ``jobs`` at a time, then the
    index; returns the names built. At the first failure nothing new starts, the pages
    already running finish, and the first error is raised (the index is not rewritten)."""
    names = site_targets() if targets is None else ordered(targets)
    jobs = max(1, int(jobs))
    root = Path(out_dir) if out_dir else reports_dir()
    # every page reads data/processed only; the kernels inherit this (set once: the worker
    # threads share the environment)
    sources = {PAGE_SOURCES[k] for k in PAGE_SOURCES}
    previous = os.environ.get(SOURCE_ENV)
    if sources == {"processed"}:
        os.environ[SOURCE_ENV] = "processed"
    kernels = WorkerKernels()
    # one thread renders and writes the executed notebooks (nbconvert: pure Python, so one
    # thread is as fast as several) while the workers' kernels run the next pages
    renderer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="render")
    failed = threading.Event()
    errors: list[BaseException] = []
    done: list[str] = []

    def fail(exc: BaseException) -> None:  # reported once below, after running pages finish
        failed.set()
        errors.append(exc)

    def written(name: str, future: concurrent.futures.Future) -> None:
        if future.exception() is not None:
            fail(future.exception())  # type: ignore[arg-type]
        else:
            done.append(name)

    def work(name: str) -> None:
        if failed.is_set():
            return
        try:
            future = _build_one(name, out_dir, weights, progress, kernels, renderer)
        except BaseException as exc:
            fail(exc)
            return
        if future is None:
            done.append(name)
        else:
            future.add_done_callback(lambda f: written(name, f))

    try:
        if jobs == 1 or len(names) <= 1:
            for name in names:
                work(name)
        else:
            with concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="page") as pool:
                list(pool.map(work, names))
    finally:
        kernels.stop_all()
        renderer.shutdown(wait=True)  # every executed page written
        if previous is None:
            os.environ.pop(SOURCE_ENV, None)
        else:
            os.environ[SOURCE_ENV] = previous
    if errors:
        first = errors[0]
        if isinstance(first, OspoSurveyError):
            raise first
        raise ReportError(f"building the site failed: {type(first).__name__}: {first}") from first
    if index:
        build_index(root, progress=progress)
    return [n for n in names if n in done]
