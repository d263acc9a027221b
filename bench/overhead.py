#!/usr/bin/env python3
"""Throughput of one batch versus the same number of prompts posted natively, on one fresh real ComfyUI.

One ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON) is started through tests/comfyui/harness.py with this
extension loaded, in a throw-away data folder. Two kinds of run alternate on it, A B B A A B …:

native  ../shared/tools/native_throughput.py run with ComfyUI's python (--json): 3 warm-up prompts,
        then N prompts `EmptyImage 64x64 (distinct colour) -> PreviewImage` through POST /prompt,
        16 in flight; wall time from the first POST until all N are in /history with success.
batch   3 warm-up jobs as a small batch, then the N prompts as ONE batch through POST
        /batchgen/v1/batches with an inline template (the same graph, bindings {"color": "1.color"},
        `jobs` of distinct colours); wall time from the POST until the batch is `succeeded`, polling
        GET /batchgen/v1/batches/{id} every 20 ms. The accept time (POST -> 201) is reported too.

Both sides poll for completion every 20 ms (the native tool gets --poll 0.02), so neither gains from
a finer poll. ComfyUI's temp folder is emptied before every run: PreviewImage lists that folder on
every save and would slow down every later run. Every colour is used once on the server: batch
colours are chosen outside every colour already in /history, and after each run /history is checked
for prompts that ComfyUI answered from its cache (there must be none; a run with any is flagged).

    python bench/overhead.py [-n 500] [--rounds 3] [--quiesce] [--gclog] [--json]

--quiesce: before every run of either kind ComfyUI's worker runs its periodic gc.collect() (POST /free), so that
collection (0.3-0.4 s, at most every 10 s) never lands in a run. Every run reports the CPU each thread of ComfyUI used
per job (named as Python names them when py-spy is installed in this venv: `pip install py-spy`); --gclog adds the
collections of >= 5 ms during the run and the time ComfyUI's worker waited with an empty queue (bench/gclog).

Result: the median wall time of each kind and the throughput ratio batch/native
(= native median time / batch median time; the target is >= 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from _benchutil import (  # noqa: E402
    Target,
    bench_server,
    clear_folder,
    command_line,
    err,
    git_revision,
    load_average,
    machine_facts,
    out,
    print_footer,
    print_summary,
)
from _promptwatch import GcLog, quiesce, worker_idle_ms  # noqa: E402
from _threadcpu import cpu_per_job, thread_cpu  # noqa: E402

from tests.comfyui.harness import comfy_env, skip_reason  # noqa: E402

API = "/batchgen/v1"
DEFAULT_NATIVE_TOOL = BENCH_DIR.parents[1] / "shared" / "tools" / "native_throughput.py"
TERMINAL = ("succeeded", "partial", "failed", "cancelled")
MAX_COLOUR = 0xFFFFFF  # EmptyImage's colour input range is 0 .. 0xFFFFFF


def inline_template() -> dict[str, Any]:
    """The native tool's graph as an inline batch template: one binding, the colour."""
    return {
        "workflow": {
            "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
        },
        "bindings": {"color": "1.color"},
    }


def _colours(entry: dict[str, Any]) -> list[int]:
    """EmptyImage colours in the graph of one /history entry."""
    graph = (entry.get("prompt") or [None, None, {}])[2] or {}
    return [node["inputs"]["color"] for node in graph.values()
            if node.get("class_type") == "EmptyImage" and isinstance(node.get("inputs", {}).get("color"), int)]


class History:
    """What ComfyUI's /history says about the prompts of each run: colours used, cache hits."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.colours: set[int] = set()  # every colour a prompt on this server has executed with
        self.reserved: set[int] = set()  # colours handed out to batches

    async def new_entries(self, session: aiohttp.ClientSession, url: str, expect: int) -> dict[str, Any]:
        """History entries not seen before (at most the last expect + 50)."""
        async with session.get(f"{url}/history", params={"max_items": str(expect + 50)}) as resp:
            resp.raise_for_status()
            history = await resp.json()
        fresh = {pid: entry for pid, entry in history.items() if pid not in self.seen}
        self.seen.update(fresh)
        return fresh

    async def check_run(self, session: aiohttp.ClientSession, url: str, n: int, warmup: int) -> dict[str, int]:
        """Colours reused from earlier runs and prompts answered from ComfyUI's cache, among the run's measured prompts.

        The first `warmup` new entries (history is in completion order) are the warm-up prompts: the native
        tool gives them the same colours in every run, so they are left out of both counts.
        """
        fresh = list((await self.new_entries(session, url, n + warmup)).values())
        measured = fresh[warmup:]
        for entry in fresh[:warmup]:
            self.colours.update(_colours(entry))
        colours: list[int] = []
        cached = 0
        for entry in measured:
            colours += _colours(entry)
            for name, data in entry.get("status", {}).get("messages", []):
                if name == "execution_cached" and data.get("nodes"):
                    cached += 1
        reused = sum(1 for c in colours if c in self.colours)
        self.colours.update(colours)
        return {"history_entries": len(measured), "colours_reused": reused, "prompts_cached": cached}

    def free_block(self, rng: random.Random, n: int) -> list[int]:
        """n consecutive colours none of which any prompt on this server has used."""
        for _ in range(10_000):
            base = rng.randrange(0, MAX_COLOUR - n + 1)
            block = range(base, base + n)
            if not any(c in self.colours or c in self.reserved for c in block):
                self.reserved.update(block)
                return list(block)
        raise RuntimeError("no free colour block found")


def run_native(python: Path, tool: Path, url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One native run through the shared tool (in ComfyUI's interpreter, as a separate process)."""
    cmd = [str(python), str(tool), "--url", url, "-n", str(n), "--json", "--concurrency", str(args.concurrency),
           "--warmup", str(args.warmup), "--poll", str(args.poll)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout + 120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"native_throughput.py failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    result = json.loads(lines[-1])
    if result["success"] != n:
        raise RuntimeError(f"native run: only {result['success']} of {n} prompts succeeded: {result}")
    return {"kind": "native", "total_s": result["total_s"], "jobs_per_s": round(n / result["total_s"], 1),
            "submit_s": result["submit_s"], "exec_ms_median": result["exec_ms_median"], "polls": result["polls"]}


async def post_batch(session: aiohttp.ClientSession, url: str, name: str, colours: list[int]) -> tuple[dict[str, Any], float, float]:
    """POST one batch; (batch, time of the POST, time of the 201)."""
    payload = json.dumps({"name": name, "template": inline_template(), "jobs": [{"color": c} for c in colours]}).encode()
    started = time.perf_counter()
    async with session.post(f"{url}{API}/batches", data=payload, headers={"Content-Type": "application/json"}) as resp:
        batch = await resp.json()
        accepted = time.perf_counter()
        if resp.status != 201:
            raise RuntimeError(f"POST /batches -> {resp.status}: {batch}")
    return batch, started, accepted


async def wait_batch(session: aiohttp.ClientSession, url: str, batch_id: str, poll: float, timeout: float) -> tuple[dict[str, Any], int]:
    """Poll GET /batches/{id} every `poll` seconds until it is terminal; (final state, polls)."""
    deadline = time.perf_counter() + timeout
    polls = 0
    while True:
        polls += 1
        async with session.get(f"{url}{API}/batches/{batch_id}") as resp:
            state = await resp.json()
        if state["status"] in TERMINAL:
            return state, polls
        if time.perf_counter() > deadline:
            raise TimeoutError(f"batch {batch_id} not finished after {timeout} s: {state}")
        await asyncio.sleep(poll)


async def run_batch(session: aiohttp.ClientSession, url: str, n: int, history: History, rng: random.Random,
                    args: argparse.Namespace) -> dict[str, Any]:
    """Warm-up batch, then the measured batch of n jobs."""
    if args.warmup:
        warm, _, _ = await post_batch(session, url, "overhead warm-up", history.free_block(rng, args.warmup))
        state, _ = await wait_batch(session, url, warm["id"], args.poll, args.timeout)
        if state["status"] != "succeeded":
            raise RuntimeError(f"warm-up batch ended {state['status']}: {state}")
    colours = history.free_block(rng, n)
    batch, started, accepted = await post_batch(session, url, "overhead", colours)
    state, polls = await wait_batch(session, url, batch["id"], args.poll, args.timeout)
    total = round(time.perf_counter() - started, 3)
    if state["status"] != "succeeded" or state["counts"]["succeeded"] != n:
        raise RuntimeError(f"batch ended {state['status']} with counts {state['counts']}")
    return {"kind": "batch", "total_s": total, "jobs_per_s": round(n / total, 1),
            "accept_s": round(accepted - started, 4), "server_elapsed_s": state.get("elapsed_seconds"), "polls": polls}


async def measure(server: Any, python: Path, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All runs in A B B A … order on one server."""
    rng = random.Random(args.seed)
    history = History()
    runs: list[dict[str, Any]] = []
    order: list[str] = []
    for r in range(args.rounds):
        order += ["native", "batch"] if r % 2 == 0 else ["batch", "native"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        async with session.get(f"{server.url}{API}/health") as resp:
            health = await resp.json()
        await history.new_entries(session, server.url, 0)
        for i, kind in enumerate(order, 1):
            cleared = clear_folder(server.temp_dir)
            if args.quiesce:
                # ComfyUI's worker runs its periodic gc.collect() now: none falls inside the next 10 s (one run).
                await asyncio.to_thread(quiesce, server, GcLog(server.data_dir / "gc.jsonl") if args.gclog else None, 0.0, False)
            await asyncio.sleep(args.settle)
            began = time.time()
            cpu_before = thread_cpu(server.proc.pid)
            if kind == "native":
                run = await asyncio.to_thread(run_native, python, args.native_tool, server.url, args.n, args)
            else:
                run = await run_batch(session, server.url, args.n, history, rng, args)
            run.update(await history.check_run(session, server.url, args.n, args.warmup))
            run.update({"run": i, "n": args.n, "temp_files_cleared": cleared})
            run["cpu_ms_per_job"] = cpu_per_job(cpu_before, thread_cpu(server.proc.pid), args.n)
            if args.gclog:
                run["gc"] = gc_during(server, began, time.time())
            runs.append(run)
            if not args.json:
                out(run_line(run, len(order)))
            else:
                err(run_line(run, len(order)))
    return runs, health


def gc_during(server: Any, began: float, ended: float) -> dict[str, Any]:
    """ComfyUI's collections of >= 5 ms inside one run (bench/gclog): how many, their total ms, by generation and thread."""
    found = GcLog(server.data_dir / "gc.jsonl").entries(began, ended)
    return {"worker_idle_ms": worker_idle_ms(server.data_dir / "idle.jsonl", began, ended),
            "count": len(found), "ms": round(sum(c.ms for c in found), 1),
            "full": sum(1 for c in found if c.gen == 2), "by_worker": sum(1 for c in found if c.by_worker)}


def run_line(run: dict[str, Any], total: int) -> str:
    """One run, human-readable."""
    head = f"run {run['run']}/{total}  {run['kind']:6s} {run['total_s']:8.3f} s  {run['jobs_per_s']:7.1f} jobs/s"
    if run["kind"] == "native":
        detail = f"submit {run['submit_s']:.3f} s, exec median {run['exec_ms_median']} ms"
    else:
        detail = f"accept {run['accept_s'] * 1000:.1f} ms, server-side elapsed {run['server_elapsed_s']} s"
    flags = (f"polls {run['polls']}, temp files cleared before {run['temp_files_cleared']}, "
             f"cached prompts {run['prompts_cached']}, reused colours {run['colours_reused']}")
    flags += "; CPU ms/job " + ", ".join(f"{k} {v}" for k, v in run["cpu_ms_per_job"].items())
    if "gc" in run:
        g = run["gc"]
        flags += (f"; worker idle {g['worker_idle_ms']} ms; collections >= 5 ms: {g['count']} ({g['full']} full, "
                  f"{g['by_worker']} by the worker), {g['ms']} ms")
    warn = ""
    if run["prompts_cached"] or run["history_entries"] != run["n"]:
        warn = (f"  WARNING: {run['prompts_cached']} prompt(s) answered from ComfyUI's cache, {run['history_entries']} of "
                f"{run['n']} found in /history; this run is not comparable")
    return f"{head}  ({detail}; {flags}){warn}"


def summarise(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Medians, spread and the ratio."""
    native = [r["total_s"] for r in runs if r["kind"] == "native"]
    batch = [r["total_s"] for r in runs if r["kind"] == "batch"]
    native_median, batch_median = statistics.median(native), statistics.median(batch)
    ratio = native_median / batch_median
    return {
        "native_median_s": round(native_median, 3), "native_min_s": min(native), "native_max_s": max(native),
        "batch_median_s": round(batch_median, 3), "batch_min_s": min(batch), "batch_max_s": max(batch),
        "native_jobs_per_s": round(n / native_median, 1), "batch_jobs_per_s": round(n / batch_median, 1),
        "accept_median_s": statistics.median(r["accept_s"] for r in runs if r["kind"] == "batch"),
        "throughput_ratio": round(ratio, 3),
        "overhead_ms_per_job": round(1000 * (batch_median - native_median) / n, 3),
        "target_ratio": 0.9, "target_met": ratio >= 0.9,
        "runs_with_cached_prompts": sum(1 for r in runs if r["prompts_cached"] or r["history_entries"] != n),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Needs COMFYUI_DIR and COMFYUI_PYTHON: eval \"$(../shared/tools/comfyui-lab env)\"")
    parser.add_argument("-n", type=int, default=500, help="prompts per run (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of native+batch, order alternating A B B A ... (default 3 -> 6 runs)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up prompts before each run, both kinds (default 3, as the native tool)")
    parser.add_argument("--concurrency", type=int, default=16, help="native POST /prompt requests in flight (default 16)")
    parser.add_argument("--poll", type=float, default=0.02, help="completion poll interval of both kinds, seconds (default 0.02)")
    parser.add_argument("--settle", type=float, default=1.0, help="pause after clearing the temp folder, before each run (default 1 s)")
    parser.add_argument("--window", type=int, default=None, help="BATCHGEN_WINDOW for the server (default: the extension's, 4)")
    parser.add_argument("--native-tool", type=Path, default=DEFAULT_NATIVE_TOOL, help="path of native_throughput.py")
    parser.add_argument("--seed", type=int, default=None, help="seed of the batch colour choice (default: random)")
    parser.add_argument("--timeout", type=float, default=600, help="per-run timeout, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away ComfyUI data folder (its path is printed)")
    parser.add_argument("--quiesce", action="store_true", help="before every run, have ComfyUI's worker run its periodic "
                        "gc.collect() (POST /free) so that none falls inside a run")
    parser.add_argument("--gclog", action="store_true", help="log ComfyUI's garbage collections of >= 5 ms and report them per run")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (progress goes to stderr)")
    args = parser.parse_args()
    if args.n < 1 or args.rounds < 1:
        parser.error("-n and --rounds must be at least 1")
    found = comfy_env()
    if found is None:
        err(skip_reason())
        return 2
    if not args.native_tool.is_file():
        err(f"native tool not found: {args.native_tool} (give --native-tool)")
        return 2
    facts = machine_facts()
    env = {"BATCHGEN_WINDOW": str(args.window)} if args.window else {}
    with bench_server("batchgen-overhead-", args.keep, env, gc_log=args.gclog) as server:
        runs, health = asyncio.run(measure(server, found[1], args))
    facts.update({"load_avg_end": load_average(), "comfyui_version": health["host"]["version"],
                  "comfyui_commit": git_revision(found[0]), "comfyui_dir": str(found[0]), "comfyui_python": str(found[1]),
                  "extension_version": health.get("version"), "window": health["dispatcher"]["window"]})
    summary = summarise(runs, args.n)
    report = {"benchmark": "overhead", "n": args.n, "rounds": args.rounds, "warmup": args.warmup, "poll_s": args.poll,
              "concurrency": args.concurrency, "machine": facts, "runs": runs, "summary": summary, "command": command_line()}
    if args.json:
        out(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    s = summary
    out()
    native = [r["total_s"] for r in runs if r["kind"] == "native"]
    batch = [r["total_s"] for r in runs if r["kind"] == "batch"]
    print_summary([("native", native), ("batch", batch, f"accept median {s['accept_median_s'] * 1000:.1f} ms")], [
        Target("throughput ratio batch/native", s["throughput_ratio"], s["target_ratio"],
               note=f"overhead {s['overhead_ms_per_job']:+.3f} ms per job")], jobs=args.n)
    if s["runs_with_cached_prompts"]:
        out(f"WARNING: {s['runs_with_cached_prompts']} run(s) had prompts answered from ComfyUI's cache or missing from /history")
    print_footer(facts, report["command"], f"{args.n} prompts EmptyImage 64x64 -> PreviewImage per run, {args.warmup} warm-up prompts "
                 f"before each, native {args.concurrency} in flight, batch window {facts['window']}, polls every {args.poll * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
