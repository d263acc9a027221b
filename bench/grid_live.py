#!/usr/bin/env python3
"""The preview of a 100,000-job labelled grid on a real ComfyUI, with ComfyUI's own GET /prompt timed meanwhile.

Starts a throw-away ComfyUI with this extension (tests/comfyui/harness.py; needs the comfyui-lab env), which logs its
garbage collections (bench/gclog). Per run: ComfyUI's queue is empty and its worker has just collected (``POST /free``,
see bench/_promptwatch.py), GET /prompt is timed for 1 s doing nothing (the machine's noise), then a thread polls it
every 5 ms while POST /batchgen/v1/batches/preview expands and checks 100 labelled texts × range 64..1063 (100,000 jobs).
Reports the preview's time, the slowest GET /prompt answered meanwhile and the collections ComfyUI ran then.

    eval "$(/work/shared/tools/comfyui-lab env)"; .venv/bin/python bench/grid_live.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _benchutil import bench_server, command_line, err, lab_missing, load_average, machine_facts, out  # noqa: E402
from _promptwatch import GcLog, PromptPoller, quiesce, summary  # noqa: E402

BODY = {"template": "text-card", "seed": {"policy": "increment", "base": 0}, "axes": [
    {"param": "prompt", "values": [f"商品 {i} 号" for i in range(100)], "labels": [f"第{i}号" for i in range(100)], "name": "商品"},
    {"param": "width", "range": "64..1063", "name": "宽度"}]}


def one_run(server, gc_log: GcLog) -> dict:
    """Preview once while GET /prompt is polled; the preview's seconds and the slowest poll."""
    quiesce(server, gc_log, 0.5)
    with PromptPoller(server.url, every=0.005) as idle:
        time.sleep(1.0)
    req = urllib.request.Request(server.url + "/batchgen/v1/batches/preview", json.dumps(BODY).encode(),
                                 {"Content-Type": "application/json"})
    with PromptPoller(server.url, every=0.005) as poller:
        time.sleep(0.3)
        t0 = time.time()
        with urllib.request.urlopen(req, timeout=120) as resp:
            data = json.loads(resp.read())
        seconds = time.time() - t0
        time.sleep(0.2)
    assert data["total"] == 100_000 and not data["problems"], data["problems"]
    return {"seconds": seconds, "max_get_prompt_ms": poller.max_ms(sent_from=t0 - 0.05), "idle_max_ms": idle.max_ms(),
            "polls": len(poller.samples), "collections": summary(gc_log.entries(t0, t0 + seconds))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if lab_missing():
        return 2
    facts = machine_facts()
    runs = []
    with bench_server("batchgen-gridlive-", gc_log=True) as server:
        gc_log = GcLog(server.data_dir / "gc.jsonl")
        for i in range(args.repeat):
            runs.append(one_run(server, gc_log))
            r = runs[-1]
            err(f"run {i + 1}: {r['seconds']:.3f} s, slowest GET /prompt {r['max_get_prompt_ms']:.1f} ms ({r['polls']} polls; "
                f"idle before {r['idle_max_ms']:.1f} ms); collections: {r['collections']}")
    secs = [r["seconds"] for r in runs]
    worst = [r["max_get_prompt_ms"] for r in runs]
    out(json.dumps({"date": facts["date"], "cpu": facts["cpu"], "extension_commit": facts["extension_commit"],
                    "load_avg_start": facts["load_avg_start"], "load_avg_end": load_average(), "command": command_line(),
                    "median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs), "max_get_prompt_ms": max(worst),
                    "median_max_get_prompt_ms": statistics.median(worst), "idle_max_ms": max(r["idle_max_ms"] for r in runs),
                    "runs": runs}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
