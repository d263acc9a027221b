#!/usr/bin/env python3
"""Accepting a big batch: time from POST to a durable 201, and the longest event-loop stall meanwhile.

Body: 10,000 jobs (--jobs) of the bundled `text-card` template, one distinct prompt each (English,
Chinese, Japanese, Korean, emoji; sent as UTF-8 like a browser would), or with --template inline the
EmptyImage 64x64 -> PreviewImage graph with one distinct colour per job. Two sections:

in-process  The extension's real routes (server_routes.register), BatchService, Dispatcher (running)
            and Store (a fresh SQLite file per run, WAL, synchronous=FULL) on an aiohttp server on
            127.0.0.1, with tests/fakehost.FakeHost standing in for ComfyUI: it takes prompts and never
            runs them. A real aiohttp client in its own thread (own event loop) POSTs the body over
            loopback. A probe task on the server's loop sleeps 1 ms in a loop; how late it wakes is
            the loop stall. Right after the 201 the client thread counts the batch's rows in the
            SQLite file through its own connection (proof that they were committed before the 201).
comfyui     The same POST to a real ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON) started through
            tests/comfyui/harness.py. The feed is held so the jobs do not run: first a blocker batch of
            `window` jobs (ComfyUI's own TestSleep node, 1 h) fills the dispatcher's window, so the
            measured batch stays pending in SQLite (checked after each run; the batch is then
            cancelled). Another thread polls ComfyUI's cheapest route, GET /prompt, on one keep-alive
            connection every 5 ms: its worst latency while the POST is in progress is the stall as a
            client sees it. The same poller's worst latency in the 0.5 s before the POST is printed
            as the baseline. Rows are counted in the server's SQLite file right after the 201.

Windows: a run's maximum stall covers the POST and --tail seconds after the 201 (default 0.2 s), so work
left over after the answer is caught too; its p99 covers the POST until the 201 only.

    python bench/intake.py [--jobs 10000] [--repeat 5] [--template text-card|inline] [--json]

Targets: accept <= 1 s, no stall > 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(ROOT))
__import__("tests.conftest")  # loads the extension as the package batchgen_ext, whatever its folder is called

import batchgen_ext  # noqa: E402
from _benchutil import (  # noqa: E402
    LoopProbe,
    Target,
    bench_server,
    command_line,
    err,
    git_revision,
    load_average,
    machine_facts,
    out,
    percentile,
    print_footer,
    print_summary,
    verdict,
)
from batchgen_ext.batchgen.config import Config  # noqa: E402
from batchgen_ext.batchgen.dispatcher import Dispatcher  # noqa: E402
from batchgen_ext.batchgen.registry import TemplateRegistry  # noqa: E402
from batchgen_ext.batchgen.service import BatchService  # noqa: E402
from batchgen_ext.batchgen.store import Store  # noqa: E402
from batchgen_ext.server_routes import register  # noqa: E402

from tests.comfyui.harness import comfy_env, skip_reason  # noqa: E402
from tests.fakehost import FakeHost  # noqa: E402

API = "/batchgen/v1"
ACCEPT_TARGET_S = 1.0
STALL_TARGET_MS = 100.0
BLOCKER_SECONDS = 3600.0

SUBJECTS = [
    "a lighthouse on a rocky coast at dawn",
    "小猫在窗台上晒太阳，毛茸茸的，温暖的午后",
    "桜の木の下で本を読む少女、春の午後",
    "서울의 밤거리, 네온사인과 비에 젖은 도로",
    "a red sneaker on a plain white background",
    "山水画风格的瀑布与松树，云雾缭绕",
    "古い港町の石畳と霧、朝の光",
    "an astronaut 🚀 riding a horse across a desert 🌵",
]
STYLES = [
    "product shot, studio lighting, 85mm, sharp focus",
    "水彩画风格，柔和的光线，高细节",
    "アニメ調、高精細、鮮やかな色彩",
    "oil painting, impasto, warm palette",
    "cinematic, volumetric light, 35mm film grain",
    "赛博朋克，霓虹灯，雨夜街景",
]


def inline_template() -> dict[str, Any]:
    """EmptyImage -> PreviewImage with the colour bound."""
    return {
        "workflow": {
            "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
        },
        "bindings": {"color": "1.color"},
    }


def batch_body(jobs: int, run: str, template: str) -> dict[str, Any]:
    """The request body: `jobs` distinct jobs."""
    if template == "inline":
        base = (zlib.crc32(run.encode()) & 0x7FFF) * 256
        return {"name": f"intake {run}", "template": inline_template(),
                "jobs": [{"color": (base + i) % 0x1000000} for i in range(jobs)]}
    prompts = [f"{SUBJECTS[i % len(SUBJECTS)]}, {STYLES[(i // len(SUBJECTS)) % len(STYLES)]}, variation {run}-{i}"
               for i in range(jobs)]
    return {"name": f"intake {run}", "template": "text-card", "prompts": prompts, "params": {"width": 512, "height": 512}}


def encode(body: dict[str, Any]) -> bytes:
    """UTF-8 JSON, non-ASCII text as is (as browsers and most clients send it)."""
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def count_rows(db_path: Path, batch_id: str) -> int:
    """The batch's job rows, through a connection of our own."""
    conn = sqlite3.connect(str(db_path), timeout=10)
    try:
        (rows,) = conn.execute("SELECT COUNT(*) FROM jobs WHERE batch_id = ?", (batch_id,)).fetchone()
    finally:
        conn.close()
    return rows


def overlapping(samples: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """Samples (t0, t1) whose interval overlaps [start, end]."""
    return [(a, b) for a, b in samples if b >= start and a <= end]


# -- in-process -------------------------------------------------------------------------------


def post_from_thread(url: str, payload: bytes, db_path: Path) -> dict[str, Any]:
    """(In its own thread and event loop.) POST with aiohttp, then count the rows at once."""

    async def go() -> tuple[float, float, int, Any]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            started = time.perf_counter()
            async with session.post(url, data=payload, headers={"Content-Type": "application/json"}) as resp:
                body = await resp.json()
                return started, time.perf_counter(), resp.status, body

    started, accepted, status, body = asyncio.run(go())
    rows = count_rows(db_path, body["id"]) if status == 201 else 0
    return {"started": started, "accepted": accepted, "status": status, "body": body, "rows": rows}


async def in_process_run(jobs: int, run: int, template: str, tail: float) -> dict[str, Any]:
    """One fresh database, one POST."""
    tmp = Path(tempfile.mkdtemp(prefix="batchgen-intake-"))
    db_path = tmp / "batchgen.sqlite3"
    store = Store(db_path)
    await store.open()
    host = FakeHost(output_dir=tmp / "output")
    config = Config.from_env()
    dispatcher = Dispatcher(store, host, config)
    await dispatcher.start()
    service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", tmp / "templates"), dispatcher, config,
                           batchgen_ext.__version__)
    routes = web.RouteTableDef()
    register(routes, service)
    app = web.Application(client_max_size=config.max_body_bytes)
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    payload = encode(batch_body(jobs, f"p{run}", template))

    probe = LoopProbe()
    probe.start()
    try:
        await asyncio.sleep(0.2)  # the probe and the server settle
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, post_from_thread, f"http://127.0.0.1:{port}{API}/batches", payload, db_path)
        await asyncio.sleep(tail)
    finally:
        await probe.stop()
        await dispatcher.stop()
        await runner.cleanup()
        await store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if result["status"] != 201:
        raise RuntimeError(f"POST /batches -> {result['status']}: {str(result['body'])[:500]}")
    stalls = probe.stalls_ms(result["started"], result["accepted"] + tail)
    in_post = probe.stalls_ms(result["started"], result["accepted"])
    return {"run": run, "accept_s": round(result["accepted"] - result["started"], 4), "body_bytes": len(payload),
            "jobs": jobs, "total": result["body"]["total"], "rows": result["rows"],
            "max_stall_ms": round(max(stalls), 2), "p99_stall_ms": round(percentile(in_post, 0.99), 2),
            "probe_samples": len(in_post), "jobs_fed": dispatcher.jobs_fed}


# -- real ComfyUI -----------------------------------------------------------------------------


class Poller(threading.Thread):
    """GET /prompt on one keep-alive connection, `interval` seconds apart; records (start, end)."""

    def __init__(self, port: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.halt.is_set():
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/prompt")
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    self.errors.append(f"HTTP {resp.status}")
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.samples.append((t0, time.perf_counter()))
            time.sleep(self.interval)
        conn.close()


def post_raw(port: int, path: str, payload: bytes) -> tuple[int, Any, float, float]:
    """POST bytes on a new connection; (status, parsed body, time sent, time answered)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        started = time.perf_counter()
        conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        answered = time.perf_counter()
    finally:
        conn.close()
    return resp.status, json.loads(data) if data else None, started, answered


def start_blocker(server: Any, window: int) -> str:
    """A batch of `window` one-hour TestSleep jobs: the dispatcher's window stays full, nothing else is fed."""
    template = {
        "workflow": {
            "1": {"class_type": "StubImage", "inputs": {"content": "NOISE", "height": 16, "width": 16, "batch_size": 1}},
            "2": {"class_type": "TestSleep", "inputs": {"value": ["1", 0], "seconds": BLOCKER_SECONDS}},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        },
        "bindings": {"seconds": "2.seconds"},
    }
    jobs = [{"seconds": BLOCKER_SECONDS + i / 1000} for i in range(window)]
    status, batch = server.post(f"{API}/batches", {"name": "intake bench blocker", "template": template, "jobs": jobs,
                                                   "priority": 1000})
    if status != 201:
        raise RuntimeError(f"could not create the blocker batch (ComfyUI's test nodes loaded?): {status} {batch}")
    deadline = time.time() + 60
    while time.time() < deadline:
        health = server.get(f"{API}/health")
        if health["dispatcher"]["in_flight"] >= window and health["native_queue"]["running"] >= 1:
            return batch["id"]
        time.sleep(0.1)
    raise RuntimeError(f"the blocker batch did not fill the window: {server.get(f'{API}/health')}")


def comfyui_section(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All runs against one real ComfyUI."""
    runs: list[dict[str, Any]] = []
    with bench_server("batchgen-intake-comfy-", args.keep) as server:
        health = server.get(f"{API}/health")
        window = health["dispatcher"]["window"]
        blocker = start_blocker(server, window)
        for run in range(1, args.repeat + 1):
            payload = encode(batch_body(args.jobs, f"c{run}", args.template))
            poller = Poller(server.port, args.poll_interval)
            poller.start()
            time.sleep(args.baseline)
            status, batch, started, accepted = post_raw(server.port, f"{API}/batches", payload)
            rows = count_rows(server.db_path, batch["id"]) if status == 201 else 0
            time.sleep(args.tail)
            poller.halt.set()
            poller.join()
            if status != 201:
                raise RuntimeError(f"POST /batches -> {status}: {str(batch)[:500]}")
            state = server.get(f"{API}/batches/{batch['id']}")
            fed = state["total"] - state["counts"]["pending"]
            server.post(f"{API}/batches/{batch['id']}/cancel", {})
            during = [(b - a) * 1000 for a, b in overlapping(poller.samples, started, accepted + args.tail)]
            in_post = [(b - a) * 1000 for a, b in overlapping(poller.samples, started, accepted)]
            before = [(b - a) * 1000 for a, b in poller.samples if b < started]
            runs.append({"run": run, "accept_s": round(accepted - started, 4), "body_bytes": len(payload), "jobs": args.jobs,
                         "total": batch["total"], "rows": rows, "fed_meanwhile": fed,
                         "worst_get_prompt_ms": round(max(during), 2) if during else None,
                         "p99_get_prompt_ms": round(percentile(in_post, 0.99), 2) if in_post else None,
                         "get_prompt_requests": len(in_post),
                         "baseline_worst_get_prompt_ms": round(max(before), 2) if before else None,
                         "poller_errors": len(poller.errors)})
            err(f"comfyui run {run}/{args.repeat} done")
            time.sleep(args.pause)
        server.post(f"{API}/batches/{blocker}/cancel", {})
        health = server.get(f"{API}/health")
    return runs, health


# -- report -----------------------------------------------------------------------------------


def summary(runs: list[dict[str, Any]], stall_key: str) -> dict[str, Any]:
    """Medians and maxima; target checks."""
    accept = [r["accept_s"] for r in runs]
    stalls = [r[stall_key] for r in runs if r[stall_key] is not None]
    result = {
        "runs": len(runs),
        "accept_median_s": round(statistics.median(accept), 4), "accept_max_s": max(accept),
        f"{stall_key}_median": round(statistics.median(stalls), 2), f"{stall_key}_max": max(stalls),
        "all_rows_committed": all(r["rows"] == r["jobs"] == r["total"] for r in runs),
        "accept_target_met": max(accept) <= ACCEPT_TARGET_S,
        "stall_target_met": max(stalls) <= STALL_TARGET_MS,
    }
    p99_key = "p99_stall_ms" if stall_key == "max_stall_ms" else "p99_get_prompt_ms"
    result[f"{p99_key}_median"] = round(statistics.median(r[p99_key] for r in runs if r[p99_key] is not None), 2)
    result[f"{p99_key}_max"] = max(r[p99_key] for r in runs if r[p99_key] is not None)
    if len(stalls) > 1:
        result[f"{stall_key}_max_after_first_run"] = max(stalls[1:])
    return result


def print_report(report: dict[str, Any]) -> None:
    """Human-readable output."""
    if "in_process" in report:
        out(f"== in-process: real routes + service + dispatcher + SQLite store, do-nothing host; "
            f"{report['jobs']} jobs, template {report['template']}")
        for r in report["in_process"]:
            out(f"run {r['run']}: accepted in {r['accept_s'] * 1000:7.1f} ms, body {r['body_bytes'] / 1e6:.2f} MB, "
                f"{r['rows']}/{r['jobs']} rows committed, loop stall max {r['max_stall_ms']:6.2f} ms, "
                f"p99 {r['p99_stall_ms']:5.2f} ms ({r['probe_samples']} probe wake-ups POST->201)")
        s = report["in_process_summary"]
        _accept_summary(report["in_process"])
        out(f"loop stall: max {s['max_stall_ms_max']} ms (median of run maxima {s['max_stall_ms_median']} ms), "
            f"p99 median {s['p99_stall_ms_median']} ms, max {s['p99_stall_ms_max']} ms "
            f"(target: none > {STALL_TARGET_MS:g} ms: {verdict(s['stall_target_met'])})")
        out(f"rows: {'all committed before the 201' if s['all_rows_committed'] else 'MISSING ROWS'}")
        out()
    if "comfyui" in report:
        out(f"== real ComfyUI {report['machine'].get('comfyui_version')}: {report['jobs']} jobs, template {report['template']}, "
            f"feed held by a blocker batch; GET /prompt polled every {report['poll_interval_s'] * 1000:.0f} ms")
        for r in report["comfyui"]:
            out(f"run {r['run']}: accepted in {r['accept_s'] * 1000:7.1f} ms, body {r['body_bytes'] / 1e6:.2f} MB, "
                f"{r['rows']}/{r['jobs']} rows committed, worst GET /prompt {r['worst_get_prompt_ms']} ms, "
                f"p99 {r['p99_get_prompt_ms']} ms ({r['get_prompt_requests']} requests POST->201; baseline worst "
                f"{r['baseline_worst_get_prompt_ms']} ms; jobs fed meanwhile {r['fed_meanwhile']}, poller errors {r['poller_errors']})")
        s = report["comfyui_summary"]
        _accept_summary(report["comfyui"])
        after_first = s.get("worst_get_prompt_ms_max_after_first_run")
        out(f"worst GET /prompt: max {s['worst_get_prompt_ms_max']} ms (median of run maxima {s['worst_get_prompt_ms_median']} ms"
            + (f", max without the first run {after_first} ms" if after_first is not None else "")
            + f"), p99 median {s['p99_get_prompt_ms_median']} ms (target: none > {STALL_TARGET_MS:g} ms: "
            f"{verdict(s['stall_target_met'])})")
        out(f"rows: {'all committed before the 201' if s['all_rows_committed'] else 'MISSING ROWS'}")
        out()
    elif report.get("comfyui_skipped"):
        out(f"== real ComfyUI: skipped ({report['comfyui_skipped']})")
        out()
    print_footer(report["machine"], report["command"])


def _accept_summary(runs: list[dict[str, Any]]) -> None:
    """accept: median and range over the runs, then the target, checked against the slowest run."""
    accept = [r["accept_s"] for r in runs]
    print_summary([("accept", accept)], [Target("accept max", max(accept), ACCEPT_TARGET_S, at_least=False, unit="s")],
                  unit="ms", scale=1000, digits=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="The comfyui section needs COMFYUI_DIR and COMFYUI_PYTHON: "
                                            "eval \"$(../shared/tools/comfyui-lab env)\"")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the batch (default 10000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per section (default 5)")
    parser.add_argument("--template", choices=["text-card", "inline"], default="text-card",
                        help="text-card: distinct prompts incl. CJK (default); inline: EmptyImage graph, distinct colours")
    parser.add_argument("--section", choices=["both", "in-process", "comfyui"], default="both",
                        help="both (default; comfyui is skipped when COMFYUI_DIR/COMFYUI_PYTHON are not set), or one of them")
    parser.add_argument("--tail", type=float, default=0.2, help="seconds after the 201 still counted in the stall window (default 0.2)")
    parser.add_argument("--poll-interval", type=float, default=0.005, help="pause between GET /prompt requests (default 0.005 s)")
    parser.add_argument("--baseline", type=float, default=0.5, help="seconds of polling before each POST, the baseline (default 0.5)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between runs on ComfyUI (default 0.5)")
    parser.add_argument("--keep", action="store_true", help="keep ComfyUI's throw-away data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.jobs < 1 or args.repeat < 1:
        parser.error("--jobs and --repeat must be at least 1")
    facts = machine_facts()
    report: dict[str, Any] = {"benchmark": "intake", "jobs": args.jobs, "template": args.template, "repeat": args.repeat,
                              "tail_s": args.tail, "poll_interval_s": args.poll_interval, "machine": facts}
    if args.section in ("both", "in-process"):
        runs = []
        for run in range(1, args.repeat + 1):
            runs.append(asyncio.run(in_process_run(args.jobs, run, args.template, args.tail)))
            err(f"in-process run {run}/{args.repeat} done")
        report["in_process"] = runs
        report["in_process_summary"] = summary(runs, "max_stall_ms")
    if args.section in ("both", "comfyui"):
        found = comfy_env()
        if found is None:
            if args.section == "comfyui":
                err(skip_reason())
                return 2
            report["comfyui_skipped"] = "COMFYUI_DIR / COMFYUI_PYTHON not set"
        else:
            runs, health = comfyui_section(args)
            report["comfyui"] = runs
            report["comfyui_summary"] = summary(runs, "worst_get_prompt_ms")
            facts.update({"comfyui_version": health["host"]["version"], "comfyui_commit": git_revision(found[0]),
                          "comfyui_dir": str(found[0]), "comfyui_python": str(found[1]), "window": health["dispatcher"]["window"]})
    facts["load_avg_end"] = load_average()
    report["command"] = command_line()
    if args.json:
        out(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
