"""Kernels that outlive a notebook: one per site-builder worker, reused page after page.

Starting a kernel and importing the page code costs about 1.5 s, more than a year page's
charts. The site builder therefore gives each worker one kernel for all its pages. Before each
page after the first, the kernel's namespace is emptied (IPython's ``%reset -f``, without its full
garbage collections: :mod:`ospo_survey.site.namespace`): a page never sees another page's
variables. What stays is the imported modules and their caches, which are
keyed by the content of the processed tables they read, so a page's bytes do not depend on
what ran before it (``tests/test_processed.py`` compares pages built alone and in a batch).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any

from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

# IPython's %reset -f without its two full garbage collections (ospo_survey.site.namespace)
RESET = ("from ospo_survey.site.namespace import fresh_namespace as _fresh\n"
         "_fresh()")
TIMEOUT = 60  # seconds for the reset and the shutdown
# how papermill starts a page's kernel (nbclient adds the in-memory history)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL", "--HistoryManager.hist_file=:memory:"]


class PageKernel(AsyncKernelManager):
    """A kernel manager that papermill starts on the first page and that is kept for the
    next ones; it closes the clients papermill leaves open on it after each page."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clients: list[Any] = []

    def client(self, **kwargs: Any) -> Any:
        kc = super().client(**kwargs)
        self._clients.append(kc)
        return kc

    def before_page(self) -> None:
        """Empty the namespace the previous page left (nothing to do before the first)."""
        if not self.has_kernel:
            return
        kc = BlockingKernelClient()
        kc.load_connection_info(self.get_connection_info())
        kc.start_channels(hb=False)
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            reply = kc.execute_interactive(RESET, store_history=False, timeout=TIMEOUT,
                                           output_hook=lambda _msg: None)
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"resetting the kernel failed: {reply['content']}")
        finally:
            kc.stop_channels()

    def run_cli(self, argv: Sequence[str], cwd: str) -> int:
        """Run ``ospo-survey <argv>`` in this kernel (started in ``cwd`` if need be, as papermill
        would start it) and return its exit code; its output is this process's.

        Why: the pages without a notebook (the release, the codebook, the question pages, the
        benchmark) cost a new Python process each, its imports and its table reads; the
        worker's kernel has them already."""
        if not self.has_kernel:
            run_sync(self.start_kernel)(extra_arguments=KERNEL_ARGUMENTS, cwd=cwd)
        kc = BlockingKernelClient()
        kc.load_connection_info(self.get_connection_info())
        kc.start_channels(hb=False)
        code = ("from ospo_survey.cli import main as _ospo_main\n"
                f"_ospo_rc = _ospo_main({[str(a) for a in argv]!r})")
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            reply = kc.execute_interactive(code, store_history=False, timeout=None,
                                           output_hook=_forward,
                                           user_expressions={"rc": "_ospo_rc"})
        finally:
            kc.stop_channels()
        content = reply["content"]
        if content.get("status") != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
        return int(content["user_expressions"]["rc"]["data"]["text/plain"])

    def after_page(self) -> None:
        """Close the channels papermill opened for the page; the kernel keeps running."""
        for kc in self._clients:
            kc.stop_channels()
        self._clients.clear()

    def stop(self) -> None:
        """Stop the kernel at once (its pages are written)."""
        self.after_page()
        if self.has_kernel:
            run_sync(self.shutdown_kernel)(now=True)


class WorkerKernels:
    """One :class:`PageKernel` per worker thread, made on the thread's first page."""

    def __init__(self, kernel_name: str = "python3") -> None:
        self.kernel_name = kernel_name
        self._local = threading.local()
        self._all: list[PageKernel] = []
        self._lock = threading.Lock()

    def mine(self) -> PageKernel:
        km = getattr(self._local, "km", None)
        if km is None:
            km = self._local.km = PageKernel(kernel_name=self.kernel_name)
            with self._lock:
                self._all.append(km)
        return km

    def stop_all(self) -> None:
        for km in self._all:
            km.stop()
        self._all.clear()


def _forward(msg: dict[str, Any]) -> None:
    """A kernel's printed output, written to this process's stdout or stderr."""
    if msg.get("msg_type") == "stream":
        stream = sys.stderr if msg["content"].get("name") == "stderr" else sys.stdout
        stream.write(msg["content"].get("text", ""))
        stream.flush()
