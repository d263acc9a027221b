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
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.comfyui.harness import comfy_env, new_server, skip_reason  # noqa: E402

API = "/batchgen/v1"


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


async def poller(url: str, batch_ref: dict, stop: asyncio.Event, interval: float, latencies: list[float], errors: list[str]) -> None:
    async with aiohttp.ClientSession() as session:
        i = 0
        while not stop.is_set():
            batch_id = batch_ref.get("id")
            paths = [f"{API}/health"]
            if batch_id:
                paths += [f"{API}/batches/{batch_id}", f"{API}/batches/{batch_id}/jobs?limit=50&offset={(i * 50) % 2000}",
                          f"{API}/jobs/{batch_ref.get('first_job', 1) + i % 1000}"]
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            try:
                async with session.get(url + path) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors.append(f"{resp.status} {path}")
            except aiohttp.ClientError as exc:
                errors.append(f"{type(exc).__name__} {path}")
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(interval)


async def measure(url: str, temp_dir: Path, n: int, pollers: int, interval: float) -> dict:
    async with aiohttp.ClientSession() as session:
        shutil.rmtree(temp_dir, ignore_errors=True)
        _, alone = await run_batch(session, url, n, 100_000)
        shutil.rmtree(temp_dir, ignore_errors=True)
        latencies: list[float] = []
        errors: list[str] = []
        stop = asyncio.Event()
        ref: dict = {}
        tasks = [asyncio.create_task(poller(url, ref, stop, interval, latencies, errors)) for _ in range(pollers)]
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
    lat = sorted(latencies)
    return {
        "jobs": n, "pollers": pollers, "interval_s": interval,
        "alone_s": round(alone, 3), "alone_jobs_per_s": round(n / alone, 1),
        "loaded_s": round(loaded, 3), "loaded_jobs_per_s": round(n / loaded, 1),
        "throughput_ratio": round(alone / loaded, 3),
        "requests": len(lat), "errors": len(errors), "error_samples": errors[:5],
        "p50_ms": round(statistics.median(lat) * 1000, 2), "p99_ms": round(lat[int(0.99 * (len(lat) - 1))] * 1000, 2),
        "max_ms": round(lat[-1] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--pollers", type=int, default=32)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if comfy_env() is None:
        sys.stderr.write(skip_reason() + "\n")
        return 2
    server = new_server(Path(tempfile.mkdtemp(prefix="batchgen-pollers-")) / "comfy")
    server.start()
    try:
        version = server.get(f"{API}/health")["host"]["version"]
        result = asyncio.run(measure(server.url, server.temp_dir, args.n, args.pollers, args.interval))
    finally:
        server.stop()
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
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
