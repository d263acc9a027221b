"""Long loops in worker threads hand the GIL to the event loop's thread every couple of milliseconds.

Why: CPython gives the GIL to a waiting thread only once the holder has run for the switch interval (5 ms). The event
loop lets the GIL go at every socket call and has to win it back each time, so while a worker thread expands, checks or
stores many jobs one ComfyUI ``GET /prompt`` (several socket calls) waits up to 5 ms per call: 22-43 ms measured on a
real ComfyUI during a 10,000-row acceptance, 58-128 ms during a 100,000-job preview. ``time.sleep(0)`` releases the GIL
at once and lets a waiting thread run first; every ~2 ms of work that gave 15-18 ms and 21-53 ms (docs/benchmarks.md
§11). The hand-over itself is cheap; the time the loop then takes is what makes the preview 11-37 % slower (still
about half a second). The loops stay in their threads: this only changes how long the event loop waits for its turn.
"""

from __future__ import annotations

import time

__all__ = ["Breather"]

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
