"""Where data lives: one place decides, so the CLI, the API and the tests agree."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
MIRROR_ENV = "OSPO_SURVEY_MIRROR"
DATA_ENV = "OSPO_SURVEY_DATA"
SOURCE_ENV = "OSPO_SURVEY_SOURCE"  # "processed": loaders read data/processed, raw reads refused


def project_root() -> Path:
    """The checkout the package was installed from (editable install), else the working dir."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


def data_dir() -> Path:
    """Root of ``raw/`` and ``processed/``; ``$OSPO_SURVEY_DATA`` overrides the project's."""
    env = os.environ.get(DATA_ENV)
    return Path(env).resolve() if env else project_root() / "data"


def raw_dir() -> Path:
    return data_dir() / "raw"


def processed_dir() -> Path:
    return data_dir() / "processed"


def reports_dir() -> Path:
    return project_root() / "reports"


def raw_reads_forbidden() -> bool:
    """True in runs that must use ``data/processed`` only (``$OSPO_SURVEY_SOURCE=processed``)."""
    return os.environ.get(SOURCE_ENV, "raw") == "processed"
