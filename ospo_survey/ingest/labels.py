"""Answer and header labels: the one cleaner, the one comparison key, the one matcher.

Options are identified by label, not position, and labels differ between files in case,
punctuation, curly quotes and spacing; every comparison of labels in the package goes through
:func:`label_key`, and every lookup of a configured label among known ones through
:func:`match_label`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

_SPACES = re.compile(r"\s+")
_TRANSLATE = str.maketrans(
    {
        "\u00a0": " ",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\ufeff": "",
        "\u200b": "",
    }
)
def clean_label(text: Any) -> str:
    """Normalise a header or answer label: non-breaking spaces, curly quotes, runs of spaces."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return _clean_str(str(text))


@lru_cache(maxsize=1 << 16)
def _clean_str(text: str) -> str:
    # answers repeat heavily (a few labels over thousands of cells): cache the cleaning
    return _SPACES.sub(" ", text.translate(_TRANSLATE)).strip()


def label_key(text: str) -> str:
    """A comparison key for labels: case, punctuation and spacing ignored."""
    return re.sub(r"[^a-z0-9]+", " ", clean_label(text).lower()).strip()


def match_label(known: Iterable[str], label: Any) -> str | None:
    """The label among ``known`` that ``label`` names (case, punctuation, spacing ignored), or
    None; callers raise their own error naming the file and the answers on offer."""
    wanted = label_key(str(label))
    hit = None
    for k in known:  # the last of equal keys wins, as a key -> label dict would have it
        if label_key(k) == wanted:
            hit = k
    return hit
