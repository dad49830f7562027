"""The site builder's reused kernels: a page never sees the variables of the page before."""

from __future__ import annotations

from jupyter_client.blocking import BlockingKernelClient
from jupyter_core.utils import run_sync

from ospo_survey.site.kernels import KERNEL_ARGUMENTS, PageKernel


def _run(km: PageKernel, code: str, expression: str) -> dict:
    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels(hb=False)
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, store_history=True, timeout=60,
                                       output_hook=lambda _m: None,
                                       user_expressions={"value": expression})
    finally:
        kc.stop_channels()
    return reply["content"]


def test_before_page_empties_the_namespace_and_keeps_gc_whole(tmp_path):
    km = PageKernel(kernel_name="python3")
    run_sync(km.start_kernel)(extra_arguments=KERNEL_ARGUMENTS, cwd=str(tmp_path))
    try:
        # a variable, a displayed result (Out / _) and a cycle, as a page leaves them
        first = _run(km, "secret = [1, 2]\nsecret.append(secret)\nsecret[:2]", "len(secret)")
        assert first["user_expressions"]["value"]["data"]["text/plain"] == "3"
        km.before_page()
        after = _run(km, "import gc", "(sorted(k for k in dir() if not k.startswith('_') and "
                     "k not in ('In', 'Out', 'exit', 'quit', 'get_ipython', 'open', 'gc')), "
                     "Out, gc.collect.__module__, gc.get_freeze_count() > 0)")
        value = after["user_expressions"]["value"]
        assert value["status"] == "ok", value
        # nothing of the first page is left; gc.collect is the real one again; alive
        # objects are frozen out of later collections
        assert value["data"]["text/plain"] == "([], {}, 'gc', True)"
    finally:
        km.stop()
