#!/usr/bin/env python3
"""Uploads on a real ComfyUI: a 10,000-row table uploaded (multipart) and accepted as a batch by id, timed end to end,
with ComfyUI's peak RSS growth and its event loop's responsiveness (its own GET /prompt, timed every 10 ms meanwhile)
beside the same measurement of native ComfyUI running the same prompt from its own POST /prompt.

One fresh ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON, tests/comfyui/harness.py) per case, which logs its garbage collections
(bench/gclog). Each case runs ``--repeat`` pairs of phases, interleaved (ours, native, native, ours, …); before each
phase ComfyUI's queue is empty and ``POST /free`` makes its prompt worker collect, then the bench waits ``--gc-wait``
seconds (default 10.5: the worker's own ``gc.collect()`` after the phase's first prompt then falls inside the window, in
both kinds of phase alike; < 10: it cannot).

- ours: VmHWM reset (``/proc/<pid>/clear_refs`` ← 5), POST /uploads (the file) + POST /batches
  (``{"table": {"upload": id}}``) timed together; growth = VmHWM after − VmRSS before; the window lasts until the first
  job has succeeded + 0.5 s (window 1), then the batch is cancelled.
- native: the prompt our first job ran (read from ComfyUI's /history, saved elsewhere) sent to POST /prompt; the window
  lasts until it is in /history + 0.5 s.

Targets (issue 7): csv ≤ 1 s, xlsx ≤ 3 s, RSS growth ≤ 100 MB, no GET /prompt slower than 50 ms; the stall is reported
for the whole window, inside the acceptance (sent before the 201), and outside ComfyUI's own collections by its worker.

    python bench/uploads.py [--case csv|xlsx|all] [--repeat 4] [--gc-wait 10.5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(ROOT))

from _benchutil import bench_server, command_line, err, facts_lines, git_revision, lab_missing, load_average, machine_facts, out  # noqa: E402
from _promptwatch import GcLog, PromptPoller, quiesce, summary  # noqa: E402

from tests.unit.xlsxkit import xlsx_bytes  # noqa: E402
from tests.uploadkit import multipart  # noqa: E402

API = "/batchgen/v1"
ROWS = 10_000
TARGETS = {"csv": 1.0, "xlsx": 3.0}
RSS_TARGET_MB, STALL_TARGET_MS = 100.0, 50.0
TAIL = 0.5  # s the window stays open after the first prompt finished (the worker collects right after it)


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


def until(check: Any, timeout: float = 60.0) -> None:
    """Poll ``check()`` every 20 ms until it is true."""
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def stalls(poller: PromptPoller, gc_log: GcLog, t0: float, accepted: float | None = None) -> dict[str, Any]:
    """The window's slowest GET /prompt: overall, sent before the 201, and outside the worker's collections."""
    window = gc_log.entries(t0 - 0.2, time.time())
    worker = [(c.start, c.end) for c in window if c.by_worker]
    ms, sent = poller.slowest()
    found = {"prompt_max_ms": ms, "slowest_sent_at_s": sent - t0, "prompt_samples": len(poller.samples),
             "outside_worker_gc_max_ms": poller.max_ms(skip=worker),
             "worker_gc_ms": [c.ms for c in window if c.by_worker and c.gen == 2], "collections": summary(window)}
    if accepted is not None:
        found["acceptance_max_ms"] = poller.max_ms(sent_until=accepted)
    return found


def ours(server: Any, case: str, gc_log: GcLog, idle: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """One measured upload + acceptance; (figures, the prompt its first job ran)."""
    data, name, ctype = table_file(case)
    body, form_type = multipart(data, name, ctype)
    pid = server.proc.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = proc_kb(pid, "VmRSS")
    with PromptPoller(server.url) as poller:
        time.sleep(0.1)
        t0 = time.time()
        status, up = call(server.url + API + "/uploads", "POST", body, form_type)
        t_upload = time.time() - t0
        assert status == 201, up
        req = {"template": "text-card", "table": {"upload": up["id"], "columns": {"商品名": "prompt", "宽": "width"}}}
        status, batch = call(server.url + API + "/batches", "POST", json.dumps(req, ensure_ascii=False).encode(), "application/json")
        accepted = time.time()
        assert status == 201 and batch["total"] == ROWS, batch
        until(lambda: server.get(f"{API}/batches/{batch['id']}")["counts"]["succeeded"] >= 1)
        time.sleep(TAIL)
    peak = proc_kb(pid, "VmHWM")
    call(server.url + API + f"/batches/{batch['id']}/cancel", "POST", b"{}", "application/json")
    [first] = server.get(f"{API}/batches/{batch['id']}/jobs?limit=1")["jobs"]
    prompt = server.get(f"/history/{first['prompt_id']}")[first["prompt_id"]]["prompt"][2]
    run = {"seconds": accepted - t0, "upload_seconds": t_upload, "file_bytes": len(data), "rss_growth_mb": (peak - before) / 1024,
           "idle_prompt_max_ms": idle, **stalls(poller, gc_log, t0, accepted)}
    return run, prompt


def native(server: Any, prompt: dict[str, Any], gc_log: GcLog, idle: float) -> dict[str, Any]:
    """ComfyUI alone: the same prompt through its own POST /prompt, measured the same way."""
    prompt = json.loads(json.dumps(prompt))
    for node in prompt.values():
        if "filename_prefix" in node.get("inputs", {}):
            node["inputs"]["filename_prefix"] = "native/bench"
    with PromptPoller(server.url) as poller:
        time.sleep(0.1)
        t0 = time.time()
        status, answer = server.post("/prompt", {"prompt": prompt, "client_id": "bench-native"})
        assert status == 200, answer
        until(lambda: answer["prompt_id"] in server.get(f"/history/{answer['prompt_id']}"))
        time.sleep(TAIL)
    return {"idle_prompt_max_ms": idle, **stalls(poller, gc_log, t0)}


def idle_then(server: Any, gc_log: GcLog, wait: float) -> float:
    """Quiesce ComfyUI (see the module text), timing GET /prompt over the wait's last second: the machine's noise."""
    quiesce(server, gc_log, max(0.0, wait - 1.0))
    with PromptPoller(server.url) as poller:
        time.sleep(1.0)
    return poller.max_ms()


def run_case(case: str, repeat: int, wait: float, facts: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``repeat`` pairs of (ours, native) on one fresh ComfyUI, in the order ours, native, native, ours, …"""
    mine, theirs, prompt = [], [], None
    with bench_server(f"batchgen-bench-uploads-{case}-", env={"BATCHGEN_WINDOW": "1"}, gc_log=True) as server:
        gc_log = GcLog(server.data_dir / "gc.jsonl")
        facts.update(comfyui_dir=str(server.comfy_dir), comfyui_version=server.get(f"{API}/health")["host"]["version"],
                     comfyui_commit=git_revision(server.comfy_dir))
        for i in range(2 * repeat):
            if (i % 4 in (0, 3)) or prompt is None:
                run, prompt = ours(server, case, gc_log, idle_then(server, gc_log, wait))
                mine.append(run)
                err(f"{case} ours {len(mine)}: {run['seconds']:.3f} s (upload {run['upload_seconds']:.3f} s), RSS +{run['rss_growth_mb']:.1f} MB, "
                    f"GET /prompt max {run['prompt_max_ms']:.1f} ms sent at +{run['slowest_sent_at_s']:.2f} s, during acceptance "
                    f"{run['acceptance_max_ms']:.1f} ms, outside the worker's collections {run['outside_worker_gc_max_ms']:.1f} ms "
                    f"(idle before {run['idle_prompt_max_ms']:.1f} ms); collections: {run['collections']}")
            else:
                run = native(server, prompt, gc_log, idle_then(server, gc_log, wait))
                theirs.append(run)
                err(f"{case} native {len(theirs)}: GET /prompt max {run['prompt_max_ms']:.1f} ms sent at +{run['slowest_sent_at_s']:.2f} s, "
                    f"outside the worker's collections {run['outside_worker_gc_max_ms']:.1f} ms (idle before {run['idle_prompt_max_ms']:.1f} ms); "
                    f"collections: {run['collections']}")
    return mine, theirs


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def summarise(case: str, mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    secs = [r["seconds"] for r in mine]
    gc_ours = [ms for r in mine for ms in r["worker_gc_ms"]]
    gc_native = [ms for r in theirs for ms in r["worker_gc_ms"]]
    s = {"runs": len(mine), "native_runs": len(theirs), "median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs),
         "upload_median_s": statistics.median(r["upload_seconds"] for r in mine), "file_bytes": mine[0]["file_bytes"],
         "rss_growth_max_mb": max(r["rss_growth_mb"] for r in mine), "target_s": TARGETS[case],
         "ours_prompt_max_ms": [round(r["prompt_max_ms"], 1) for r in mine],
         "native_prompt_max_ms": [round(r["prompt_max_ms"], 1) for r in theirs],
         "ours_acceptance_max_ms": [round(r["acceptance_max_ms"], 1) for r in mine],
         "ours_outside_worker_gc_ms": [round(r["outside_worker_gc_max_ms"], 1) for r in mine],
         "native_outside_worker_gc_ms": [round(r["outside_worker_gc_max_ms"], 1) for r in theirs],
         "worker_gc_ms_ours": gc_ours, "worker_gc_ms_native": gc_native,
         "idle_max_ms": max(r["idle_prompt_max_ms"] for r in mine + theirs)}
    s["time_ok"] = s["median_s"] <= TARGETS[case] and s["rss_growth_max_mb"] <= RSS_TARGET_MB
    s["stall_ok"] = max(s["ours_outside_worker_gc_ms"]) <= STALL_TARGET_MS
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=["csv", "xlsx", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=4, help="pairs (ours + native) per case")
    parser.add_argument("--gc-wait", type=float, default=10.5, help="s after the worker's forced collection before a phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if lab_missing():
        return 2
    facts = machine_facts()
    results = {case: run_case(case, args.repeat, args.gc_wait, facts) for case in (["csv", "xlsx"] if args.case == "all" else [args.case])}
    facts["load_avg_end"] = load_average()
    summary = {case: summarise(case, *runs) for case, runs in results.items()}
    if args.json:
        out(json.dumps({"facts": facts, "command": command_line(), "summary": summary,
                        "runs": {c: {"ours": m, "native": n} for c, (m, n) in results.items()}}, ensure_ascii=False, indent=1))
        return 0
    for line in facts_lines(facts):
        out(line)
    out(f"command: {command_line()}")
    for case, s in summary.items():
        out(f"{case}: {ROWS} rows ({s['file_bytes']} bytes) uploaded + accepted: median {s['median_s']:.3f} s (min {s['min_s']:.3f}, "
            f"max {s['max_s']:.3f}; upload alone {s['upload_median_s']:.3f} s) over {s['runs']} runs, target {s['target_s']} s; "
            f"peak RSS growth ≤ {s['rss_growth_max_mb']:.1f} MB — {'met' if s['time_ok'] else 'MISSED'}")
        out(f"  slowest GET /prompt per run, ms: ours {s['ours_prompt_max_ms']} vs native {s['native_prompt_max_ms']}; "
            f"during our acceptance {s['ours_acceptance_max_ms']}")
        out(f"  outside ComfyUI's worker's own collections: ours {s['ours_outside_worker_gc_ms']} vs native "
            f"{s['native_outside_worker_gc_ms']} (target ≤ {STALL_TARGET_MS:g}: {'met' if s['stall_ok'] else 'MISSED'})")
        if s["worker_gc_ms_ours"] and s["worker_gc_ms_native"]:
            out(f"  the worker's post-prompt gc.collect(), ms: after ours {spread(s['worker_gc_ms_ours'])}, native "
                f"{spread(s['worker_gc_ms_native'])}; idle (nothing running) up to {s['idle_max_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
