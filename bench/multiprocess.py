#!/usr/bin/env python3
"""Speed-up of one batch worked by two ComfyUI processes on one install versus one process.

Each run starts fresh servers through tests/comfyui/harness.py (COMFYUI_DIR / COMFYUI_PYTHON), in a
throw-away folder, with this extension loaded:

one   one ComfyUI.
two   two ComfyUIs on one install: the same user, input and output folders (so one batch database),
      different ports, each with its own temp folder, log and ComfyUI database, as with
      `--cuda-device 0` / `--cuda-device 1` on a two-GPU machine.

A run: a warm-up batch on every server (a few jobs, so node loading and the first validation are
not measured), then ONE batch of N jobs `StubImage -> TestSleep(0.2 s) -> SaveImage` (ComfyUI's
testing nodes; every job a distinct sleep time so nothing is answered from the cache) posted to
the first server; wall time from the POST until the batch is `succeeded`, polling every 50 ms.
The kinds alternate A B B A ... over the rounds (fresh servers for every run).

    python bench/multiprocess.py [-n 200] [--rounds 2] [--json]

Result: the median wall time of each kind, the spread, and the speed-up one/two (target >= 1.8).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from _benchutil import Target, command_line, err, git_revision, load_average, machine_facts, out, print_footer, print_summary  # noqa: E402

from tests.comfyui.harness import ComfyServer, comfy_env, new_server, skip_reason  # noqa: E402

API = "/batchgen/v1"
TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def sleep_template() -> dict[str, Any]:
    """A job that takes a fixed time without a model, like a GPU job would."""
    return {
        "workflow": {
            "1": {"class_type": "StubImage", "inputs": {"content": "NOISE", "height": 8, "width": 8, "batch_size": 1}},
            "2": {"class_type": "TestSleep", "inputs": {"value": ["1", 0], "seconds": 0.2}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "mp"}},
        },
        "bindings": {"seconds": "2.seconds"},
    }


def job_list(n: int, seconds: float, salt: int) -> list[dict[str, float]]:
    """n distinct sleep times around ``seconds`` (identical prompts would come from ComfyUI's cache)."""
    return [{"seconds": round(seconds + (salt * 100_000 + i) / 10_000_000, 7)} for i in range(n)]


@contextlib.contextmanager
def servers(count: int, keep: bool, env: dict[str, str]) -> Iterator[list[ComfyServer]]:
    """``count`` started ComfyUIs sharing user/input/output folders (one install), in a throw-away folder."""
    root = Path(tempfile.mkdtemp(prefix="batchgen-multiprocess-"))
    started: list[ComfyServer] = []
    try:
        for i in range(count):
            server = new_server(root / f"proc{i}", shared_data_dir=root / "shared", env=dict(env))
            err(f"starting ComfyUI {i + 1}/{count} from {server.comfy_dir} in {server.data_dir} ...")
            server.start()
            started.append(server)
        yield started
    except BaseException:
        for server in started:
            err(f"failed; ComfyUI log tail of {server.url}:\n" + server.log_tail())
        raise
    finally:
        for server in started:
            server.stop()
        if keep:
            err(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def wait_terminal(server: ComfyServer, batch_id: str, poll: float, timeout: float) -> dict[str, Any]:
    """Poll until the batch is terminal."""
    deadline = time.perf_counter() + timeout
    while True:
        state = server.get(f"{API}/batches/{batch_id}")
        if state["status"] in TERMINAL:
            return state
        if time.perf_counter() > deadline:
            raise TimeoutError(f"batch {batch_id} not finished after {timeout} s: {state}")
        time.sleep(poll)


def post(server: ComfyServer, name: str, jobs: list[dict[str, float]]) -> dict[str, Any]:
    """POST one batch of the sleep template."""
    status, batch = server.post(f"{API}/batches", {"name": name, "template": sleep_template(), "jobs": jobs})
    if status != 201:
        raise RuntimeError(f"POST /batches -> {status}: {batch}")
    return batch


def one_run(kind: str, index: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fresh server(s), warm-up, then the measured batch."""
    count = 1 if kind == "one" else 2
    with servers(count, args.keep, {"BATCHGEN_WINDOW": str(args.window)}) as started:
        for i, server in enumerate(started):
            warm = post(server, "warm-up", job_list(args.warmup, 0.0, 90 + 10 * index + i))
            wait_terminal(server, warm["id"], args.poll, args.timeout)
        first = started[0]
        t0 = time.perf_counter()
        batch = post(first, "multiprocess", job_list(args.n, args.seconds, index))
        state = wait_terminal(first, batch["id"], args.poll, args.timeout)
        total = time.perf_counter() - t0
        if state["status"] != "succeeded" or state["counts"]["succeeded"] != args.n:
            raise RuntimeError(f"batch ended {state['status']} with counts {state['counts']}")
        health = first.get(f"{API}/health")
        per_owner = _jobs_per_owner(first, batch["id"])
    return {"kind": kind, "run": index + 1, "processes": count, "total_s": round(total, 3), "jobs_per_s": round(args.n / total, 2),
            "jobs_per_process": sorted(per_owner.values()), "comfyui_version": health["host"]["version"]}


def _jobs_per_owner(server: ComfyServer, batch_id: str) -> dict[str, int]:
    """How many jobs each process ran (from the shared database)."""
    import sqlite3

    conn = sqlite3.connect(server.db_path, timeout=10)
    try:
        return dict(conn.execute("SELECT owner_id, COUNT(*) FROM jobs WHERE batch_id = ? GROUP BY owner_id", (batch_id,)).fetchall())
    finally:
        conn.close()


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians, spread and the speed-up."""
    one = [r["total_s"] for r in runs if r["kind"] == "one"]
    two = [r["total_s"] for r in runs if r["kind"] == "two"]
    speedup = statistics.median(one) / statistics.median(two)
    return {"one_median_s": round(statistics.median(one), 3), "one_min_s": min(one), "one_max_s": max(one),
            "two_median_s": round(statistics.median(two), 3), "two_min_s": min(two), "two_max_s": max(two),
            "speedup": round(speedup, 3), "target_speedup": 1.8, "target_met": speedup >= 1.8}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Needs COMFYUI_DIR and COMFYUI_PYTHON: eval \"$(../shared/tools/comfyui-lab env)\"")
    parser.add_argument("-n", type=int, default=200, help="jobs in the measured batch (default 200)")
    parser.add_argument("--seconds", type=float, default=0.2, help="sleep per job, seconds (default 0.2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of one+two, order alternating A B B A ... (default 2 -> 4 runs)")
    parser.add_argument("--warmup", type=int, default=4, help="warm-up jobs per server before each run (default 4)")
    parser.add_argument("--window", type=int, default=2, help="BATCHGEN_WINDOW of every server (default 2)")
    parser.add_argument("--poll", type=float, default=0.05, help="completion poll interval, seconds (default 0.05)")
    parser.add_argument("--timeout", type=float, default=900, help="per-run timeout, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away data folders (their paths are printed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (progress goes to stderr)")
    args = parser.parse_args()
    if args.n < 1 or args.rounds < 1 or args.warmup < 1:
        parser.error("-n, --rounds and --warmup must be at least 1")
    found = comfy_env()
    if found is None:
        err(skip_reason())
        return 2
    facts = machine_facts()
    order: list[str] = []
    for r in range(args.rounds):
        order += ["one", "two"] if r % 2 == 0 else ["two", "one"]
    runs = []
    for i, kind in enumerate(order):
        run = one_run(kind, i, args)
        runs.append(run)
        line = (f"run {i + 1}/{len(order)}  {kind:3s} ({run['processes']} process(es))  {run['total_s']:8.3f} s  "
                f"{run['jobs_per_s']:6.2f} jobs/s  jobs per process {run['jobs_per_process']}")
        (err if args.json else out)(line)
    facts.update({"load_avg_end": load_average(), "comfyui_version": runs[0]["comfyui_version"],
                  "comfyui_commit": git_revision(found[0]), "comfyui_dir": str(found[0])})
    summary = summarise(runs)
    report = {"benchmark": "multiprocess", "n": args.n, "seconds": args.seconds, "rounds": args.rounds, "window": args.window,
              "machine": facts, "runs": runs, "summary": summary, "command": command_line()}
    if args.json:
        out(json.dumps(report, indent=1))
        return 0
    s = summary
    out()
    print_summary([("one process", [r["total_s"] for r in runs if r["kind"] == "one"]),
                   ("two processes", [r["total_s"] for r in runs if r["kind"] == "two"])],
                  [Target("speed-up one/two", s["speedup"], s["target_speedup"])], jobs=args.n)
    print_footer(facts, report["command"], f"{args.n} jobs StubImage -> TestSleep({args.seconds} s) -> SaveImage, window {args.window} "
                 f"per process, {args.warmup} warm-up jobs per server, fresh servers per run, polls every {args.poll * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
