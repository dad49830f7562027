"""Data labels against target keys, and target shares checked before anything is weighted.

Why loose matching: YAML reads ``1`` where the data holds ``'1'``, so a label that matches no
key exactly is looked up again by its string form. Why strict shares: a target that does not
sum to 1 (or holds a YAML boolean) is a typo in a reviewed file, and must stop the build.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ospo_survey.core.errors import TargetsError

SHARE_TOL = 1e-6
"""How far a variable's target shares may sum from 1 before the targets are rejected."""


def _py(x: Any) -> Any:
    """Plain Python scalar (numpy scalars print and compare badly in messages and YAML)."""
    if isinstance(x, tuple):
        return tuple(_py(e) for e in x)
    if isinstance(x, np.generic):
        return x.item()
    return x


def _loose(x: Any) -> Any:
    """Key used when exact matching fails: YAML may read ``1`` where the data has ``'1'``."""
    if isinstance(x, tuple):
        return tuple(str(e) for e in x)
    return str(x)


class _KeyIndex:
    """Find a data label among target keys: exact equality first, then by string form."""

    def __init__(self, keys: Sequence[Any]) -> None:
        self.exact: dict[Any, int] = {}
        self.loose: dict[Any, int] = {}
        for i, k in enumerate(keys):
            try:  # noqa: SIM105 - a try costs nothing here; contextlib.suppress does
                self.exact.setdefault(k, i)
            except TypeError:  # unhashable key: only its string form can match
                pass
            self.loose.setdefault(_loose(k), i)

    def find(self, label: Any) -> int:
        try:
            i = self.exact.get(label)
        except TypeError:
            i = None
        if i is None:
            i = self.loose.get(_loose(label))
        return -1 if i is None else i


def _validate_shares(var: Any, levels: Any, where: str) -> dict[Any, float]:
    if not isinstance(levels, Mapping) or not levels:
        raise TargetsError(
            f"{where}targets for variable {var!r} must be a non-empty mapping of level -> share"
        )
    shares: dict[Any, float] = {}
    for lvl, s in levels.items():
        if isinstance(lvl, bool):
            raise TargetsError(
                f"{where}variable {var!r} has level {lvl!r}, a YAML boolean; quote it "
                "(e.g. 'yes') if it is a label"
            )
        if isinstance(s, bool):
            raise TargetsError(f"{where}target for level {lvl!r} of variable {var!r} is {s!r}")
        try:
            v = float(s)
        except (TypeError, ValueError):
            raise TargetsError(
                f"{where}target for level {lvl!r} of variable {var!r} is not a number: {s!r}"
            ) from None
        if not math.isfinite(v) or v < 0:
            raise TargetsError(
                f"{where}target for level {lvl!r} of variable {var!r} must be a share >= 0, "
                f"got {s!r}"
            )
        key = _py(lvl)
        if key in shares:
            raise TargetsError(f"{where}variable {var!r} lists level {key!r} twice")
        shares[key] = v
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SHARE_TOL:
        raise TargetsError(f"{where}targets for variable {var!r} sum to {total:.8g}, not 1")
    return {k: v / total for k, v in shares.items()}


def _validate_margins(margins: Any, where: str = "") -> dict[str, dict[Any, float]]:
    """Check shares (numbers, >= 0, summing to 1) and renormalise them exactly."""
    if not isinstance(margins, Mapping) or not margins:
        raise TargetsError(f"{where}margins must be a non-empty mapping of variable -> shares")
    return {str(var): _validate_shares(var, levels, where) for var, levels in margins.items()}
