"""Sparse and empty levels merged into neighbours, by rule and always on the record.

Why merge at all: a target level with no respondents cannot be scaled up, and one with a
handful would carry huge weights. Why by rule only: pooling changes what the weights mean, so
it happens only as the caller asks (``collapse=``), each merge becomes a :class:`Collapse`
record with a warning, and a level no rule covers stops the weighting with a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ospo_survey.core.errors import TargetsError, WeightingError, WeightingOptionsError
from ospo_survey.inference.weights.diagnostics import Collapse
from ospo_survey.inference.weights.labels import _KeyIndex

CollapseRule = str | Mapping[Any, Any] | None


def _rule_for(collapse: Any, name: str) -> Any:
    if collapse is None:
        return None
    if isinstance(collapse, str):
        if collapse != "adjacent":
            raise WeightingOptionsError(
                f"collapse must be 'adjacent' or a mapping, not {collapse!r}"
            )
        return "adjacent"
    if isinstance(collapse, Mapping):
        rule = collapse.get(name)
        if isinstance(rule, str) and rule != "adjacent":
            raise WeightingOptionsError(
                f"collapse rule for {name!r} must be 'adjacent' or a mapping, not {rule!r}"
            )
        return rule
    raise WeightingOptionsError(
        f"collapse must be None, 'adjacent' or a mapping {{variable: rule}}, not {collapse!r}"
    )


def _collapse_levels(
    name: str,
    keys: list[Any],
    share: np.ndarray,
    count: np.ndarray,
    pos: np.ndarray,
    rule: Any,
    min_cell: int,
) -> tuple[np.ndarray, list[Any], np.ndarray, list[Collapse]]:
    """Merge empty (target > 0, no respondents) and sparse (< min_cell) levels.

    Returns the final level of each target level (-1 = dropped: zero target and nobody in it),
    the final labels, final shares and the record of merges. Anything that cannot be merged by
    the given rule raises, so nothing is ever pooled silently.
    """
    t = len(keys)
    alive = (count > 0) | (share > 0)
    members: dict[int, list[int]] = {i: [i] for i in range(t) if alive[i]}
    gcount = {i: float(count[i]) for i in members}
    gshare = {i: float(share[i]) for i in members}
    owner = np.arange(t)
    records: list[Collapse] = []
    rule_index = _KeyIndex(list(rule)) if isinstance(rule, Mapping) else None
    rule_values = list(rule.values()) if isinstance(rule, Mapping) else []
    key_index = _KeyIndex(keys)

    def label(g: int) -> Any:
        ms = sorted(members[g], key=lambda i: pos[i])
        return keys[ms[0]] if len(ms) == 1 else " + ".join(str(keys[i]) for i in ms)

    while True:
        needy = [
            g for g in members if (gcount[g] == 0 and gshare[g] > 0) or (0 < gcount[g] < min_cell)
        ]
        if not needy:
            break
        g = min(needy, key=lambda i: (gcount[i], min(pos[m] for m in members[i])))
        reason = "no respondents" if gcount[g] == 0 else f"fewer than min_cell={min_cell}"
        into: int | None = None
        if rule_index is not None:
            for m in sorted(members[g], key=lambda i: pos[i]):
                r = rule_index.find(keys[m])
                if r < 0:
                    continue
                dest = key_index.find(rule_values[r])
                if dest < 0:
                    raise TargetsError(
                        f"collapse rule for {name!r} maps {keys[m]!r} to {rule_values[r]!r}, "
                        "which is not a target level"
                    )
                into = int(owner[dest])
                if into == g or into not in members:
                    raise WeightingError(
                        f"collapse rule for {name!r} maps {keys[m]!r} to {rule_values[r]!r}, "
                        "which cannot absorb it"
                    )
                break
        elif rule == "adjacent":
            order = sorted(members, key=lambda i: min(pos[m] for m in members[i]))
            at = order.index(g)
            near = [order[i] for i in (at - 1, at + 1) if 0 <= i < len(order)]
            if near:
                into = min(near, key=lambda i: (gcount[i], order.index(i)))
        if into is None:
            lvl = label(g)
            if gcount[g] == 0:
                raise WeightingError(
                    f"weighting variable {name!r}: target level {lvl!r} (share "
                    f"{gshare[g]:.4g}) has no respondents; pass collapse={{{name!r}: "
                    f"{{{lvl!r}: <level>}}}} or collapse='adjacent', or drop its target"
                )
            raise WeightingError(
                f"weighting variable {name!r}: level {lvl!r} has {int(gcount[g])} respondents "
                f"(< min_cell={min_cell}); pass collapse={{{name!r}: {{{lvl!r}: <level>}}}} "
                "or collapse='adjacent'"
            )
        records.append(
            Collapse(
                variable=name,
                levels=tuple(keys[m] for m in sorted(members[g], key=lambda i: pos[i])),
                into=label(into),
                n=int(gcount[g]),
                reason=reason,
            )
        )
        members[into].extend(members.pop(g))
        gcount[into] += gcount.pop(g)
        gshare[into] += gshare.pop(g)
        owner[members[into]] = into
    final = sorted(members, key=lambda i: min(pos[m] for m in members[i]))
    final_of = np.full(t, -1, dtype=np.int64)
    for f, g in enumerate(final):
        final_of[members[g]] = f
    return final_of, [label(g) for g in final], np.array([gshare[g] for g in final]), records
