"""A 2,000-job run with and without 32 concurrent API pollers: throughput and API latency.

On one real ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON) with this extension: run N trivial jobs
(EmptyImage → PreviewImage, distinct colours) alone, then N more while P pollers (aiohttp,
one connection each) cycle through GET batch, GET jobs page, GET job, GET health, each
waiting --interval seconds between requests. Prints both throughputs, their ratio, and the
pollers' latency p50/p99/max and error count. ComfyUI's temp folder is cleared between runs.

    python bench/pollers.py [-n 2000] [--pollers 32] [--interval 0.1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import bench_server, lab_missing  # noqa: E402

API = "/batchgen/v1"


def pct(values: list[float], q: float) -> float:
    """The q-quantile of sorted values."""
    return values[int(q * (len(values) - 1))]


def workflow() -> dict:
    return {
        "workflow": {
            "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
        },
        "bindings": {"color": "1.color"},
    }


async def run_batch(session: aiohttp.ClientSession, url: str, n: int, colour_base: int) -> tuple[str, float]:
    body = {"name": f"pollers {colour_base}", "template": workflow(), "jobs": [{"color": colour_base + i} for i in range(n)]}
    started = time.perf_counter()
    async with session.post(url + f"{API}/batches", json=body) as resp:
        batch = await resp.json()
        assert resp.status == 201, batch
    while True:
        async with session.get(url + f"{API}/batches/{batch['id']}") as resp:
            state = await resp.json()
        if state["status"] in ("succeeded", "partial", "failed", "cancelled"):
            assert state["counts"]["succeeded"] == n, state
            return batch["id"], time.perf_counter() - started
        await asyncio.sleep(0.02)


async def poller(url: str, batch_ref: dict, stop: asyncio.Event, interval: float, latencies: list[tuple[str, float]],
                 errors: list[str], native: bool = False) -> None:
    async with aiohttp.ClientSession() as session:
        i = 0
        while not stop.is_set():
            batch_id = batch_ref.get("id")
            paths = [f"{API}/health"]
            if batch_id:
                paths += [f"{API}/batches/{batch_id}", f"{API}/batches/{batch_id}/jobs?limit=50&offset={(i * 50) % 2000}",
                          f"{API}/jobs/{batch_ref.get('first_job', 1) + i % 1000}"]
            # The reference poller asks ComfyUI's own cheapest route: what any client sees meanwhile.
            path = "/prompt" if native else paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            try:
                async with session.get(url + path) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors.append(f"{resp.status} {path}")
            except aiohttp.ClientError as exc:
                errors.append(f"{type(exc).__name__} {path}")
            route = path.split("?")[0].rsplit("/", 1)[0] if "/jobs/" in path and "?" not in path else path.split("?")[0]
            latencies.append((route, time.perf_counter() - t0, t0))
            await asyncio.sleep(interval)


async def measure(url: str, temp_dir: Path, n: int, pollers: int, interval: float) -> dict:
    async with aiohttp.ClientSession() as session:
        shutil.rmtree(temp_dir, ignore_errors=True)
        _, alone = await run_batch(session, url, n, 100_000)
        shutil.rmtree(temp_dir, ignore_errors=True)
        latencies: list[tuple[str, float, float]] = []
        native: list[tuple[str, float]] = []
        errors: list[str] = []
        stop = asyncio.Event()
        ref: dict = {}
        tasks = [asyncio.create_task(poller(url, ref, stop, interval, latencies, errors)) for _ in range(pollers)]
        tasks.append(asyncio.create_task(poller(url, ref, stop, interval, native, errors, native=True)))
        body = {"name": "pollers loaded", "template": workflow(), "jobs": [{"color": 200_000 + i} for i in range(n)]}
        started = time.perf_counter()
        async with session.post(url + f"{API}/batches", json=body) as resp:
            batch = await resp.json()
        ref["id"] = batch["id"]
        async with session.get(url + f"{API}/batches/{batch['id']}/jobs?limit=1") as resp:
            ref["first_job"] = (await resp.json())["jobs"][0]["id"]
        while True:
            async with session.get(url + f"{API}/batches/{batch['id']}") as resp:
                state = await resp.json()
            if state["status"] in ("succeeded", "partial", "failed", "cancelled"):
                break
            await asyncio.sleep(0.02)
        loaded = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
    lat = sorted(t for _, t, _ in latencies)
    ref_lat = sorted(t for _, t, _ in native)
    # Slow requests (> 100 ms, ours and ComfyUI's own) grouped into bursts: stalls of the whole server
    # (ComfyUI's worker runs gc.collect() every 10 s while busy) show up as a few bursts hitting every route.
    slow = sorted(start for _, t, start in latencies + native if t > 0.1)
    bursts: list[list[float]] = []
    for start in slow:
        if bursts and start - bursts[-1][-1] < 1.0:
            bursts[-1].append(start)
        else:
            bursts.append([start])
    in_burst = [(b[0] - 0.5, b[-1] + 0.5) for b in bursts]
    calm = sorted(t for _, t, start in latencies if not any(lo <= start <= hi for lo, hi in in_burst))
    by_route: dict[str, list[float]] = {}
    for route, t, _ in latencies:
        key = route
        if route.startswith(f"{API}/batches/"):
            key = f"{API}/batches/{{id}}/jobs" if route.endswith("/jobs") else f"{API}/batches/{{id}}"
        by_route.setdefault(key.replace(str(ref.get("first_job", "")), "{id}"), []).append(t)
    return {
        "p99_outside_bursts_ms": round(pct(calm, 0.99) * 1000, 2) if calm else None,
        "slow_requests": len(slow), "slow_bursts": len(bursts),
        "slow_burst_times_s": [round(b[0] - started, 1) for b in bursts],
        "native_slow_requests": sum(1 for _, t, _ in native if t > 0.1),
        "native_get_prompt_p50_ms": round(statistics.median(ref_lat) * 1000, 2),
        "native_get_prompt_p99_ms": round(pct(ref_lat, 0.99) * 1000, 2),
        "per_route_p99_ms": {k: round(pct(sorted(v), 0.99) * 1000, 2) for k, v in sorted(by_route.items())},
        "jobs": n, "pollers": pollers, "interval_s": interval,
        "alone_s": round(alone, 3), "alone_jobs_per_s": round(n / alone, 1),
        "loaded_s": round(loaded, 3), "loaded_jobs_per_s": round(n / loaded, 1),
        "throughput_ratio": round(alone / loaded, 3),
        "requests": len(lat), "errors": len(errors), "error_samples": errors[:5],
        "p50_ms": round(statistics.median(lat) * 1000, 2), "p99_ms": round(pct(lat, 0.99) * 1000, 2),
        "max_ms": round(lat[-1] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--pollers", type=int, default=32)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if lab_missing():
        return 2
    with bench_server("batchgen-pollers-", keep=False) as server:
        version = server.get(f"{API}/health")["host"]["version"]
        result = asyncio.run(measure(server.url, server.temp_dir, args.n, args.pollers, args.interval))
    result.update({"comfyui": version, "date": time.strftime("%Y-%m-%d %H:%M"),
                   "machine": f"{platform.processor() or platform.machine()}, {platform.node()}"})
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    else:
        sys.stdout.write(
            f"ComfyUI {version}: {args.n} jobs alone {result['alone_s']} s ({result['alone_jobs_per_s']} jobs/s); "
            f"with {args.pollers} pollers every {args.interval} s: {result['loaded_s']} s ({result['loaded_jobs_per_s']} jobs/s), "
            f"throughput ratio {result['throughput_ratio']}\n"
            f"API: {result['requests']} requests, {result['errors']} errors, p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms; per route p99 {result['per_route_p99_ms']}\n"
            f"ComfyUI's own GET /prompt meanwhile: p50 {result['native_get_prompt_p50_ms']} ms, "
            f"p99 {result['native_get_prompt_p99_ms']} ms\n"
            f"requests over 100 ms: {result['slow_requests']} (of them ComfyUI's own GET /prompt: {result['native_slow_requests']}), "
            f"in {result['slow_bursts']} bursts starting at {result['slow_burst_times_s']} s; "
            f"our p99 outside the bursts {result['p99_outside_bursts_ms']} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
