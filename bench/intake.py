"""Accepting a 10,000-job batch: time to a durable 201, and the longest event-loop stall meanwhile.

Two measurements:
1. in-process: the real routes, service and SQLite store (WAL, synchronous=FULL) on an aiohttp
   server over loopback, with an in-memory stand-in for ComfyUI; a probe task sleeping 1 ms in a
   loop on the same event loop records how late it wakes (the stall). Rows are counted in the
   database file afterwards.
2. real ComfyUI (when COMFYUI_DIR / COMFYUI_PYTHON are set): the same POST to /batchgen/v1/batches,
   while another client polls ComfyUI's cheapest route (GET /prompt) every 5 ms; its worst latency
   is the stall seen from outside. The batch is paused right away so its jobs do not run.

    python bench/intake.py [--jobs 10000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
__import__("tests.conftest")  # loads the extension as the package batchgen_ext, whatever its folder name

from batchgen_ext.batchgen.config import Config  # noqa: E402
from batchgen_ext.batchgen.dispatcher import Dispatcher  # noqa: E402
from batchgen_ext.batchgen.registry import TemplateRegistry  # noqa: E402
from batchgen_ext.batchgen.service import BatchService  # noqa: E402
from batchgen_ext.batchgen.store import Store  # noqa: E402
from batchgen_ext.server_routes import register  # noqa: E402

from tests.comfyui.harness import comfy_env, new_server  # noqa: E402
from tests.fakehost import FakeHost  # noqa: E402

PROMPTS = ["a lighthouse at dawn, product shot", "小猫在窗台上晒太阳", "桜の木の下で 🌸", "a red sneaker on white, studio light"]


def body(n: int, run: int) -> dict:
    return {"name": f"intake {run}", "template": "text-card",
            "prompts": [f"{PROMPTS[i % len(PROMPTS)]} #{run}-{i}" for i in range(n)], "params": {"width": 512, "height": 512}}


async def in_process(n: int, run: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="batchgen-intake-"))
    store = Store(tmp / "batchgen.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp / "output")
    config = Config()
    service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", tmp / "templates"), Dispatcher(store, host, config), config)
    routes = web.RouteTableDef()
    register(routes, service)
    app = web.Application(client_max_size=config.max_body_bytes)
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    stalls: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - t0 - 0.001)

    payload = json.dumps(body(n, run)).encode()
    probe_task = asyncio.create_task(probe())
    await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        async with session.post(f"http://127.0.0.1:{port}/batchgen/v1/batches", data=payload,
                                headers={"Content-Type": "application/json"}) as resp:
            result = await resp.json()
            accept = time.perf_counter() - t0
            assert resp.status == 201, result
    stop.set()
    await probe_task
    await runner.cleanup()
    await store.close()
    with sqlite3.connect(tmp / "batchgen.sqlite3") as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM jobs WHERE batch_id = ?", (result["id"],)).fetchone()
    stalls.sort()
    return {"accept_s": round(accept, 4), "body_bytes": len(payload), "rows": rows,
            "max_stall_ms": round(stalls[-1] * 1000, 2), "p99_stall_ms": round(stalls[int(0.99 * (len(stalls) - 1))] * 1000, 2)}


def real_comfyui(n: int, repeat: int) -> list[dict]:
    server = new_server(Path(tempfile.mkdtemp(prefix="batchgen-intake-comfy-")) / "comfy")
    server.start()
    results = []
    try:
        for run in range(repeat):
            worst = [0.0]
            stop = threading.Event()

            def poll(worst: list[float] = worst, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    with urllib.request.urlopen(server.url + "/prompt", timeout=10) as resp:
                        resp.read()
                    worst[0] = max(worst[0], time.perf_counter() - t0)
                    time.sleep(0.005)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            time.sleep(0.1)
            t0 = time.perf_counter()
            status, batch = server.post("/batchgen/v1/batches", {**body(n, run), "priority": -1})
            accept = time.perf_counter() - t0
            time.sleep(0.1)
            stop.set()
            poller.join()
            assert status == 201, batch
            server.post(f"/batchgen/v1/batches/{batch['id']}/cancel", {})
            results.append({"accept_s": round(accept, 4), "worst_get_prompt_ms": round(worst[0] * 1000, 2), "total": batch["total"]})
        results.append({"comfyui": server.get("/batchgen/v1/health")["host"]["version"]})
    finally:
        server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    local = [asyncio.run(in_process(args.jobs, run)) for run in range(args.repeat)]
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "jobs": args.jobs, "in_process": local,
                    "in_process_median_accept_s": statistics.median(r["accept_s"] for r in local),
                    "in_process_max_stall_ms": max(r["max_stall_ms"] for r in local)}
    if comfy_env() is not None:
        remote = real_comfyui(args.jobs, args.repeat)
        runs = [r for r in remote if "accept_s" in r]
        report.update({"real_comfyui": remote, "comfyui": remote[-1]["comfyui"],
                       "real_median_accept_s": statistics.median(r["accept_s"] for r in runs),
                       "real_worst_get_prompt_ms": max(r["worst_get_prompt_ms"] for r in runs)})
    if args.json:
        sys.stdout.write(json.dumps(report, indent=1) + "\n")
        return 0
    for r in local:
        sys.stdout.write(f"in-process: {r['rows']} rows committed, body {r['body_bytes'] / 1e6:.2f} MB, accepted in {r['accept_s']:.3f} s, "
                         f"max loop stall {r['max_stall_ms']} ms (p99 {r['p99_stall_ms']} ms)\n")
    sys.stdout.write(f"in-process median accept {report['in_process_median_accept_s']:.3f} s, max stall {report['in_process_max_stall_ms']} ms\n")
    if "real_comfyui" in report:
        for r in report["real_comfyui"][:-1]:
            sys.stdout.write(f"ComfyUI {report['comfyui']}: {r['total']} jobs accepted in {r['accept_s']:.3f} s, "
                             f"worst GET /prompt meanwhile {r['worst_get_prompt_ms']} ms\n")
        sys.stdout.write(f"real ComfyUI median accept {report['real_median_accept_s']:.3f} s, "
                         f"worst GET /prompt {report['real_worst_get_prompt_ms']} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
