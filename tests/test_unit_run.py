"""The unit run (`pytest -m "not data"`) passes with no mirror and no data, so the marks hold.

A test that reads the survey data but is not marked ``data`` would pass in the full suite (the
mirror is there) and fail only on a machine without it; this test runs the unit tests the way
such a machine would, so CI catches the missing mark. It is marked ``data`` itself: it runs in
the full suite, and the unit run it starts leaves it out (no recursion).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ospo_survey.core.paths import DATA_ENV, MIRROR_ENV, SOURCE_ENV

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.data
def test_the_unit_tests_pass_without_the_mirror_or_the_data(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    env = {**os.environ, DATA_ENV: str(empty), MIRROR_ENV: str(tmp_path / "no-mirror")}
    env.pop(SOURCE_ENV, None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "not data", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", last)
    assert passed and int(passed.group(1)) >= 150, last  # the unit tests ran, not none
    assert "failed" not in last and "error" not in last, last
    assert list(empty.iterdir()) == []  # and none of them fetched or built anything there
