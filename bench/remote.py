#!/usr/bin/env python3
"""Remote-access costs: event streams during a run, the auth + CORS check per request, webhook delivery rate.

    python bench/remote.py streams  [-n 2000] [--streams 100] [--rounds 2]   (real ComfyUI)
    python bench/remote.py auth     [--requests 3000] [--rounds 5]           (in-process, no ComfyUI)
    python bench/remote.py webhooks [-n 2000]                                 (real ComfyUI)

streams   A B B A … on a FRESH ComfyUI per run: one batch of N trivial jobs (EmptyImage 64x64 -> PreviewImage,
          distinct colours; bench/overhead.py's template), with no stream open (A) or with --streams SSE streams
          on GET /batchgen/v1/events/stream (B). Throughput = N / (POST → batch succeeded). Delivery latency of
          an event = the time a stream client read its frame − the event's created_at (written just before its
          COMMIT; same machine clock). 10 streams parse every frame for latency, the others only drain bytes
          (so the client does not eat the CPU ComfyUI needs). Targets: p95 ≤ 100 ms, B/A throughput ≥ 0.9.
auth      An aiohttp app with our routes on loopback; GET /batchgen/v1/batches?limit=1 timed client-side with
          keep-alive, alternating per request between two apps in the same process: (1) a remote-style call with
          an allowed Origin, BATCHGEN_REQUIRE_TOKEN=1, a Bearer token and the CORS middleware; (2) the same route,
          no middleware, an access policy that admits everyone. Also the two checks alone (decide() and the
          middleware around a no-op handler), in a tight loop. Target: p50 difference ≤ 0.2 ms.
webhooks  A batch of N trivial jobs runs first; then a webhook for that batch with events ["*"] is created, so its
          whole backlog (every job's queued / started / succeeded and the batch's end) is delivered at once to a
          receiver in this process that verifies every signature. Rate = events / (create → last one received).
          None may be missing. Target ≥ 200 deliveries/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from _benchutil import bench_server, command_line, err, facts_lines, load_average, machine_facts, out, percentile  # noqa: E402
from overhead import inline_template, wait_batch  # noqa: E402

__import__("tests.conftest")  # loads the extension as the package batchgen_ext, whatever its folder is called
from tests.comfyui.harness import comfy_env, skip_reason  # noqa: E402

API = "/batchgen/v1"
PARSERS = 10
WARMUP = 20


# -- streams ------------------------------------------------------------------------------------


async def stream_client(session: aiohttp.ClientSession, url: str, parse: bool, latencies: list[float], opened: asyncio.Event,
                        counter: list[int]) -> None:
    """One SSE stream: parse frames (latency) or just drain them."""
    async with session.get(f"{url}{API}/events/stream", headers={"Last-Event-ID": "0"}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"stream -> {resp.status}: {await resp.text()}")
        counter[0] += 1
        if counter[0] >= counter[1]:
            opened.set()
        buffer = b""
        while True:
            chunk = await resp.content.read(1 << 16)
            if not chunk:
                return
            if not parse:
                continue
            now = time.time()
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                for line in frame.split(b"\n"):
                    if line.startswith(b"data: "):
                        latencies.append(now - json.loads(line[6:])["created_at"])


def server_cpu(pid: int | None) -> tuple[float, float]:
    """CPU seconds so far of the ComfyUI process and of its main thread (the event loop), from /proc (Linux)."""
    if pid is None:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")

    def read(path: str) -> float:
        try:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    return read(f"/proc/{pid}/stat"), read(f"/proc/{pid}/task/{pid}/stat")


async def one_stream_run(url: str, n: int, streams: int, colour_base: int, pid: int | None = None) -> dict[str, Any]:
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        # Warm-up on the fresh server (first prompts load ComfyUI's nodes and caches), before any stream opens.
        warm = {"name": "warm-up", "template": inline_template(), "jobs": [{"color": colour_base - 1 - i} for i in range(WARMUP)]}
        async with session.post(f"{url}{API}/batches", json=warm) as resp:
            await wait_batch(session, url, (await resp.json())["id"], 0.02, 300)
        opened = asyncio.Event()
        counter = [0, streams]
        for i in range(streams):
            tasks.append(asyncio.create_task(stream_client(session, url, i < PARSERS, latencies, opened, counter)))
        if streams:
            await asyncio.wait_for(opened.wait(), 60)
            await asyncio.sleep(0.5)
            latencies.clear()  # the replay of the log so far is not a live delivery
        payload = {"name": "remote-bench", "template": inline_template(), "jobs": [{"color": colour_base + i} for i in range(n)]}
        cpu_started = time.process_time()  # this client's own CPU: it shares the 2 cores with ComfyUI
        server_started = server_cpu(pid)
        started = time.perf_counter()
        async with session.post(f"{url}{API}/batches", json=payload) as resp:
            batch = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"POST /batches -> {resp.status}: {batch}")
        state, _polls = await wait_batch(session, url, batch["id"], 0.02, 900)
        total = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
        server_used = [b - a for a, b in zip(server_started, server_cpu(pid), strict=True)]
        if state["counts"]["succeeded"] != n:
            raise RuntimeError(f"batch ended {state['status']} {state['counts']}")
        await asyncio.sleep(1.0)  # the last frames reach the streams
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    run = {"kind": "streams" if streams else "none", "streams": streams, "total_s": round(total, 3), "jobs_per_s": round(n / total, 1),
           "client_cpu_s": round(client_cpu, 2), "server_cpu_s": round(server_used[0], 2), "server_loop_cpu_s": round(server_used[1], 2)}
    if latencies:
        ms = [x * 1000 for x in latencies]
        run.update({"frames_timed": len(ms), "latency_p50_ms": round(percentile(ms, 0.5), 1),
                    "latency_p95_ms": round(percentile(ms, 0.95), 1), "latency_max_ms": round(max(ms), 1)})
    return run


def bench_streams(args: argparse.Namespace) -> dict[str, Any]:
    order: list[int] = []
    for r in range(args.rounds):
        order += [0, args.streams] if r % 2 == 0 else [args.streams, 0]
    runs = []
    for i, streams in enumerate(order, 1):
        env = {"BATCHGEN_MAX_STREAMS": str(max(64, args.streams + 10))}
        with bench_server("batchgen-remote-", False, env) as server:  # a fresh ComfyUI per run
            run = asyncio.run(one_stream_run(server.url, args.n, streams, 100_000 + i * (args.n + 100), server.proc.pid))
        run["run"] = i
        err(f"run {i}/{len(order)}: {json.dumps(run)}")
        runs.append(run)
    none = [r["total_s"] for r in runs if r["streams"] == 0]
    with_streams = [r for r in runs if r["streams"]]
    ratio = statistics.median(none) / statistics.median([r["total_s"] for r in with_streams])
    return {"runs": runs, "summary": {
        "none_median_s": statistics.median(none), "none_range_s": [min(none), max(none)],
        "streams_median_s": statistics.median(r["total_s"] for r in with_streams),
        "streams_range_s": [min(r["total_s"] for r in with_streams), max(r["total_s"] for r in with_streams)],
        "throughput_ratio": round(ratio, 3), "ratio_target_met": ratio >= 0.9,
        "latency_p95_ms_median": statistics.median(r["latency_p95_ms"] for r in with_streams),
        "latency_p95_ms_range": [min(r["latency_p95_ms"] for r in with_streams), max(r["latency_p95_ms"] for r in with_streams)],
        "latency_p50_ms_median": statistics.median(r["latency_p50_ms"] for r in with_streams),
        "latency_target_met": max(r["latency_p95_ms"] for r in with_streams) <= 100}}


# -- auth ---------------------------------------------------------------------------------------


async def make_app(tmp: Path, guarded: bool) -> tuple[web.AppRunner, int, Any]:
    from batchgen_ext.batchgen.access import Caller
    from batchgen_ext.batchgen.config import Config
    from batchgen_ext.batchgen.dispatcher import Dispatcher
    from batchgen_ext.batchgen.registry import TemplateRegistry
    from batchgen_ext.batchgen.service import BatchService
    from batchgen_ext.batchgen.store import Store
    from batchgen_ext.server_routes import make_context, register
    from batchgen_ext.server_routes.cors import cors_middleware

    from tests.fakehost import FakeHost

    store = Store(tmp / "user" / "batchgen.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp / "output")
    config = Config(require_token=guarded, cors_origins=("http://app.example",) if guarded else ())
    service = BatchService(store, host, TemplateRegistry(BENCH_DIR.parent / "workflows", tmp / "templates"),
                           Dispatcher(store, host, config), config, "bench")
    context = make_context(service, tmp / "user")
    token = None
    if guarded:
        _, token = context.access.tokens.create("bench", "read")
    else:
        context.access.decide = lambda *a, **k: Caller()  # no check at all: the baseline
    routes = web.RouteTableDef()
    mounted = register(routes, service, context)
    app = web.Application(middlewares=[cors_middleware(mounted, config.cors_origins)] if guarded else [])
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1], (token, store, context, mounted)  # type: ignore[union-attr]


async def bench_auth_async(args: argparse.Namespace) -> dict[str, Any]:
    from batchgen_ext.server_routes.cors import cors_middleware

    with tempfile.TemporaryDirectory() as tmp:
        guarded_runner, guarded_port, (token, store_a, context, mounted) = await make_app(Path(tmp) / "a", True)
        open_runner, open_port, (_t, store_b, _c, _m) = await make_app(Path(tmp) / "b", False)
        guarded_headers = {"Authorization": f"Bearer {token}", "Origin": "http://app.example"}
        rounds = []
        async with aiohttp.ClientSession() as session:
            async def timed(port: int, headers: dict[str, str]) -> float:
                started = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}{API}/batches?limit=1", headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                return time.perf_counter() - started

            for _ in range(200):  # warm-up (connections, caches)
                await timed(guarded_port, guarded_headers)
                await timed(open_port, {})
            for r in range(args.rounds):
                with_checks, without = [], []
                for _ in range(args.requests):
                    with_checks.append(await timed(guarded_port, guarded_headers))
                    without.append(await timed(open_port, {}))
                rounds.append({"round": r + 1, "checked_p50_ms": round(statistics.median(with_checks) * 1000, 4),
                               "plain_p50_ms": round(statistics.median(without) * 1000, 4),
                               "diff_p50_ms": round((statistics.median(with_checks) - statistics.median(without)) * 1000, 4)})
                err(f"auth round {r + 1}: {json.dumps(rounds[-1])}")
        # The two checks alone, without HTTP around them.
        headers = {"Authorization": f"Bearer {token}", "Host": "gpu-box:8188", "Origin": "http://app.example"}
        loops = 20_000
        started = time.perf_counter()
        for _ in range(loops):
            context.access.decide("10.0.0.9", headers, set(), "read")
        decide_us = (time.perf_counter() - started) / loops * 1e6
        from aiohttp.test_utils import make_mocked_request

        async def noop(_request: web.Request) -> web.Response:
            return web.Response()

        mounted.handlers.add(noop)  # counted as one of ours, so the middleware takes its allowed-origin path
        middleware = cors_middleware(mounted, ("http://app.example",))
        request = make_mocked_request("GET", f"{API}/batches", headers=headers, match_info={})
        request.match_info.route.handler = noop  # the mocked route resolves to it
        started = time.perf_counter()
        for _ in range(loops):
            await middleware(request, noop)
        cors_us = (time.perf_counter() - started) / loops * 1e6
        for runner in (guarded_runner, open_runner):
            await runner.cleanup()
        await store_a.close()
        await store_b.close()
    diffs = [r["diff_p50_ms"] for r in rounds]
    return {"runs": rounds, "summary": {"diff_p50_ms_median": statistics.median(diffs), "diff_p50_ms_range": [min(diffs), max(diffs)],
                                        "checked_p50_ms_median": statistics.median(r["checked_p50_ms"] for r in rounds),
                                        "plain_p50_ms_median": statistics.median(r["plain_p50_ms"] for r in rounds),
                                        "decide_us": round(decide_us, 2), "cors_middleware_us": round(cors_us, 2),
                                        "target_met": statistics.median(diffs) <= 0.2}}


# -- webhooks -----------------------------------------------------------------------------------


async def webhook_run(url: str, n: int) -> dict[str, Any]:
    from standardwebhooks import Webhook

    received: dict[str, float] = {}
    duplicates = [0]
    bad = [0]
    signer: list[Any] = []

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            signer[0].verify(raw, dict(request.headers))
        except Exception:
            bad[0] += 1
            return web.Response(status=400)
        msg_id = request.headers["webhook-id"]
        if msg_id in received:
            duplicates[0] += 1
        received.setdefault(msg_id, time.perf_counter())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        payload = {"name": "webhook-bench", "template": inline_template(), "jobs": [{"color": 5000 + i} for i in range(n)]}
        async with session.post(f"{url}{API}/batches", json=payload) as resp:
            batch = await resp.json()
        await wait_batch(session, url, batch["id"], 0.05, 900)
        expected = 0
        after = 0
        while True:
            async with session.get(f"{url}{API}/events?batch={batch['id']}&after={after}&limit=1000") as resp:
                page = (await resp.json())["events"]
            if not page:
                break
            expected += sum(1 for e in page if e["type"] in ("batchgen.job",) or
                            (e["type"] == "batchgen.batch" and e["data"]["status"] in ("succeeded", "partial", "failed", "cancelled")))
            after = page[-1]["seq"]
        started = time.perf_counter()
        async with session.post(f"{url}{API}/batches/{batch['id']}/webhooks",
                                json={"url": f"http://127.0.0.1:{port}/hook", "events": ["*"]}) as resp:
            hook = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"webhook -> {resp.status}: {hook}")
        signer.append(Webhook(hook["secret"]))
        deadline = time.perf_counter() + 300
        while len(received) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110 - a counter filled by the receiver
            await asyncio.sleep(0.05)
        last = max(received.values()) if received else started
    await runner.cleanup()
    elapsed = last - started
    return {"jobs": n, "events_expected": expected, "delivered_unique": len(received), "duplicates": duplicates[0],
            "bad_signatures": bad[0], "seconds": round(elapsed, 3), "deliveries_per_s": round(len(received) / elapsed, 1),
            "none_lost": len(received) >= expected, "target_met": len(received) >= expected and len(received) / elapsed >= 200}


def bench_webhooks(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for i in range(args.rounds):
        with bench_server("batchgen-webhooks-", False, {"BATCHGEN_WEBHOOK_ALLOW_PRIVATE": "1"}) as server:
            run = asyncio.run(webhook_run(server.url, args.n))
        run["run"] = i + 1
        err(f"webhooks run {i + 1}: {json.dumps(run)}")
        runs.append(run)
    rates = [r["deliveries_per_s"] for r in runs]
    return {"runs": runs, "summary": {"deliveries_per_s_median": statistics.median(rates), "range": [min(rates), max(rates)],
                                      "none_lost": all(r["none_lost"] for r in runs),
                                      "target_met": all(r["target_met"] for r in runs)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("streams", "auth", "webhooks"))
    parser.add_argument("-n", type=int, default=2000, help="jobs per run (streams, webhooks; default 2000)")
    parser.add_argument("--streams", type=int, default=100, help="SSE streams open in the B runs (default 100)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (streams: A+B pairs, default 2; auth: 5; webhooks: 1)")
    parser.add_argument("--requests", type=int, default=3000, help="auth: requests per app per round (default 3000)")
    args = parser.parse_args()
    args.rounds = args.rounds or {"streams": 2, "auth": 5, "webhooks": 1}[args.what]
    facts = machine_facts()
    if args.what != "auth" and comfy_env() is None:
        err(skip_reason())
        return 2
    if args.what == "streams":
        result = bench_streams(args)
    elif args.what == "auth":
        result = asyncio.run(bench_auth_async(args))
    else:
        result = bench_webhooks(args)
    facts["load_avg_end"] = load_average()
    report = {"benchmark": f"remote {args.what}", "n": args.n, "rounds": args.rounds, **result, "machine": facts,
              "command": command_line()}
    out(json.dumps(report["summary"], indent=1))
    for line in facts_lines(facts):
        out(line)
    out(f"command: {report['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
