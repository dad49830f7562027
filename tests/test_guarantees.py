"""The README's guarantees: raw data immutable, atomic outputs, no drift in published figures."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ospo_survey.analysis import drift
from ospo_survey.ingest import fetch
from ospo_survey.ingest.settings import available_years

pytestmark = pytest.mark.data

DIGESTS = Path(__file__).parent / "fidelity" / "digests.json"


def test_published_figures_have_not_drifted():
    """Fails if any key table changes; update deliberately with `ospo-survey digest --update`."""
    stored = json.loads(DIGESTS.read_text(encoding="utf-8"))
    now = drift.digests()
    changed = sorted(k for k in stored if now.get(k) != stored[k])
    assert set(now) == set(stored), sorted(set(now) ^ set(stored))
    assert not changed, f"published tables changed: {changed}"


def test_raw_files_are_read_only_and_verified_on_read():
    for year in available_years():
        path = fetch.raw_path(year)
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _build(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ospo_survey", "build"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_killing_a_build_leaves_previous_outputs_intact(tmp_path):
    env = {"OSPO_SURVEY_DATA": str(tmp_path / "data")}
    proc = _build(env)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    processed = tmp_path / "data" / "processed"
    before = _snapshot(processed)
    assert len(before) >= 7 * 2 + 4
    proc = _build(env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once the second build has started writing
        if any(processed.rglob(".*.tmp")) or proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    during = {
        k: v for k, v in _snapshot(processed).items()
        if not k.rsplit("/", 1)[-1].startswith(".")
    }
    assert during == before  # every output is the old file or the same new bytes, never partial
    proc = _build(env)
    assert proc.wait(timeout=600) == 0
    after = _snapshot(processed)
    assert after == before  # the rerun finishes the job, no temporary files left behind


def test_raw_files_are_never_written_by_a_build(tmp_path):
    raw = fetch.raw_path(2024)
    before = (raw.stat().st_mtime_ns, raw.read_bytes())
    from ospo_survey.processing.build import build

    build([2024], out_dir=tmp_path)
    assert (raw.stat().st_mtime_ns, raw.read_bytes()) == before


@pytest.mark.parametrize("update", [False])
def test_digest_cli_lists_every_key_table(update):
    proc = subprocess.run([sys.executable, "-m", "ospo_survey", "digest"],
                          capture_output=True, text=True, check=True)
    names = {line.split("  ", 1)[1] for line in proc.stdout.splitlines()}
    assert names == set(json.loads(DIGESTS.read_text(encoding="utf-8")))


def _report(year: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ospo_survey", "report", year, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_parallel_report_builds_give_the_serial_bytes_and_survive_a_kill(tmp_path):
    """Two pages built at once equal the same pages built one after the other; killing a
    build midway leaves the previous page intact, and a rerun finishes it."""
    serial = {}
    for year in ("2024", "2020"):
        proc = _report(year, tmp_path / "serial" / year / "index.html")
        assert proc.wait(timeout=600) == 0, proc.stderr.read()
        serial[year] = (tmp_path / "serial" / year / "index.html").read_bytes()
    procs = {y: _report(y, tmp_path / "parallel" / y / "index.html") for y in serial}
    for y, proc in procs.items():
        assert proc.wait(timeout=600) == 0, proc.stderr.read()
        assert (tmp_path / "parallel" / y / "index.html").read_bytes() == serial[y]
    # kill a rebuild of an existing page while it runs
    page = tmp_path / "serial" / "2024" / "index.html"
    proc = _report("2024", page)
    time.sleep(3.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert page.read_bytes() == serial["2024"]
    proc = _report("2024", page)
    assert proc.wait(timeout=600) == 0
    assert page.read_bytes() == serial["2024"]
    assert not [p for p in page.parent.iterdir() if p.name.startswith(".")]
