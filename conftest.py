"""Shared fixtures and the ``data`` marker (at the checkout's root, so they cover the doctests
of ``ospo_survey/`` as well as ``tests/``).

A test marked ``data`` reads the real upstream files, taken from a local mirror: before it runs,
the mirror is found (its absence fails the test, never skips it) and any raw file missing from
``data/raw`` is copied out of it. Every other test is a unit test that needs neither the mirror
nor ``data/``: ``pytest -m "not data"`` runs those alone, in seconds.

Marked ``data``: tests marked so by hand (a module's ``pytestmark`` or a decorator), every test
that asks for the ``mirror`` fixture, and every doctest of the package except the few in
``PURE_DOCTESTS`` (a new doctest is taken to read the data until it is listed there).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ospo_survey.core.paths import MIRROR_ENV, project_root

# Doctests of the package that read no data (pytest's dotted names); every other doctest is a
# data test. The unit run (`pytest -m "not data"`, without the mirror) fails if one of these
# starts to read the data.
PURE_DOCTESTS = frozenset({
    "ospo_survey.analysis.maturity.guttman",
    "ospo_survey.analysis.maturity.iio_violations",
    "ospo_survey.analysis.maturity.loevinger",
    "ospo_survey.analysis.maturity.scale_verdict",
    "ospo_survey.analysis.policy.adjust_p",
    "ospo_survey.inference.estimate.variance.stratified_variance",
    "ospo_survey.ingest.answers.first_answer",
    "ospo_survey.ingest.cite.citation",
    "ospo_survey.ingest.cite.cite",
})


def _reads_data(item: pytest.Item) -> bool:
    if isinstance(item, pytest.DoctestItem):
        return item.name not in PURE_DOCTESTS
    return "mirror" in getattr(item, "fixturenames", ())  # asked for directly or by a fixture


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the data tests, and have each set up ``_raw_data`` first: before its module's or
    session's fixtures read any data, the mirror is found (or the test fails) and data/raw
    filled. A unit test asks for neither."""
    for item in items:
        if _reads_data(item):
            item.add_marker(pytest.mark.data)
        if item.get_closest_marker("data") is not None and "_raw_data" not in item.fixturenames:
            # a new list: the parameters of one test function share the old one
            item.fixturenames = ["_raw_data", *item.fixturenames]


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
            "todogroup/osposurvey (see .ci/run), or run the unit tests alone: "
            'pytest -m "not data"',
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def _mirror_env(mirror: Path) -> None:
    """Let the data tests (and code under test) find the mirror through the environment."""
    os.environ.setdefault(MIRROR_ENV, str(mirror))


@pytest.fixture(scope="session")
def _raw_data(_mirror_env: None) -> None:
    """Copy any raw file missing from data/raw out of the mirror, once, before any test reads it.

    Files already present are left alone (``fetch.ensure``); a test that needs another data
    folder points ``$OSPO_SURVEY_DATA`` elsewhere itself.
    """
    from ospo_survey.ingest import fetch
    fetch.ensure()
