"""In-process: SQL statements and CPU time per trivial job of the real dispatcher loop and store.

No ComfyUI: the engine tests' WorkerHost (tests/unit/enginekit.py) stands in for it and finishes each
prompt at once, so what is measured is our own per-job work: the statements our store runs (counted
with sqlite3's trace callback on every connection) and the CPU time of the process, of the event loop
thread and of the database thread, and what the process wrote (bytes handed to write(), write calls: the WAL frames and
checkpoints of its commits). These are the costs that compete with ComfyUI's worker thread for
the GIL on a real server (docs/benchmarks.md §1). A micro-measurement, not a throughput figure.

    .venv/bin/python bench/perjob.py -n 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _benchutil as bu  # noqa: E402

import tests.conftest  # noqa: E402,F401  (loads the extension as batchgen_ext)
from tests.unit.enginekit import add_batch, start_proc, stop_proc, terminal, wait_until  # noqa: E402


def _thread_cpu(thread_id: int | None) -> float:
    """CPU seconds used so far by one thread (Linux)."""
    if thread_id is None:
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread_id))
    except (OSError, AttributeError):
        return 0.0


def _io() -> dict[str, int]:
    """This process's write counters (Linux /proc/self/io): bytes handed to write() and write calls."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
        return {"wchar": int(fields["wchar"]), "syscw": int(fields["syscw"])}
    except (OSError, KeyError, ValueError):
        return {"wchar": 0, "syscw": 0}


def _busy(seconds: float, slice_s: float) -> None:
    """Pure-Python work holding the GIL, released every ``slice_s`` (as ComfyUI's worker does in torch and file calls)."""
    end = time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        stop = min(end, now + slice_s)
        while time.perf_counter() < stop:
            sum(range(50))
        time.sleep(0)  # a GIL-free call


def thread_worker(proc, busy_s: float, slice_s: float, stop: threading.Event) -> threading.Thread:
    """ComfyUI's prompt worker as a real thread: each prompt is busy_s of GIL-holding Python work."""
    from batchgen_ext.batchgen.models import JobOutcome, JobStatus  # loaded by tests.conftest

    host, loop = proc.host, asyncio.get_running_loop()
    lock = threading.Lock()
    for name in ("enqueue", "lookup", "remove_pending", "interrupt", "start_next", "finish_running"):
        method = getattr(host, name)

        def locked(*args, _method=method, **kwargs):
            with lock:
                return _method(*args, **kwargs)
        setattr(host, name, locked)
    host._changed = lambda: host.listener and loop.call_soon_threadsafe(host.listener)

    def work() -> None:
        while not stop.is_set():
            item = host.start_next()
            if item is None:
                time.sleep(0.0005)
                continue
            _busy(busy_s, slice_s)
            with lock:
                host.history[item.prompt_id] = JobOutcome(JobStatus.SUCCEEDED, ())
                host.running = None
                host.executed.append(0)
            host._changed()

    thread = threading.Thread(target=work, name="prompt_worker", daemon=True)
    thread.start()
    return thread


async def run_once(n: int, window: int, busy_ms: float, slice_ms: float, window_max: int = 0) -> dict[str, object]:
    """One fresh database, one batch of n jobs run to the end; statements and CPU per job."""
    with tempfile.TemporaryDirectory(prefix="batchgen-perjob-") as tmp:
        root = Path(tmp)
        kinds: Counter[str] = Counter()

        def trace(sql: str) -> None:
            kinds[sql.split(None, 1)[0].upper() if sql.strip() else "?"] += 1

        def setup(proc) -> None:
            proc.host.job_seconds = 0.0

        proc = await start_proc(root / "db.sqlite", root / "out", setup=setup, window=window, window_max=window_max)
        stop = threading.Event()
        if busy_ms > 0:
            await proc.host.kill()  # the asyncio worker: replaced by a thread that holds the GIL while it "runs" a prompt
            thread_worker(proc, busy_ms / 1000, slice_ms / 1000, stop)
        try:
            for conn in (proc.store._write, proc.store._read):
                if conn is not None:  # sqlite3 objects may only be touched in their own thread
                    await conn._execute(conn._connection.set_trace_callback, trace)
            if proc.store._inline is not None:
                proc.store._inline.set_trace_callback(trace)
            await wait_until(lambda: _idle(proc), what="startup")
            db_thread = proc.store._write._thread.ident  # type: ignore[union-attr]
            batch_id = await add_batch(proc.store, n)
            kinds.clear()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            loop0, db0, io0 = time.thread_time(), _thread_cpu(db_thread), _io()
            await wait_until(lambda: terminal(proc.store, batch_id), timeout=600, what="batch end")
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            loop_cpu, db_cpu = time.thread_time() - loop0, _thread_cpu(db_thread) - db0
            io = {k: v - io0[k] for k, v in _io().items()}
            batch = await proc.store.get_batch(batch_id)
            assert batch is not None and batch.counts.succeeded == n, batch
        finally:
            stop.set()
            await stop_proc(proc)
    statements = sum(kinds.values())
    ideal = n * busy_ms / 1000
    return {"jobs": n, "wall_s": round(wall, 3), "busy_ms": busy_ms, "slice_ms": slice_ms,
            "throughput_vs_busy_worker": round(ideal / wall, 3) if ideal else None, "statements_per_job": round(statements / n, 2),
            "by_kind_per_job": {k: round(v / n, 2) for k, v in kinds.most_common()},
            "cpu_ms_per_job": round(cpu / n * 1000, 3), "loop_thread_cpu_ms_per_job": round(loop_cpu / n * 1000, 3),
            "db_thread_cpu_ms_per_job": round(db_cpu / n * 1000, 3),
            "commits_per_job": round(kinds.get("COMMIT", 0) / n, 3),
            "kib_written_per_job": round(io["wchar"] / n / 1024, 2), "writes_per_job": round(io["syscw"] / n, 2)}


async def _idle(proc) -> bool:
    return proc.dispatcher.state == "running"


def main() -> None:
    """Run the measurement and print one line per run and a median summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="jobs per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--window", type=int, default=2)
    parser.add_argument("--window-max", type=int, default=0, help="BATCHGEN_WINDOW_MAX (default: the window, no growth)")
    parser.add_argument("--busy-ms", type=float, default=0.0,
                        help="simulate ComfyUI's worker as a thread holding the GIL this long per prompt (0: finish at once)")
    parser.add_argument("--slice-ms", type=float, default=0.2, help="the simulated worker releases the GIL this often")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = [asyncio.run(run_once(args.n, args.window, args.busy_ms, args.slice_ms, args.window_max)) for _ in range(args.repeat)]
    if args.json:
        bu.out(json.dumps({"runs": runs, "machine": bu.machine_facts()}, indent=2))
        return
    for i, r in enumerate(runs, 1):
        bu.out(f"run {i}: {r['jobs']} jobs in {r['wall_s']} s (vs busy worker alone {r['throughput_vs_busy_worker']}); "
               f"{r['statements_per_job']} statements/job "
               f"{r['by_kind_per_job']}; CPU {r['cpu_ms_per_job']} ms/job (loop {r['loop_thread_cpu_ms_per_job']}, "
               f"db {r['db_thread_cpu_ms_per_job']}); {r['commits_per_job']} commits, {r['kib_written_per_job']} KiB in "
               f"{r['writes_per_job']} write calls per job")
    for key in ("throughput_vs_busy_worker", "statements_per_job", "cpu_ms_per_job", "loop_thread_cpu_ms_per_job", "db_thread_cpu_ms_per_job",
                "kib_written_per_job", "writes_per_job"):
        values = [float(r[key]) for r in runs if r[key] is not None]
        if values:
            bu.out(f"{key}: median {statistics.median(values)}, range {min(values)}-{max(values)}")


if __name__ == "__main__":
    main()
