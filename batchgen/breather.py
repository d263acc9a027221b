"""Long loops in worker threads hand the GIL to the event loop's thread every couple of milliseconds.

Why: CPython gives the GIL to a waiting thread only once the holder has run for the switch interval (5 ms). The event
loop lets the GIL go at every socket call and has to win it back each time, so while a worker thread expands, checks or
stores many jobs one ComfyUI ``GET /prompt`` (several socket calls) waits up to 5 ms per call: 22-43 ms measured on a
real ComfyUI during a 10,000-row acceptance, 58-128 ms during a 100,000-job preview. ``time.sleep(0)`` releases the GIL
at once and lets a waiting thread run first; every ~2 ms of work that gave 15-18 ms and 21-53 ms (docs/benchmarks.md
§11). The hand-over itself is cheap; the time the loop then takes is what makes the preview 11-37 % slower (still
about half a second). The loops stay in their threads: this only changes how long the event loop waits for its turn.

``time.sleep(0)`` does not always hand over, though: the releasing thread often takes the GIL straight back before the
woken one runs, and the waiter then waits out the switch interval after all. The preview of a 100,000-job grid still
gave 32-87 ms ``GET /prompt`` with it alone. So while a bulk request is handled, ``short_switch_interval()`` lowers the
interpreter's switch interval to 1 ms (the longest the loop then waits for the GIL per socket call): 8-23 ms measured
(docs/benchmarks.md §11). It is process-wide, so it lasts only as long as the bulk work, nested and concurrent requests
sharing one setting, and the interval in force before the first one is put back after the last.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from .gcpause import gc_paused
from .shared_setting import SharedSetting

__all__ = ["Breather", "bulk_work", "short_switch_interval", "SWITCH_INTERVAL"]

SWITCH_INTERVAL = 0.001  # seconds: the interpreter's switch interval while bulk work runs (CPython's default is 5 ms)

INTERVAL = 0.002  # seconds of work between two hand-overs
_EVERY = 64  # items between two looks at the clock (a clock read per item would cost more than the hand-overs)


class Breather:
    """Call once per item of a long loop: every ~2 ms it releases the GIL for a moment (``time.sleep(0)``)."""

    __slots__ = ("_count", "_due")

    def __init__(self) -> None:
        self._count = 0
        self._due = time.perf_counter() + INTERVAL

    def __call__(self) -> None:
        self._count += 1
        if self._count % _EVERY:
            return
        if time.perf_counter() >= self._due:
            time.sleep(0)
            self._due = time.perf_counter() + INTERVAL


def _shorten() -> Callable[[], None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(SWITCH_INTERVAL, previous))
    return lambda: sys.setswitchinterval(previous)


_SHORT = SharedSetting(_shorten)


def short_switch_interval() -> AbstractContextManager[None]:
    """Within the block (and any block nested or concurrent with it) a thread waits at most 1 ms for the GIL."""
    return _SHORT.held()


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """While a big batch or table is parsed, expanded, checked or stored: no automatic garbage collection
    (batchgen/gcpause.py), and a thread waits at most 1 ms for the GIL."""
    with gc_paused(), short_switch_interval():
        yield
