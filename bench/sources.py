#!/usr/bin/env python3
"""Sources: time to accept big inline tables and wildcard prompts, a big preview, peak RSS growth, event-loop stalls.

In-process only: the extension's real routes, BatchService, Store (a fresh SQLite file) and a running Dispatcher on
an aiohttp server on 127.0.0.1, with tests/fakehost.FakeHost for ComfyUI (it takes prompts and never runs them).
Each case runs in its own child process, so its peak RSS growth (ru_maxrss after the request minus VmRSS before it)
is its own. A probe task on the server's loop sleeps 1 ms in a loop; how late it wakes is the loop stall.

Cases (issue 7 targets; tables are sent inline as data_base64 here — bench/uploads.py measures the upload route on a real
ComfyUI):
  csv        10,000-row GBK CSV (base64) accepted as a batch          ≤ 1 s,   RSS growth ≤ 100 MB
  xlsx       10,000-row .xlsx (base64) accepted as a batch            ≤ 3 s,   RSS growth ≤ 100 MB
  wildcards  one prompt with 10,000 combinations accepted             ≤ 0.5 s
  preview    preview of a 100,000-job grid (100 prompts × 1,000 matrix) ≤ 1 s
  axes       preview of a 100,000-job labelled grid: axes 100 labelled texts × (range 64..1063) ≤ 1 s
  sheet      a 10×10 grid of 256×256 cards finished (fake host) → its contact sheet rendered and listed (no target)
All with no loop stall over 50 ms.

    python bench/sources.py [--case csv|xlsx|wildcards|preview] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(ROOT))
__import__("tests.conftest")  # loads the extension as the package batchgen_ext

from _benchutil import LoopProbe, command_line, err, load_average, machine_facts, out, print_footer, spread  # noqa: E402
from batchgen_ext.batchgen.config import Config  # noqa: E402
from batchgen_ext.batchgen.dispatcher import Dispatcher  # noqa: E402
from batchgen_ext.batchgen.registry import TemplateRegistry  # noqa: E402
from batchgen_ext.batchgen.service import BatchService  # noqa: E402
from batchgen_ext.batchgen.store import Store  # noqa: E402
from batchgen_ext.server_routes import register  # noqa: E402

from tests.fakehost import FakeHost  # noqa: E402
from tests.unit.xlsxkit import xlsx_bytes  # noqa: E402

API = "/batchgen/v1"
TARGETS = {"csv": 1.0, "xlsx": 3.0, "wildcards": 0.5, "preview": 1.0, "axes": 1.0, "sheet": 5.0}
RSS_TARGET_MB, STALL_TARGET_MS = 100.0, 50.0
ROWS = 10_000


def body_for(case: str) -> tuple[str, dict[str, Any]]:
    """(path, request body) of a case."""
    if case == "csv":
        text = "商品名,宽\r\n" + "".join(f"第{i}号商品：保温杯「红色」 500ml, 第{i % 97}款,{256 + i % 3 * 64}\r\n" for i in range(ROWS))
        text = text.replace(", 第", " 第")
        data = base64.b64encode(text.encode("gbk")).decode("ascii")
        return "/batches", {"template": "text-card", "table": {"data_base64": data, "columns": {"商品名": "prompt", "宽": "width"}}}
    if case == "xlsx":
        rows = [["prompt", "width"], *[[f"第{i}号商品：保温杯「红色」 🍵 {i}", 256 + i % 3 * 64] for i in range(ROWS)]]
        return "/batches", {"template": "text-card", "table": {"format": "xlsx", "data_base64": base64.b64encode(xlsx_bytes(rows)).decode()}}
    if case == "wildcards":
        group = "{" + "|".join(["红色", "blue", "绿色 🌿", "gold", "黑白", "pastel", "霓虹", "matte", "木纹", "glass"]) + "}"
        return "/batches", {"template": "text-card", "prompts": [f"{group} cup, {group} light, {group} table, {group} 背景"],
                            "wildcards": {"mode": "combinatorial"}}
    if case == "axes":
        return "/batches/preview", {"template": "text-card", "seed": {"policy": "increment", "base": 0}, "axes": [
            {"param": "prompt", "values": [f"商品 {i} 号" for i in range(100)], "labels": [f"第{i}号" for i in range(100)], "name": "商品"},
            {"param": "width", "range": "64..1063", "name": "宽度"}]}
    if case == "sheet":
        return "/batches", {"template": "text-card", "name": "sheet", "axes": [
            {"param": "width", "range": "256..265", "name": "宽"}, {"param": "prompt", "values": [f"字 {i}" for i in range(10)]}]}
    return "/batches/preview", {"template": "text-card", "prompts": [f"商品 {i} 号" for i in range(100)],
                                "matrix": {"width": list(range(64, 1064))}, "seed": {"policy": "increment", "base": 0}}


def vm_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run_case(case: str) -> dict[str, Any]:
    """(In a child process.) One fresh server, one request."""
    tmp = Path(tempfile.mkdtemp(prefix="batchgen-sources-"))
    store = Store(tmp / "batchgen.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp / "output")
    config = Config.from_env()
    dispatcher = Dispatcher(store, host, config)
    await dispatcher.start()
    service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", tmp / "templates"), dispatcher, config, "bench")
    routes = web.RouteTableDef()
    register(routes, service)
    app = web.Application(client_max_size=config.max_body_bytes)
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    path, body = body_for(case)
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    def post() -> tuple[float, int, Any]:
        async def go():
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
                started = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{port}{API}{path}", data=payload,
                                        headers={"Content-Type": "application/json"}) as resp:
                    data = await resp.json()
                    return time.perf_counter() - started, resp.status, data
        return asyncio.run(go())

    probe = LoopProbe()
    probe.start()
    await asyncio.sleep(0.2)
    rss_before = vm_rss_kb()
    try:
        if case == "sheet":  # the batch is accepted and run first (fake host writes 256×256 PNGs); the sheet is what is timed
            seconds, status, data = await asyncio.get_running_loop().run_in_executor(None, post)
            host.card_size = 256
            await host.run_all(dispatcher)
            probe.clear()
            started = time.perf_counter()
            await service.sheets.idle()
            seconds = time.perf_counter() - started
            pages = await service.sheets.pages([data["id"]])
            data = {"total": data["total"], "pages": len(pages.get(data["id"], []))}
        else:
            seconds, status, data = await asyncio.get_running_loop().run_in_executor(None, post)
        await asyncio.sleep(0.2)
    finally:
        await probe.stop()
        await dispatcher.stop()
        await runner.cleanup()
        await store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    total = data.get("total") if isinstance(data, dict) else None
    if status not in (200, 201):
        raise SystemExit(f"{case}: HTTP {status}: {str(data)[:500]}")
    return {"case": case, "seconds": seconds, "jobs": total, "body_bytes": len(payload), "rss_growth_mb": max(rss_growth, 0) / 1024,
            "max_stall_ms": probe.max_stall_ms()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(TARGETS), action="append")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out(json.dumps(asyncio.run(run_case(args.child))))
        return
    facts = machine_facts()
    results: dict[str, list[dict[str, Any]]] = {}
    for case in args.case or ["csv", "xlsx", "wildcards", "preview"]:
        for i in range(args.repeat):
            child = subprocess.run([sys.executable, __file__, "--child", case], capture_output=True, text=True, check=True)
            run = json.loads(child.stdout.strip().splitlines()[-1])
            results.setdefault(case, []).append(run)
            err(f"{case} run {i + 1}: {run['seconds']:.3f} s, {run['jobs']} jobs, RSS +{run['rss_growth_mb']:.1f} MB, "
                f"stall {run['max_stall_ms']:.1f} ms")
    facts["load_avg_end"] = load_average()
    if args.json:
        out(json.dumps({"facts": facts, "results": results}, ensure_ascii=False))
        return
    print_footer(facts, command_line())
    out("| case | jobs | body | median s | target | max RSS growth | max stall | verdict |")
    out("|---|---|---|---|---|---|---|---|")
    for case, runs in results.items():
        median, rss, stall = spread([r["seconds"] for r in runs]).median, max(r["rss_growth_mb"] for r in runs), max(r["max_stall_ms"] for r in runs)
        ok = median <= TARGETS[case] and stall <= STALL_TARGET_MS and (case not in ("csv", "xlsx") or rss <= RSS_TARGET_MB)
        out(f"| {case} | {runs[0]['jobs']} | {runs[0]['body_bytes'] / 1e6:.1f} MB | {median:.3f} | ≤ {TARGETS[case]} s | {rss:.1f} MB | "
            f"{stall:.1f} ms | {'ok' if ok else 'MISSED'} |")


if __name__ == "__main__":
    main()
