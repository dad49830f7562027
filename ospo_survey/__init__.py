"""ospo-survey: read, screen, weight and report the TODO Group's OSPO survey, 2018-2024.

>>> import ospo_survey
>>> len(ospo_survey.load(2024))                       # the publisher's analysed sample, decoded
222
>>> ospo_survey.frequencies(2024, "q12")["n"].tolist()  # counts of one question's answers
[0, 58, 42, 26, 96]
>>> h = ospo_survey.load_harmonized()   # every year on common variables, cross-year screen
>>> s = ospo_survey.survey(2024)          # one weighted design, declared once, with verbs
>>> s.proportion("has_ospo")["level"].tolist()
['has', 'planning', 'none']

Figures for a paper: ``from ospo_survey import plot`` (:mod:`ospo_survey.plot`, seaborn and
matplotlib, loaded only then).

The package is layered; each layer imports only the ones before it (``tests/test_layers.py``):
``core`` → ``ingest`` → ``inference`` → ``processing`` → ``analysis`` → ``rendering`` → ``site``,
with the CLI on top. The names below are loaded on first use, so ``import ospo_survey.site``
does not pull in pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ospo_survey.core.meta import VERSION as __version__

_LAZY = {
    "Survey": "ospo_survey.analysis.design",
    "survey": "ospo_survey.analysis.design",
    "RawSurvey": "ospo_survey.ingest.read",
    "read_raw": "ospo_survey.ingest.read",
    "cite": "ospo_survey.ingest.cite",
    "codebook": "ospo_survey.ingest.dataset",
    "find_question": "ospo_survey.ingest.dataset",
    "funnel": "ospo_survey.ingest.dataset",
    "load": "ospo_survey.ingest.dataset",
    "load_harmonized": "ospo_survey.ingest.dataset",
    "questions": "ospo_survey.ingest.dataset",
    "build": "ospo_survey.processing.build",
    "frequencies": "ospo_survey.analysis.tables",
    "compare": "ospo_survey.analysis.design",
    "maturity": "ospo_survey.analysis.design",
    "benchmark": "ospo_survey.analysis.benchmark",
}
# Submodules loaded on first use: ``ospo_survey.plot`` brings matplotlib and seaborn (so it
# stays out of ``__all__``: ``from ospo_survey import *`` does not load them either).
_LAZY_MODULES = ("plot",)

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _LAZY_MODULES:
        return import_module(f"ospo_survey.{name}")  # importing sets the attribute
    raise AttributeError(f"module 'ospo_survey' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))
