"""SurveyMonkey respondent and collector ids: how to recognise them and keep them out of prose.

Ids are 9-12 digit numbers. Codebooks need them to select rows (``collector_id in [...]``), but
no note, label or page may carry one: the funnel, the pages and the privacy scanner all use this
one pattern.
"""

from __future__ import annotations

import re
from typing import Any

# Not part of a longer number, a decimal or a 1,234,567-style figure.
LONG_ID = re.compile(r"(?<!\d)(?<!\d[.,])\d{9,12}(?!\d)(?![.,]\d)")
WITHHELD = "[id withheld]"
# Meta-column kinds (codebooks' read.meta) that identify a respondent or how they were reached.
IDENTIFYING_KINDS = frozenset({"id", "collector", "identifying", "datetime", "sequence"})


def withhold_ids(text: Any) -> str:
    """``text`` on one line with every respondent/collector id replaced by a placeholder."""
    return LONG_ID.sub(WITHHELD, " ".join(str(text).split()))
