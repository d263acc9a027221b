"""Long loops in worker threads hand the GIL over every ~2 ms of work (batchgen/breather.py), and only then.

What it does for the event loop is measured by bench/sources.py (in-process) and bench/uploads.py (real ComfyUI).
"""

from __future__ import annotations

from batchgen_ext.batchgen import breather
from batchgen_ext.batchgen.breather import Breather


def test_the_gil_is_released_once_per_interval_of_work_and_the_clock_read_only_every_64_items(monkeypatch):
    clock = [100.0]
    slept: list[float] = []
    reads = [0]

    def perf_counter() -> float:
        reads[0] += 1
        return clock[0]

    monkeypatch.setattr(breather, "INTERVAL", 2.0)  # whole numbers: no rounding in the comparisons below
    monkeypatch.setattr(breather.time, "perf_counter", perf_counter)
    monkeypatch.setattr(breather.time, "sleep", slept.append)
    breathe = Breather()
    for _ in range(10):  # ten blocks of 64 items, one "second" of work each
        for _ in range(64):
            breathe()
        clock[0] += 1.0
    assert slept == [0] * 4  # looks at 100 … 109: hand-overs at 102, 104, 106, 108 (every 2 s of work)
    assert reads[0] == 1 + 10 + 4  # set-up, one look per 64 items, one restart of the interval per hand-over
    clock[0] += 50.0
    for _ in range(63):
        breathe()
    assert len(slept) == 4  # not between looks, however long an item took
    breathe()
    assert slept == [0] * 5


def test_bulk_work_switches_every_millisecond_and_the_last_one_out_puts_the_old_interval_back():
    import sys
    import threading

    from batchgen_ext.batchgen.breather import short_switch_interval

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)  # someone else's setting: it must come back, not CPython's default
    try:
        entered, release = threading.Event(), threading.Event()

        def other_request() -> None:
            with short_switch_interval():
                entered.set()
                release.wait(5)

        with short_switch_interval():
            assert sys.getswitchinterval() == 0.001
            thread = threading.Thread(target=other_request)
            thread.start()
            assert entered.wait(5)
        assert sys.getswitchinterval() == 0.001  # the concurrent request is still working
        release.set()
        thread.join(5)
        assert sys.getswitchinterval() == 0.004
        try:
            with short_switch_interval():
                raise RuntimeError("a refused request")
        except RuntimeError:
            pass
        assert sys.getswitchinterval() == 0.004
    finally:
        sys.setswitchinterval(before)
