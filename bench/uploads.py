#!/usr/bin/env python3
"""Uploads on a real ComfyUI: a 10,000-row table uploaded (multipart) and accepted as a batch by id, timed end to end,
with ComfyUI's peak RSS growth and its event loop's responsiveness (its own GET /prompt, timed every 10 ms meanwhile).

One ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON) is started through tests/comfyui/harness.py. Each run: ComfyUI's peak-RSS
mark is reset (``/proc/<pid>/clear_refs`` ← 5), then POST /uploads (the file) and POST /batches
(``{"table": {"upload": id}}``) are timed together; growth = VmHWM after − VmRSS before. The batch is cancelled at once
so the 10,000 text cards do not run. Targets (issue 7): csv ≤ 1 s, xlsx ≤ 3 s, RSS growth ≤ 100 MB, no GET /prompt
slower than 50 ms.

    python bench/uploads.py [--case csv|xlsx|all] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(ROOT))

from _benchutil import bench_server, command_line, err, facts_lines, load_average, machine_facts, out  # noqa: E402

from tests.comfyui.harness import comfy_env, skip_reason  # noqa: E402
from tests.unit.xlsxkit import xlsx_bytes  # noqa: E402
from tests.uploadkit import multipart  # noqa: E402

API = "/batchgen/v1"
ROWS = 10_000
TARGETS = {"csv": 1.0, "xlsx": 3.0}
RSS_TARGET_MB, STALL_TARGET_MS = 100.0, 50.0


def table_file(case: str) -> tuple[bytes, str, str]:
    """(bytes, file name, content type) of a 10,000-row table."""
    if case == "csv":
        text = "商品名,宽\r\n" + "".join(f"第{i}号商品：保温杯「红色」 500ml 第{i % 97}款,{256 + i % 3 * 64}\r\n" for i in range(ROWS))
        return text.encode("gbk"), "商品.csv", "text/csv"
    rows = [["商品名", "宽"], *[[f"第{i}号商品：保温杯「红色」 🍵 {i}", 256 + i % 3 * 64] for i in range(ROWS)]]
    return xlsx_bytes(rows), "商品.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def proc_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def call(url: str, method: str, data: bytes | None, ctype: str | None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype} if ctype else {})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class PromptPoller(threading.Thread):
    """GET /prompt (ComfyUI's own route) every 10 ms; records each answer's latency in ms."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies, self.stop = url, [], threading.Event()
        self.started: list[float] = []

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            self.started.append(t0)
            with urllib.request.urlopen(self.url + "/prompt", timeout=30) as resp:
                resp.read()
            self.latencies.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)


def idle_max_ms(server: Any, seconds: float) -> float:
    """The slowest GET /prompt while we do nothing: how noisy the machine is right now."""
    poller = PromptPoller(server.url)
    poller.start()
    time.sleep(seconds)
    poller.stop.set()
    poller.join()
    return max(poller.latencies)


def settle(server: Any, batch_id: str) -> None:
    """Wait until the cancelled batch is finished and ComfyUI's queue is empty, then a second more."""
    deadline = time.time() + 60
    while time.time() < deadline:
        status, batch = call(server.url + API + f"/batches/{batch_id}", "GET", None, None)
        running, pending = server.native_queue()
        if batch["status"] == "cancelled" and running == pending == 0:
            break
        time.sleep(0.2)
    time.sleep(1.0)


def one_run(server: Any, case: str) -> dict[str, Any]:
    data, name, ctype = table_file(case)
    body, form_type = multipart(data, name, ctype)
    pid = server.proc.pid
    idle = idle_max_ms(server, 1.5)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = proc_kb(pid, "VmRSS")
    poller = PromptPoller(server.url)
    poller.start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    status, up = call(server.url + API + "/uploads", "POST", body, form_type)
    t_upload = time.perf_counter() - t0
    assert status == 201, up
    req = {"template": "text-card", "table": {"upload": up["id"], "columns": {"商品名": "prompt", "宽": "width"}}}
    status, batch = call(server.url + API + "/batches", "POST", json.dumps(req, ensure_ascii=False).encode(), "application/json")
    total = time.perf_counter() - t0
    assert status == 201 and batch["total"] == ROWS, batch
    time.sleep(0.1)
    poller.stop.set()
    poller.join()
    peak = proc_kb(pid, "VmHWM")
    worst = max(range(len(poller.latencies)), key=poller.latencies.__getitem__)
    when = poller.started[worst] - t0  # when the slowest GET /prompt was sent, from the upload's start
    call(server.url + API + f"/batches/{batch['id']}/cancel", "POST", b"{}", "application/json")
    settle(server, batch["id"])
    return {"seconds": total, "upload_seconds": t_upload, "file_bytes": len(data), "rss_growth_mb": (peak - before) / 1024,
            "prompt_max_ms": max(poller.latencies), "prompt_samples": len(poller.latencies), "idle_prompt_max_ms": idle,
            "slowest_sent_at_s": when}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=["csv", "xlsx", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if comfy_env() is None:
        err(skip_reason())
        return 2
    facts = machine_facts()
    cases = ["csv", "xlsx"] if args.case == "all" else [args.case]
    results: dict[str, list[dict[str, Any]]] = {}
    with bench_server("batchgen-bench-uploads-", keep=False, env={"BATCHGEN_WINDOW": "1"}) as server:
        facts["comfyui_dir"] = str(server.comfy_dir)
        for case in cases:
            results[case] = []
            for i in range(args.repeat):
                run = one_run(server, case)
                err(f"{case} run {i + 1}: {run['seconds']:.3f} s (upload {run['upload_seconds']:.3f} s), "
                    f"RSS +{run['rss_growth_mb']:.1f} MB, GET /prompt max {run['prompt_max_ms']:.1f} ms "
                    f"sent at +{run['slowest_sent_at_s']:.2f} s (idle before: {run['idle_prompt_max_ms']:.1f} ms)")
                results[case].append(run)
    facts["load_avg_end"] = load_average()
    summary = {}
    for case, runs in results.items():
        secs = [r["seconds"] for r in runs]
        summary[case] = {"median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs),
                         "upload_median_s": statistics.median(r["upload_seconds"] for r in runs),
                         "rss_growth_max_mb": max(r["rss_growth_mb"] for r in runs),
                         "prompt_max_ms": max(r["prompt_max_ms"] for r in runs), "file_bytes": runs[0]["file_bytes"],
                         "prompt_max_median_ms": statistics.median(r["prompt_max_ms"] for r in runs),
                         "idle_prompt_max_ms": max(r["idle_prompt_max_ms"] for r in runs),
                         "target_s": TARGETS[case], "runs": len(runs)}
        summary[case]["pass"] = (summary[case]["median_s"] <= TARGETS[case] and summary[case]["rss_growth_max_mb"] <= RSS_TARGET_MB
                                 and summary[case]["prompt_max_ms"] <= STALL_TARGET_MS)
    if args.json:
        out(json.dumps({"facts": facts, "command": command_line(), "summary": summary, "runs": results}, ensure_ascii=False, indent=1))
        return 0
    for line in facts_lines(facts):
        out(line)
    out(f"command: {command_line()}")
    for case, s in summary.items():
        out(f"{case}: {ROWS} rows ({s['file_bytes']} bytes) uploaded + accepted: median {s['median_s']:.3f} s "
            f"(min {s['min_s']:.3f}, max {s['max_s']:.3f}; upload alone {s['upload_median_s']:.3f} s) over {s['runs']} runs, "
            f"target {s['target_s']} s; ComfyUI peak RSS growth ≤ {s['rss_growth_max_mb']:.1f} MB; "
            f"slowest GET /prompt {s['prompt_max_ms']:.1f} ms (median of the runs' slowest {s['prompt_max_median_ms']:.1f} ms; "
            f"idle, doing nothing: up to {s['idle_prompt_max_ms']:.1f} ms) — {'PASS' if s['pass'] else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
