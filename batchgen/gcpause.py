"""Python's cyclic garbage collector paused while a big batch is parsed, expanded and stored.

Why: a full (generation 2) collection walks every container object of the process, and inside ComfyUI that is
hundreds of thousands of them (torch, node classes, caches): 300-450 ms measured on the CI machine with ~620,000
objects, holding the GIL the whole time, so ComfyUI's event loop (and its own ``GET /prompt``) stalls. Accepting a
10,000-job batch creates ~100,000 containers that stay alive until the batch is committed; collections running
meanwhile promote them to the oldest generation, which soon triggers such a full collection (CPython collects
generation 2 once the objects promoted since the last full run reach a quarter of those already there).

With collection paused for the duration of our own bounded CPU work, those temporaries are freed by reference
counting when the request ends and are never promoted. The pause is process-wide (the collector is), reference-counted
across concurrent requests and threads, never spans waiting for a client's bytes, and collection is switched back on
only if it was on when the first pause began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["gc_paused", "pause_depth"]

_lock = threading.Lock()
_depth = 0
_reenable = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Within the block (and any block nested or concurrent with it) automatic garbage collection is off."""
    global _depth, _reenable
    with _lock:
        if _depth == 0:
            _reenable = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _reenable:
                gc.enable()
                _reenable = False


def pause_depth() -> int:
    """How many pauses are open right now (tests; 0 when none)."""
    return _depth
