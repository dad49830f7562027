"""Shared fixtures: tests run on the real upstream files, taken from a local mirror."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ospo_survey.core.paths import MIRROR_ENV, project_root


def _mirror_path() -> Path:
    env = os.environ.get(MIRROR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return project_root().parent / "shared" / "data" / "todogroup-osposurvey"


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The local copy of todogroup/osposurvey; its absence is a setup error, never a skip."""
    path = _mirror_path()
    if not path.is_dir():
        pytest.fail(
            f"the upstream mirror {path} does not exist: set {MIRROR_ENV} to a local copy of "
            "todogroup/osposurvey (see .ci/run)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session", autouse=True)
def _mirror_env(mirror: Path) -> None:
    """Let every test (and code under test) find the mirror through the environment."""
    os.environ.setdefault(MIRROR_ENV, str(mirror))


@pytest.fixture(scope="session", autouse=True)
def _raw_data(_mirror_env: None) -> None:
    """Copy any raw file missing from data/raw out of the mirror, once, before any test reads it.

    Files already present are left alone (``fetch.ensure``); a test that needs another data
    folder points ``$OSPO_SURVEY_DATA`` elsewhere itself.
    """
    from ospo_survey.ingest import fetch
    fetch.ensure()
