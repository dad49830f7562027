"""The site builder behind `make reports`: what make queues, and how the queue is built.

The pages themselves are built by this builder for the whole suite (tests/_site.py, two at a
time); here, the Makefile's graph is checked with `make -n` in a scratch tree whose outputs are
all up to date, so that one changed input shows exactly which pages it queues.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ospo_survey.core.errors import ReportError
from ospo_survey.core.paths import project_root
from ospo_survey.ingest.settings import available_years
from ospo_survey.site.batch import make_jobs, ordered, read_queue, site_targets

ROOT = project_root()
YEARS = [str(y) for y in available_years()]


def test_targets_are_ordered_longest_first_and_deduplicated() -> None:
    assert site_targets()[:2] == ["release", "trends"] and site_targets()[-1] == "codebook"
    assert set(site_targets()) == {"release", "trends", "questions", "benchmark", "codebook",
                                   *YEARS}
    assert ordered(["codebook", "2019", "trends", "2019", "index", ""]) == [
        "trends", "2019", "codebook"]


def test_an_unknown_page_is_named_with_the_closest_one() -> None:
    with pytest.raises(ReportError, match=r"unknown page 'trend'.*did you mean 'trends'"):
        ordered(["trend"])


def test_a_queue_file_is_read_and_a_missing_one_is_empty(tmp_path: Path) -> None:
    q = tmp_path / "queue"
    assert read_queue(q) == []
    q.write_text("2024\ntrends\n2024\nindex\n", encoding="utf-8")
    assert read_queue(q) == ["trends", "2024"]


@pytest.mark.parametrize(("flags", "jobs"), [
    ("", 1), (" -j2 --jobserver-auth=3,4", 2), ("k -j3 --jobserver-auth=fifo:/tmp/x", 3),
    (" --no-print-directory", 1), (" -kj4", 4), (" -j", os.cpu_count() or 1),
])
def test_pages_at_a_time_follow_makes_jobs(flags: str, jobs: int) -> None:
    assert make_jobs({"MAKEFLAGS": flags}) == jobs


def test_the_cli_refuses_an_unknown_page_in_one_line() -> None:
    run = subprocess.run([sys.executable, "-m", "ospo_survey", "site", "2031"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown page '2031'" in lines[0], run.stderr


# --------------------------------------------------------------------------- the Makefile


def _scratch_tree(tmp: Path) -> Path:
    """The repository's Makefile over links to its code, with every processed table and page
    present and newer than what it is made from: `make reports` has nothing to do."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "ospo_survey", "notebooks"):
        (tmp / name).symlink_to(ROOT / name)
    later = time.time() + 100
    files = [".venv/.installed", "data/raw/LICENSE", "data/processed/manifest.json",
             *(f"data/processed/{y}/inputs.json" for y in YEARS)]
    pages = [*(f"reports/{y}/index.html" for y in YEARS), "reports/trends/index.html",
             "reports/codebook/index.html", "reports/questions/index.html",
             "reports/benchmark/index.html",
             "reports/data/datapackage.json"]
    for rel in [*files, *pages, "reports/index.html"]:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        stamp = later + (0 if rel in files else 10 if rel in pages else 20)
        os.utime(path, (stamp, stamp))
    return tmp


def _dry_run(tree: Path, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    run = subprocess.run(["make", "-n", *args], cwd=tree, capture_output=True, text=True,
                         env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def _queued(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines
            if (m := re.search(r"echo (\S+) >> reports/\.queue", line))}


def test_nothing_is_queued_when_every_page_is_up_to_date(tmp_path: Path) -> None:
    lines = _dry_run(_scratch_tree(tmp_path), "reports")
    assert _queued(lines) == set()
    assert not any("ospo_survey report" in line for line in lines)


def test_a_changed_year_queues_its_page_the_next_year_and_the_pages_that_read_every_year(
    tmp_path: Path,
) -> None:
    tree = _scratch_tree(tmp_path)
    year, after = YEARS[-3], YEARS[-2]
    lines = _dry_run(tree, "-W", f"data/processed/{year}/inputs.json", "reports")
    assert _queued(lines) == {year, after, "trends", "codebook", "questions", "benchmark",
                              "release", "index"}
    assert any("ospo_survey site --queue reports/.queue" in line for line in lines)


def test_a_changed_report_notebook_queues_every_year_page_only(tmp_path: Path) -> None:
    lines = _dry_run(_scratch_tree(tmp_path), "-W", "notebooks/report.ipynb", "reports")
    assert _queued(lines) == {*YEARS, "index"}


def test_a_page_named_as_the_goal_is_built_directly(tmp_path: Path) -> None:
    tree = _scratch_tree(tmp_path)
    year = YEARS[-1]
    lines = _dry_run(tree, "-W", "notebooks/report.ipynb", f"reports/{year}/index.html")
    assert _queued(lines) == set()
    assert any(line.endswith(f"-m ospo_survey report {year}") for line in lines), lines


class _NoKernels:
    """Stands in for the workers' kernels: execute_page is replaced too, so none starts."""

    class _Km:
        def before_page(self) -> None: ...
        def after_page(self) -> None: ...

    def mine(self) -> _Km:
        return self._Km()

    def stop_all(self) -> None: ...


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_page_that_fails_to_render_fails_the_build_and_leaves_the_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    """Pages are rendered on their own thread while the kernels run the next ones: a render
    error still stops the build with that error, and the index is not written."""
    from ospo_survey.site import batch
    from ospo_survey.site.pages import ExecutedPage

    executed, written = [], []

    def execute_page(kind, year=None, out=None, weights="reference", **_kw):
        executed.append(str(year or kind))
        return ExecutedPage(None, Path(out), str(year or kind), "t", 0.0)

    def write_page(page, **_kw):
        time.sleep(0.05)
        if page.label == "2023":
            raise ReportError("2023 could not be rendered")
        written.append(page.label)
        return page.out

    monkeypatch.setattr(batch, "WorkerKernels", _NoKernels)
    monkeypatch.setattr(batch, "execute_page", execute_page)
    monkeypatch.setattr(batch, "write_page", write_page)
    with pytest.raises(ReportError, match="2023 could not be rendered"):
        batch.build_site(["2024", "2023", "2022"], out_dir=tmp_path, jobs=jobs, progress=None)
    assert not (tmp_path / "index.html").exists()
    assert executed[:2] == ["2024", "2023"] and "2024" in written and "2023" not in written
    # without the failure every page is written before build_site returns
    written.clear()
    monkeypatch.setattr(batch, "write_page", lambda page, **_kw: written.append(page.label))
    built = batch.build_site(["2024", "2023", "2022"], out_dir=tmp_path, jobs=jobs,
                             progress=None, index=False)
    assert built == ["2024", "2023", "2022"] and sorted(written) == ["2022", "2023", "2024"]
