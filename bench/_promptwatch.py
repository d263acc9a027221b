"""ComfyUI's own responsiveness seen from outside: GET /prompt timed meanwhile, its garbage collections, a quiet start.

Shared by the bench scripts that measure a real ComfyUI's event loop (bench/uploads.py, bench/grid_live.py):

- ``PromptPoller``: a thread sending ComfyUI's own ``GET /prompt`` every few ms, recording each request's wall-clock
  send and answer times; a slow answer is a stalled event loop (or a GIL held elsewhere in the process).
- ``GcLog``: the collections of ≥ 5 ms ComfyUI ran, read from the file bench/gclog/sitecustomize.py writes when the
  bench starts ComfyUI with ``gc_log_env()``; which thread ran each one and what triggered it.
- ``quiesce``: ComfyUI's queue empty and its prompt worker's periodic ``gc.collect()`` brought to a known point
  (``POST /free`` makes the worker collect at once; the next collection after a prompt then comes only 10 s later).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GCLOG_DIR = Path(__file__).resolve().parent / "gclog"
WORKER = "prompt_worker"  # ComfyUI's worker thread is Thread-N (prompt_worker)
WORKER_GC_INTERVAL = 10.0  # main.py prompt_worker: gc.collect() after a prompt, at most every 10 s


def gc_log_env(path: Path, idle_path: Path | None = None) -> dict[str, str]:
    """Environment that makes a started ComfyUI log its collections of ≥ 5 ms into ``path`` (and its worker's waits
    for work into ``idle_path``)."""
    env = {"PYTHONPATH": str(GCLOG_DIR), "BATCHGEN_BENCH_GCLOG": str(path)}
    if idle_path is not None:
        env["BATCHGEN_BENCH_IDLELOG"] = str(idle_path)
    return env


def worker_idle_ms(path: Path, since: float, until: float) -> float:
    """Total ms ComfyUI's worker waited with its queue empty, over the waits that began in [since, until]."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0.0
    return round(sum(d["ms"] for d in map(json.loads, filter(None, lines)) if since <= d["t"] <= until), 1)


class PromptPoller(threading.Thread):
    """GET /prompt every ``every`` s; ``samples`` holds (sent, answered) wall-clock times of each request."""

    def __init__(self, url: str, every: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.url, self.every, self.samples, self.halt = url, every, [], threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            sent = time.time()
            with urllib.request.urlopen(self.url + "/prompt", timeout=30) as resp:
                resp.read()
            self.samples.append((sent, time.time()))
            time.sleep(self.every)

    def __enter__(self) -> PromptPoller:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.halt.set()
        self.join()

    def max_ms(self, sent_from: float = 0.0, sent_until: float = float("inf"), skip: list[tuple[float, float]] = ()) -> float:
        """The slowest answer (ms) among requests sent in [sent_from, sent_until], leaving out those overlapping ``skip``."""
        return max(((b - a) * 1000 for a, b in self.samples
                     if sent_from <= a <= sent_until and not any(a < end and b > start for start, end in skip)), default=0.0)

    def slowest(self) -> tuple[float, float]:
        """(ms, sent at) of the slowest request."""
        a, b = max(self.samples, key=lambda s: s[1] - s[0])
        return (b - a) * 1000, a


@dataclass(frozen=True, slots=True)
class Collection:
    """One garbage collection ComfyUI ran: wall-clock start, ms, generation, thread, the line that triggered it."""

    start: float
    ms: float
    gen: int
    thread: str
    at: str
    young: int = 0  # containers in the youngest generation when it began

    @property
    def end(self) -> float:
        return self.start + self.ms / 1000

    @property
    def by_worker(self) -> bool:
        """Run by ComfyUI's prompt worker (its own gc.collect() after a prompt or a /free, or an automatic one there)."""
        return WORKER in self.thread


class GcLog:
    """The collections in the file bench/gclog/sitecustomize.py appends to (absent file: none logged)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self, since: float = 0.0, until: float = float("inf")) -> list[Collection]:
        """Collections that overlap [since, until]."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = [Collection(d["t"], d["ms"], d["gen"], d["thread"], d["at"], (d.get("counts") or [0])[0])
                 for d in map(json.loads, filter(None, lines))]
        return [c for c in found if c.end >= since and c.start <= until]

    def worker_after(self, since: float, timeout: float) -> Collection | None:
        """Wait up to ``timeout`` s for a full collection by the prompt worker that started after ``since``."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [c for c in self.entries(since) if c.by_worker and c.gen == 2 and c.start >= since]
            if hits:
                return hits[0]
            time.sleep(0.05)
        return None


def summary(collections: list[Collection]) -> str:
    """'412 ms gen 2 (young 35) in Thread-1 (prompt_worker) (main.py:465 prompt_worker)' for each, joined."""
    return "; ".join(f"{c.ms:.0f} ms gen {c.gen} (young {c.young}) in {c.thread} ({c.at})" for c in collections) or "none ≥ 5 ms"


def quiesce(server: Any, gc_log: GcLog | None, wait: float, free_memory: bool = True) -> Collection | None:
    """Empty queue, then ``POST /free`` (the worker collects now) and ``wait`` s more; returns that collection if logged.

    ``wait`` > 10 s: the worker's next post-prompt collection falls in the measured window (it runs once more than 10 s
    have passed since its last one); ``wait`` < 10 s: it cannot. Without a ``gc_log`` the collection is given 0.6 s
    (it takes 0.3-0.4 s). ``free_memory`` also empties ComfyUI's execution cache.
    """
    deadline = time.time() + 60
    while time.time() < deadline and server.native_queue() != (0, 0):
        time.sleep(0.1)
    asked = time.time()
    status, _ = server.post("/free", {"unload_models": True, "free_memory": free_memory})
    assert status == 200, status
    if gc_log is None:
        time.sleep(0.6 + wait)
        return None
    collection = gc_log.worker_after(asked, 5.0)
    time.sleep(max(0.0, (collection.end if collection else time.time()) + wait - time.time()))
    return collection
