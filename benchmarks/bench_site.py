"""Benchmark the report site (``make -j2 reports``) against a papermill + nbconvert floor.

- **floor**: nine small generated notebooks (pandas and seaborn imported, one chart, one small
  table) executed with papermill and converted with nbconvert's HTMLExporter in one Python
  process with two worker threads, on the kernel the site build uses.
- **site**: ``make -j2 reports`` from a clean ``reports/`` (page folders and index removed).
- **no-op**: a second ``make -j2 reports`` right after.

Floor and site alternate for ``--repeats`` rounds; medians and site / floor are printed. Then
the 2022 page and the trends page are broken down into builder start, kernel start, imports,
data loading, charts and HTML conversion, from papermill's per-cell durations
(``cell.metadata.papermill.duration``) on a temporary copy of the report notebook whose import
is split into a cell of its own. No package code is changed. A benchmark, not a test.

    OSPO_SURVEY_MIRROR=... python benchmarks/bench_site.py --repeats 3

make runs with ``-o <venv>/.installed`` so that the virtualenv stamp counts as up to date and
make never reinstalls; ``PYTHONPATH`` is set to this checkout for make, the page builders and
the notebook kernels (which inherit the environment), so they import this worktree's package.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import inspect
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
KEEP_IN_REPORTS = {".gitkeep", "README.md"}
FLOOR_NOTEBOOKS = 9
WORKERS = 2

os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
sys.path.insert(0, str(ROOT))
# The page builder marks this optional jsonschema dependency absent (ospo_survey.site.pages); the
# floor does the same so that both pay for the same imports.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # noqa: E402
import papermill as pm  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402

from ospo_survey.core.paths import SOURCE_ENV  # noqa: E402
from ospo_survey.site import pages as site  # noqa: E402

KERNEL: str = inspect.signature(site.execute_notebook).parameters["kernel"].default
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]  # as site.execute_notebook passes


# -- floor -------------------------------------------------------------------------------------

FLOOR_SOURCE = '''import numpy as np
import pandas as pd
import seaborn as sns

rng = np.random.default_rng({seed})
df = pd.DataFrame({{"group": list("ABCDEF") * 50, "value": rng.normal(size=300)}})
ax = sns.barplot(data=df, x="group", y="value", errorbar=None)
ax.set_title("Chart {seed}");'''

FLOOR_TABLE = 'df.groupby("group")["value"].describe().round(2)'


def make_floor_notebooks(folder: Path) -> list[Path]:
    """Write the nine floor notebooks (one chart, one small table each)."""
    paths = []
    for i in range(FLOOR_NOTEBOOKS):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL, "language": "python"}
        nb.cells = [
            nbformat.v4.new_code_cell(FLOOR_SOURCE.format(seed=i)),
            nbformat.v4.new_code_cell(FLOOR_TABLE),
        ]
        path = folder / f"floor_{i}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def run_papermill(path: Path, parameters: dict[str, Any] | None = None,
                  cwd: Path | None = None) -> Any:
    """papermill in memory with the site builder's options; returns the executed notebook."""
    return pm.execute_notebook(
        str(path),
        None,
        parameters=parameters or {},
        kernel_name=KERNEL,
        cwd=str(cwd or path.parent),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
        extra_arguments=KERNEL_ARGS,
    )


def floor_page(path: Path) -> int:
    nb = run_papermill(path)
    body, _ = HTMLExporter(exclude_input=True, embed_images=True).from_notebook_node(nb)
    path.with_suffix(".html").write_text(body, encoding="utf-8")
    return len(body)


def time_floor(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        sizes = list(pool.map(floor_page, paths))
    elapsed = time.perf_counter() - t0
    if len(sizes) != len(paths) or min(sizes) < 1000:
        raise SystemExit("floor: a notebook produced no HTML")
    return elapsed


# -- site --------------------------------------------------------------------------------------


def make_cmd(venv: Path, *targets: str) -> list[str]:
    return ["make", "-j2", f"VENV={venv}", "-o", str(venv / ".installed"), *targets]


def clean_reports(keep: str | None = None) -> None:
    for entry in REPORTS.iterdir():
        if entry.is_dir() and entry.name == keep:
            continue  # built already: make leaves it as it is
        if entry.is_dir():
            shutil.rmtree(entry)
        elif entry.name == "index.html":
            entry.unlink()


def run_make(venv: Path, *targets: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(make_cmd(venv, *targets), cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"make {' '.join(targets)} failed ({proc.returncode})")
    return elapsed, proc.stdout + proc.stderr


def time_site(venv: Path, keep: str | None = None) -> tuple[float, float]:
    clean_reports(keep)
    site_s, _ = run_make(venv, "reports")
    pages = sorted(p.parent.name for p in REPORTS.glob("*/index.html"))
    if "trends" not in pages or not (REPORTS / "index.html").is_file():
        raise SystemExit(f"site: pages missing after make ({pages})")
    noop_s, out = run_make(venv, "reports")
    if "ospo_survey" in out:
        raise SystemExit(f"no-op make rebuilt something:\n{out}")
    return site_s, noop_s


# -- per-page breakdown ------------------------------------------------------------------------


def fresh_python(code: str) -> float:
    """Run ``code`` in a new interpreter; it prints a float, which is returned."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


BUILDER_START = """import subprocess, sys, time
t0 = time.perf_counter()
subprocess.run([sys.executable, "-c", "import sys; sys.modules.setdefault('rfc3987_syntax', None);"
                " import ospo_survey.site.pages, papermill, nbconvert"], check=True)
print(time.perf_counter() - t0)"""


def kernel_start(folder: Path) -> float:
    """Wall time of papermill on a one-cell notebook; checks the kernel imports this checkout."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        'import importlib.util\nprint(importlib.util.find_spec("ospo_survey").origin)')]
    path = folder / "kernel_start.ipynb"
    nbformat.write(nb, path)
    t0 = time.perf_counter()
    out = run_papermill(path)
    elapsed = time.perf_counter() - t0
    origin = out.cells[0].outputs[0]["text"].strip()
    if not origin.startswith(str(ROOT)):
        raise SystemExit(f"the kernel imports ospo_survey from {origin}, not {ROOT}")
    return elapsed


def split_import(nb_path: Path, folder: Path) -> Path:
    """A copy of the report notebook whose ``from ospo_survey... import`` lines get a cell of
    their own, so that imports and data loading are timed apart."""
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        lines = cell.source.splitlines()
        imports = [ln for ln in lines if ln.startswith("from ospo_survey")]
        if cell.cell_type == "code" and imports:
            imp = copy.deepcopy(cell)
            imp.source = "\n".join(imports)
            imp.id = "bench-imports"
            cell.source = "\n".join(ln for ln in lines if ln not in imports)
            nb.cells.insert(i, imp)
            break
    else:
        raise SystemExit(f"{nb_path.name}: no 'from ospo_survey ... import' cell")
    out = folder / nb_path.name
    nbformat.write(nb, out)
    return out


def page_breakdown(kind: str, folder: Path, kernel_s: float, builder_s: float) -> dict[str, float]:
    """Seconds of one page by phase, and its wall time as ``ospo-survey report`` builds it."""
    label = "2022" if kind == "year" else "trends"
    nb_name = "report.ipynb" if kind == "year" else "trends.ipynb"
    out_html = folder / label / "index.html"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ospo_survey", "report", label, "--out",
                    str(out_html)], cwd=ROOT, check=True, capture_output=True)
    page_s = time.perf_counter() - t0

    params: dict[str, Any] = {"weights": "reference",
                              "summary_path": str(folder / f"{label}-summary.json")}
    if kind == "year":
        params["year"] = 2022
    nb_path = split_import(NOTEBOOKS / nb_name, folder)
    os.environ[SOURCE_ENV] = site.PAGE_SOURCES[kind]  # as build_page runs a page's kernel
    try:
        t0 = time.perf_counter()
        nb = run_papermill(nb_path, params, cwd=NOTEBOOKS)
        execute_s = time.perf_counter() - t0
    finally:
        os.environ.pop(SOURCE_ENV, None)
    durations = [float(c.metadata.get("papermill", {}).get("duration") or 0.0)
                 for c in nb.cells]
    ids = [c.get("id") for c in nb.cells]
    i_imp = ids.index("bench-imports")
    imports_s = durations[i_imp]
    loading_s = durations[i_imp + 1]  # the cell that constructs YearPage / TrendsPage
    charts_s = sum(durations) - imports_s - loading_s
    t0 = time.perf_counter()
    site.clean_notebook(nb)
    site.render_html(nb, f"bench {label}")
    html_s = time.perf_counter() - t0
    return {
        "builder start (python, papermill, nbconvert)": builder_s,
        "kernel start (one-cell notebook)": kernel_s,
        "imports in the kernel (ospo_survey page modules)": imports_s,
        "data loading and weights (YearPage / TrendsPage)": loading_s,
        "charts and tables (remaining cells)": charts_s,
        "papermill overhead (execute - kernel - cells)":
            max(execute_s - kernel_s - sum(durations), 0.0),
        "HTML conversion (clean + nbconvert)": html_s,
        "page wall (`ospo-survey report`)": page_s,
    }


def warm_page(folder: Path) -> tuple[float, float]:
    """The 2022 page as the site builder makes it on a worker's kernel that already ran a page
    (``ospo-survey site 2021 2022 --jobs 1``): its notebook run and HTML seconds, parsed from
    the builder's progress line."""
    run = subprocess.run([sys.executable, "-m", "ospo_survey", "site", "2021", "2022",
                          "--jobs", "1", "--out", str(folder / "warm")], cwd=ROOT,
                         check=True, capture_output=True, text=True)
    m = re.search(r"\[2022\] wrote .*run ([0-9.]+) s, render ([0-9.]+) s", run.stderr)
    if m is None:
        raise SystemExit(f"site builder: no timing line for 2022 in\n{run.stderr[-2000:]}")
    return float(m.group(1)), float(m.group(2))


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=Path(sys.prefix),
                        help="the virtualenv make uses (VENV=; default: this interpreter's)")
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--without", metavar="PAGE",
                        help="also time the site with reports/PAGE left built (e.g. benchmark):"
                             " what that page adds to the build, side by side")
    args = parser.parse_args(argv)
    if not os.environ.get("OSPO_SURVEY_MIRROR"):
        print("note: OSPO_SURVEY_MIRROR is not set", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        folder = Path(tmp)
        paths = make_floor_notebooks(folder)
        print(f"kernel {KERNEL!r}; warm-up (one floor notebook) ...", file=sys.stderr)
        floor_page(paths[0])
        floors: list[float] = []
        sites: list[float] = []
        noops: list[float] = []
        withouts: list[float] = []
        for r in range(args.repeats):
            floors.append(time_floor(paths))
            site_s, noop_s = time_site(args.venv)
            sites.append(site_s)
            noops.append(noop_s)
            extra = ""
            if args.without:
                withouts.append(time_site(args.venv, keep=args.without)[0])
                extra = f", site without {args.without} {withouts[-1]:.1f} s"
            print(f"repeat {r + 1}: floor {floors[-1]:.1f} s, site {site_s:.1f} s, "
                  f"no-op {noop_s:.3f} s{extra}", file=sys.stderr)

        floor_m, site_m = statistics.median(floors), statistics.median(sites)
        print(f"\nmedians of {args.repeats} (floor and site alternate; {WORKERS} workers each)\n")
        print("| floor (s) | site (s) | site / floor | no-op (s) |")
        print("|---:|---:|---:|---:|")
        print(f"| {floor_m:.1f} | {site_m:.1f} | {site_m / floor_m:.2f} | "
              f"{statistics.median(noops):.3f} |")
        print("\nper repeat: floor " + ", ".join(f"{x:.1f}" for x in floors)
              + "; site " + ", ".join(f"{x:.1f}" for x in sites)
              + "; no-op " + ", ".join(f"{x:.3f}" for x in noops))
        if withouts:
            without_m = statistics.median(withouts)
            print(f"\nsite without {args.without}: {without_m:.1f} s (median; per repeat "
                  + ", ".join(f"{x:.1f}" for x in withouts) + f"); {args.without} adds "
                  f"{100 * (site_m / without_m - 1):.0f}% (per repeat "
                  + ", ".join(f"{100 * (a / b - 1):.0f}%" for a, b in zip(sites, withouts,
                                                                           strict=True)) + ")")

        if args.no_breakdown:
            return 0
        print("\nbreaking down the 2022 and trends pages ...", file=sys.stderr)
        builder_s = fresh_python(BUILDER_START)
        kernel_s = kernel_start(folder)
        rows = {kind: page_breakdown(kind, folder, kernel_s, builder_s)
                for kind in ("year", "trends")}
        print("\nwhere a page's seconds go (one run each, a page alone on the machine)\n")
        print("| phase | 2022 (s) | trends (s) |")
        print("|---|---:|---:|")
        for phase in rows["year"]:
            print(f"| {phase} | {rows['year'][phase]:.2f} | {rows['trends'][phase]:.2f} |")
        for kind in ("year", "trends"):
            parts = sum(v for k, v in rows[kind].items() if not k.startswith("page wall"))
            print(f"{'2022' if kind == 'year' else 'trends'}: phases sum to {parts:.2f} s "
                  f"of a {rows[kind]['page wall (`ospo-survey report`)']:.2f} s page")
        run_s, render_s = warm_page(folder)
        print(f"\nthe 2022 page in the site builder, second page on its worker's kernel: "
              f"notebook {run_s:.1f} s, HTML {render_s:.1f} s (builder start, kernel start "
              "and imports paid by the worker's first page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
