"""How to cite the toolkit and the survey data it reads: one place for pages, CSVs and users.

The date of a citation is the toolkit release's (``RELEASED``, the ``date-released`` of the
repository's ``CITATION.cff``), never the clock, so that every rebuild of the site writes the
same bytes. The data are cited at the upstream commit the toolkit pins
(:data:`ospo_survey.ingest.fetch.UPSTREAM_COMMIT`).
"""

from __future__ import annotations

from typing import Any

from ospo_survey.core.errors import OspoSurveyError
from ospo_survey.core.meta import VERSION
from ospo_survey.ingest.fetch import UPSTREAM_COMMIT, UPSTREAM_REPO

#: The toolkit release's date (YYYY-MM-DD): CITATION.cff's ``date-released`` says the same.
RELEASED = "2026-12-03"
TOOLKIT_TITLE = "ospo-survey: a toolkit and report site for the TODO Group's State of OSPOs survey"
TOOLKIT_AUTHOR = "ospo-survey contributors"
DATA_TITLE = "State of OSPOs and Open Source Management survey, 2018-2024 (raw data)"
DATA_AUTHOR = "TODO Group"
DATA_LICENSE = "CC-BY-SA-4.0"
DATA_URL = f"https://github.com/{UPSTREAM_REPO}/tree/{UPSTREAM_COMMIT}"
_WHAT = ("both", "toolkit", "data")


def citation(what: str = "both") -> dict[str, Any]:
    """The citation as plain values (what the page's "Cite this" block and CITATION.cff hold).

    >>> citation("data")["commit"] == UPSTREAM_COMMIT
    True
    """
    if what not in _WHAT:
        raise OspoSurveyError(f"cite({what!r}): use one of {', '.join(_WHAT)}")
    toolkit = {"title": TOOLKIT_TITLE, "author": TOOLKIT_AUTHOR, "version": VERSION,
               "date": RELEASED}
    data = {"title": DATA_TITLE, "author": DATA_AUTHOR, "license": DATA_LICENSE,
            "repository": UPSTREAM_REPO, "commit": UPSTREAM_COMMIT, "url": DATA_URL}
    if what == "toolkit":
        return toolkit
    if what == "data":
        return data
    return {"toolkit": toolkit, "data": data}


def cite(what: str = "both") -> str:
    """A suggested citation, as text: the toolkit (version, release date), the data (TODO
    Group, CC-BY-SA 4.0, upstream commit), or both (a line each).

    >>> import ospo_survey
    >>> print(ospo_survey.cite("data"))  # doctest: +ELLIPSIS
    TODO Group. State of OSPOs ...CC-BY-SA-4.0...(commit 5d0502632179bf050fe96349f66afd955978ee66).
    """
    c = citation(what)
    lines = []
    if what in ("both", "toolkit"):
        t = c["toolkit"] if what == "both" else c
        lines.append(f"{t['author']} ({t['date'][:4]}). {t['title']}. Version {t['version']}, "
                     f"released {t['date']}.")
    if what in ("both", "data"):
        d = c["data"] if what == "both" else c
        lines.append(f"{d['author']}. {d['title']}. Licensed {d['license']}. "
                     f"https://github.com/{d['repository']} (commit {d['commit']}).")
    return "\n".join(lines)
