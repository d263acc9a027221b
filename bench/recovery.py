"""Time from a ComfyUI restart after kill -9 to feeding our backlog again.

Starts one real ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON) with this extension, submits a
backlog of sleep jobs, and repeatedly kill -9s it mid-batch and starts it again. For each
restart it reports: process start → ComfyUI answering HTTP, and process start → the first
of our jobs back in ComfyUI's queue (its queued_at in our database), and the difference
(negative: feeding resumed before ComfyUI's HTTP server even answered).

    python bench/recovery.py [--restarts 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import bench_server, lab_missing  # noqa: E402

from tests.comfyui.test_durability import sleep_jobs, sleep_template  # noqa: E402


def http_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/system_stats", timeout=0.5) as resp:
            return resp.status == 200
    except OSError:
        return False


def measure(server, restarts: int) -> tuple[list[dict], str]:
    """kill -9 and restart `restarts` times; per restart: HTTP up and backlog fed again, from process start."""
    status, batch = server.post("/batchgen/v1/batches", {"name": "recovery bench", "template": sleep_template(0.2),
                                                         "jobs": sleep_jobs(2000, 0.2)})
    assert status == 201, batch
    rows = []
    for _ in range(restarts):
        time.sleep(1.0)
        server.stop(kill=True)
        spawned = time.time()
        proc_started = server.starts
        marks: dict[str, float] = {}

        def watch(marks: dict[str, float] = marks, spawned: float = spawned) -> None:
            while "http" not in marks and time.time() - spawned < 120:
                if http_up(server.url):
                    marks["http"] = time.time()
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        server.start()
        watcher.join(timeout=120)
        assert server.starts == proc_started + 1
        # The exact moment the first job went back into ComfyUI's queue is in our database.
        deadline = time.time() + 60
        while time.time() < deadline:
            with sqlite3.connect(server.db_path) as conn:
                (first,) = conn.execute("SELECT MIN(queued_at) FROM jobs WHERE queued_at > ?", (spawned,)).fetchone()
            if first:
                marks["fed"] = first
                break
            time.sleep(0.05)
        rows.append({"http_s": round(marks["http"] - spawned, 3), "feeding_s": round(marks["fed"] - spawned, 3),
                     "extension_s": round(marks["fed"] - marks["http"], 3)})
    server.post(f"/batchgen/v1/batches/{batch['id']}/cancel", {})
    version = server.get("/batchgen/v1/health")["host"]["version"]
    return rows, version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if lab_missing():
        return 2
    with bench_server("batchgen-recovery-", keep=False) as server:
        rows, version = measure(server, args.restarts)
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.processor() or platform.machine()}, {platform.node()}",
        "comfyui": version, "restarts": rows,
        "median_http_s": statistics.median(r["http_s"] for r in rows),
        "median_feeding_s": statistics.median(r["feeding_s"] for r in rows),
        "max_feeding_s": max(r["feeding_s"] for r in rows),
        "median_extension_s": statistics.median(r["extension_s"] for r in rows),
    }
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        for i, r in enumerate(rows, 1):
            sys.stdout.write(f"restart {i}: ComfyUI HTTP up {r['http_s']:.2f} s, our backlog fed again {r['feeding_s']:.2f} s "
                             f"({r['extension_s']:+.2f} s vs HTTP up)\n")
        sys.stdout.write(f"median: HTTP {summary['median_http_s']:.2f} s, feeding {summary['median_feeding_s']:.2f} s, "
                         f"max feeding {summary['max_feeding_s']:.2f} s; ComfyUI {version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
