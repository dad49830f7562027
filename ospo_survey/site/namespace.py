"""What a worker kernel runs between two pages: the namespace emptied, no full collection.

IPython's ``%reset -f`` empties the namespace and then runs two full garbage collections (one
in the display hook's flush, one in the magic). In a kernel that holds pandas, pyarrow and the
processed tables, each takes 0.1-0.2 s: 2.65 s of a site build's 45 s of CPU went to them. The
reset here is IPython's own (``InteractiveShell.reset``), with those collections skipped; it
then moves every object still alive (imports, caches) to the collector's permanent generation
(``gc.freeze``), so that the collections the next page triggers do not walk them again. A
page's objects are still freed by reference counting when the namespace lets go of them; only
reference cycles left by earlier pages stay until the kernel stops, at the end of the build.

Imported inside the kernel (:mod:`ospo_survey.site.kernels` sends the call), so it imports
nothing heavy.
"""

from __future__ import annotations

import gc


def fresh_namespace() -> None:
    """Empty the IPython namespace as ``%reset -f`` does, minus its full collections.

    Example (in a kernel, between two pages)::

        from ospo_survey.site.namespace import fresh_namespace; fresh_namespace()
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("fresh_namespace() runs in an IPython kernel")
    collect = gc.collect
    gc.collect = _no_collection  # the display hook's flush calls it
    try:
        shell.reset(new_session=False)
    finally:
        gc.collect = collect
    gc.freeze()


def _no_collection(generation: int = 2) -> int:
    return 0
