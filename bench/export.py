#!/usr/bin/env python3
"""Export: stream GET /batches/{id}/export of a 10,000-image batch; time, throughput and the server's peak RSS growth.

In-process server (the extension's real routes, BatchService and Store on a fresh SQLite file, tests/fakehost.FakeHost
for ComfyUI's folders) on 127.0.0.1. A setup child creates the batch through BatchService, writes one incompressible
file per job (random bytes in a PNG frame, --size bytes) and marks the jobs succeeded with those outputs in SQL (running
10,000 jobs through a real ComfyUI is not what this measures). Each run is a fresh child process: it serves, resets its
peak RSS (/proc/self/clear_refs), downloads the zip to a file with an aiohttp client in the same process (so the client's
buffers count against us too), and reports VmHWM - VmRSS. The parent then checks the zip: every image present, and
manifest.jsonl's sha256 equal to the bytes of a sample of entries. Target (issue 8): peak RSS growth ≤ 50 MB.

    python bench/export.py [--images 10000] [--size 49152] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(ROOT))
__import__("tests.conftest")  # loads the extension as the package batchgen_ext

from _benchutil import err, facts_lines, load_average, machine_facts, out  # noqa: E402
from batchgen_ext.batchgen.config import Config  # noqa: E402
from batchgen_ext.batchgen.dispatcher import Dispatcher  # noqa: E402
from batchgen_ext.batchgen.registry import TemplateRegistry  # noqa: E402
from batchgen_ext.batchgen.service import BatchService  # noqa: E402
from batchgen_ext.batchgen.store import Store  # noqa: E402
from batchgen_ext.server_routes import register  # noqa: E402

from tests.fakehost import FakeHost  # noqa: E402

API = "/batchgen/v1"
RSS_TARGET_MB = 50.0


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> None:
    """VmHWM := VmRSS now (Linux), so the peak measured is that of the export alone."""
    Path("/proc/self/clear_refs").write_text("5")


def service_for(tmp: Path, store: Store) -> tuple[BatchService, Dispatcher]:
    host = FakeHost(output_dir=tmp / "output")
    config = Config.from_env()
    dispatcher = Dispatcher(store, host, config)
    return BatchService(store, host, TemplateRegistry(ROOT / "workflows", tmp / "templates"), dispatcher, config, "bench"), dispatcher


async def setup(tmp: Path, images: int, size: int) -> str:
    """(In a child.) A finished batch of ``images`` jobs, one file each."""
    store = Store(tmp / "batchgen.sqlite3")
    await store.open()
    service, _ = service_for(tmp, store)
    batch, _ = await service.create_batch({"template": "text-card", "prompts": [f"第{i}号商品 card {i}" for i in range(images)]})
    await store.close()
    folder = tmp / "output" / batch.output_subfolder
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(tmp / "batchgen.sqlite3")
    now = time.time()
    rows = []
    for job_id, idx in conn.execute("SELECT id, idx FROM jobs WHERE batch_id = ? ORDER BY idx", (batch.id,)).fetchall():
        name = f"{idx:05d}_00001_.png"
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(max(size - 20, 0)) + b"\x00\x00\x00\x00IEND")
        outputs = [{"node_id": "6", "filename": name, "subfolder": batch.output_subfolder, "type": "output", "kind": "images"}]
        rows.append(("succeeded", 1, now, now, now + 0.3, json.dumps(outputs), job_id))
    conn.executemany("UPDATE jobs SET status = ?, attempts = ?, queued_at = ?, started_at = ?, finished_at = ?, outputs_json = ? "
                     "WHERE id = ?", rows)
    conn.execute("UPDATE batches SET status = 'succeeded', n_pending = 0, n_succeeded = total, started_at = ?, finished_at = ? "
                 "WHERE id = ?", (now, now + 1, batch.id))
    conn.commit()
    conn.close()
    return batch.id


async def run_export(tmp: Path, batch_id: str, zip_path: Path) -> dict[str, Any]:
    """(In a child.) Serve, reset the peak, download the export to ``zip_path``."""
    store = Store(tmp / "batchgen.sqlite3")
    await store.open()
    service, _ = service_for(tmp, store)
    routes = web.RouteTableDef()
    register(routes, service)
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600)) as session:
        async with session.get(f"http://127.0.0.1:{port}{API}/health") as resp:
            await resp.read()
        reset_peak()
        rss_before = status_kb("VmRSS")
        started = time.perf_counter()
        written = 0
        async with session.get(f"http://127.0.0.1:{port}{API}/batches/{batch_id}/export") as resp:
            assert resp.status == 200, await resp.text()
            with zip_path.open("wb") as fh:
                async for chunk in resp.content.iter_chunked(1 << 16):
                    fh.write(chunk)
                    written += len(chunk)
        seconds = time.perf_counter() - started
        peak = status_kb("VmHWM")
    await runner.cleanup()
    await store.close()
    return {"seconds": seconds, "zip_bytes": written, "rss_before_mb": rss_before / 1024, "rss_growth_mb": max(peak - rss_before, 0) / 1024}


def check_zip(zip_path: Path, images: int) -> None:
    """Every image is in the zip and the manifest's sha256 matches the bytes of a sample of them."""
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        rows = [json.loads(line) for line in archive.read("manifest.jsonl").splitlines()]
        assert len(rows) == images, f"{len(rows)} manifest rows, expected {images}"
        assert sum(1 for n in names if n.startswith("images/")) == images
        for row in rows[:: max(images // 200, 1)]:
            f = row["files"][0]
            assert hashlib.sha256(archive.read(f"images/{f['name']}")).hexdigest() == f["sha256"], f["name"]
        assert archive.read("manifest.csv").startswith(b"\xef\xbb\xbf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=48 * 1024, help="bytes per image file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--setup", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        out(asyncio.run(setup(Path(args.setup[0]), int(args.setup[1]), int(args.setup[2]))))
        return
    if args.child:
        out(json.dumps(asyncio.run(run_export(Path(args.child[0]), args.child[1], Path(args.child[2])))))
        return
    facts = machine_facts()
    tmp = Path(tempfile.mkdtemp(prefix="batchgen-export-"))
    runs: list[dict[str, Any]] = []
    try:
        t0 = time.perf_counter()
        setup_run = subprocess.run([sys.executable, __file__, "--setup", str(tmp), str(args.images), str(args.size)],
                                   capture_output=True, text=True, check=True)
        batch_id = setup_run.stdout.strip().splitlines()[-1]
        err(f"setup: {args.images} images of {args.size} bytes in {time.perf_counter() - t0:.1f} s")
        for i in range(args.repeat):
            zip_path = tmp / f"export-{i}.zip"
            child = subprocess.run([sys.executable, __file__, "--child", str(tmp), batch_id, str(zip_path)],
                                   capture_output=True, text=True, check=True)
            run = json.loads(child.stdout.strip().splitlines()[-1])
            check_zip(zip_path, args.images)
            zip_path.unlink()
            runs.append(run)
            err(f"run {i + 1}: {run['seconds']:.2f} s, {run['zip_bytes'] / 1e6:.0f} MB, RSS +{run['rss_growth_mb']:.1f} MB "
                f"(from {run['rss_before_mb']:.0f} MB); zip checked")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    facts["load_avg_end"] = load_average()
    if args.json:
        out(json.dumps({"facts": facts, "images": args.images, "size": args.size, "runs": runs}))
        return
    for line in facts_lines(facts):
        out(line)
    secs = sorted(r["seconds"] for r in runs)
    growth = sorted(r["rss_growth_mb"] for r in runs)
    median = secs[len(secs) // 2]
    out("| images | zip | median s (min–max) | MB/s | peak RSS growth median (max) | target | verdict |")
    out("|---|---|---|---|---|---|---|")
    mb = runs[0]["zip_bytes"] / 1e6
    out(f"| {args.images} × {args.size // 1024} KiB | {mb:.0f} MB | {median:.2f} ({secs[0]:.2f}–{secs[-1]:.2f}) | {mb / median:.0f} | "
        f"{growth[len(growth) // 2]:.1f} MB ({growth[-1]:.1f} MB) | ≤ {RSS_TARGET_MB:.0f} MB | "
        f"{'ok' if growth[-1] <= RSS_TARGET_MB else 'MISSED'} |")


if __name__ == "__main__":
    main()
