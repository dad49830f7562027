"""The code stays ruff clean: CI runs only the test command, so lint is part of the suite."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_ERROR = "import os\n"  # F401: imported but unused
NOTEBOOK = json.dumps({
    "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
               "outputs": [], "source": [LINT_ERROR]}],
    "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5,
})


def _ruff(cwd: Path) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the dev extra: `make install` installs it"
    return subprocess.run(
        [ruff, "check", "--no-cache", "--output-format", "concise", "."],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def test_ruff_reports_nothing():
    done = _ruff(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lint_covers_the_project_and_leaves_scratch_files_alone(tmp_path):
    """With the project's ruff settings, an error in the package, tests, benchmarks or a notebook
    fails the lint, and the same error in a scratch file at the checkout's root does not."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    project = ["ospo_survey/ingest/bad.py", "tests/test_bad.py", "benchmarks/bench_bad.py",
               "notebooks/bad.ipynb"]
    scratch = ["scratch.py", "scratch/try_it.py", "untitled.ipynb"]
    for rel in project + scratch:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(NOTEBOOK if rel.endswith(".ipynb") else LINT_ERROR)
    done = _ruff(tmp_path)
    flagged = {line.split(":", 1)[0] for line in done.stdout.splitlines() if " F401 " in line}
    assert flagged == set(project), done.stdout + done.stderr
