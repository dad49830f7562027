"""ospo-survey: read, screen, weight and report the TODO Group's OSPO survey, 2018-2024.

>>> import ospo_survey
>>> len(ospo_survey.load(2024))                       # the publisher's analysed sample, decoded
222
>>> ospo_survey.frequencies(2024, "q12")["n"].tolist()  # counts of one question's answers
[0, 58, 42, 26, 96]
>>> h = ospo_survey.load_harmonized()   # every year on common variables, cross-year screen
"""

from __future__ import annotations

from .dataset import build, codebook, funnel, load, load_harmonized, questions
from .read import RawSurvey, read_raw
from .tables import frequencies

__version__ = "0.1.0"

__all__ = [
    "RawSurvey",
    "__version__",
    "build",
    "codebook",
    "frequencies",
    "funnel",
    "load",
    "load_harmonized",
    "questions",
    "read_raw",
]
