"""Metadata on result frames (``DataFrame.attrs``) that pandas' copies share.

Why: pandas deep-copies a frame's ``attrs`` into every frame derived from it (each column read,
filter, ``copy``). The verbs' frames carry their notes, the dropped counts, the years; the
pages then take thousands of columns and slices of them, and the deep copies cost about a
tenth of a page build. The values put here are shared by the derived frames instead; they are
descriptions of the result, read and not changed (replace a value, don't mutate it).

>>> import pandas as pd
>>> f = share_attrs(pd.DataFrame({"x": [1, 2]}), notes=["a note"], years=[2024])
>>> f["x"].attrs["notes"] is f.attrs["notes"], f.attrs["notes"] == ["a note"]
(True, True)
"""

from __future__ import annotations

from typing import Any

import pandas as pd


class SharedList(list):
    """A list that ``copy.deepcopy`` returns as itself (a frame's read-only metadata)."""

    def __deepcopy__(self, memo: dict) -> SharedList:
        return self


class SharedDict(dict):
    """A dict that ``copy.deepcopy`` returns as itself (a frame's read-only metadata)."""

    def __deepcopy__(self, memo: dict) -> SharedDict:
        return self


def shared(value: Any) -> Any:
    """``value`` as metadata the frame's copies share (lists and dicts; others as they are:
    strings and numbers copy for free)."""
    if isinstance(value, SharedList | SharedDict):
        return value
    if isinstance(value, list):
        return SharedList(value)
    if isinstance(value, dict):
        return SharedDict(value)
    return value


def share_attrs(frame: pd.DataFrame, **values: Any) -> pd.DataFrame:
    """Set ``values`` in ``frame.attrs`` and make every value there shared; returns ``frame``."""
    frame.attrs.update(values)
    for key, value in list(frame.attrs.items()):
        frame.attrs[key] = shared(value)
    return frame
