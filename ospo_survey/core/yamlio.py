"""The one YAML loader of the package: libyaml when present, YAML 1.2-style booleans."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ospo_survey.core.errors import CodebookError, OspoSurveyError

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


class _Loader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """Only true/false are booleans, so answer labels like Yes/No/On stay text."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(
    path: str | Path, *, error: type[OspoSurveyError] = CodebookError, where: str | None = None
) -> Any:
    """Parse a YAML data file; a syntax error raises ``error`` naming the file (one line)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        if where is None:
            raise error(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{where}not valid YAML ({first})") from None
