"""Bench instrument: log every garbage collection of ≥ 5 ms of the process it is loaded into (ComfyUI under a bench).

Loaded only when a bench puts this folder on ComfyUI's PYTHONPATH and sets BATCHGEN_BENCH_GCLOG to a file: each
collection that took 5 ms or more appends one JSON line {"t": wall-clock start, "ms", "gen", "thread", "at": the
Python line that triggered it, "collected", "counts": gc.get_count() when it began (the young generation's size
first)}. A stall of the event loop can then be matched to a collection, and to the thread that ran it (ComfyUI's
prompt worker calls gc.collect() itself after a prompt, at most every 10 s).
Not part of the extension; nothing is logged without the variable.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

_PATH = os.environ.get("BATCHGEN_BENCH_GCLOG")
_MIN_MS = 5.0

if _PATH:
    _started: dict[int, tuple[float, float, tuple[int, int, int]]] = {}
    _lock = threading.Lock()

    def _log(phase: str, info: dict) -> None:
        ident = threading.get_ident()
        if phase == "start":
            _started[ident] = (time.time(), time.perf_counter(), gc.get_count())
            return
        begun = _started.pop(ident, None)
        if begun is None:
            return
        ms = (time.perf_counter() - begun[1]) * 1000
        if ms < _MIN_MS:
            return
        frame = sys._getframe(1)  # the Python code that was running when the collection started
        at = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno} {frame.f_code.co_name}"
        line = json.dumps({"t": begun[0], "ms": round(ms, 1), "gen": info.get("generation"), "thread": threading.current_thread().name,
                           "at": at, "collected": info.get("collected"), "counts": begun[2]})
        with _lock, open(_PATH, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    gc.callbacks.append(_log)

# The prompt worker's waits for work: BATCHGEN_BENCH_IDLELOG names a file that gets one JSON line {"t": wall-clock
# start, "ms"} per wait of ≥ 0.2 ms in PromptQueue.get() begun with ComfyUI's queue empty, i.e. the time its worker
# had nothing to run. A feeder that keeps the worker busy leaves none during a run.
_IDLE_PATH = os.environ.get("BATCHGEN_BENCH_IDLELOG")
_IDLE_MIN_S = 0.0002

if _IDLE_PATH:

    def _wrap_get(queue_cls: type) -> None:
        original = queue_cls.get

        def get(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            empty = not self.queue
            started, t0 = time.time(), time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                waited = time.perf_counter() - t0
                if empty and waited >= _IDLE_MIN_S:
                    with open(_IDLE_PATH, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"t": started, "ms": round(waited * 1000, 2)}) + "\n")

        queue_cls.get = get

    def _await_execution() -> None:
        # sitecustomize runs before ComfyUI imports its execution module: wrap PromptQueue once it exists.
        while True:
            module = sys.modules.get("execution")
            queue_cls = getattr(module, "PromptQueue", None)
            if queue_cls is not None:
                _wrap_get(queue_cls)
                return
            time.sleep(0.005)

    threading.Thread(target=_await_execution, name="bench-idlelog", daemon=True).start()
