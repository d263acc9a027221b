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

import gc
from collections.abc import Callable
from contextlib import AbstractContextManager

from .shared_setting import SharedSetting

__all__ = ["gc_paused", "pause_depth"]


def _pause() -> Callable[[], None]:
    # Switched back on afterwards only if it was on when the first pause began.
    was_enabled = gc.isenabled()
    gc.disable()
    return gc.enable if was_enabled else (lambda: None)


_PAUSE = SharedSetting(_pause)


def gc_paused() -> AbstractContextManager[None]:
    """Within the block (and any block nested or concurrent with it) automatic garbage collection is off."""
    return _PAUSE.held()


def pause_depth() -> int:
    """How many pauses are open right now (tests; 0 when none)."""
    return _PAUSE.depth
