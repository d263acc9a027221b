#!/usr/bin/env python3
"""The preview of a 100,000-job labelled grid on a real ComfyUI, with ComfyUI's own GET /prompt timed meanwhile.

Starts a throw-away ComfyUI with this extension (tests/comfyui/harness.py; needs the comfyui-lab env), then per run:
a thread polls GET /prompt every 5 ms while POST /batchgen/v1/batches/preview expands and checks 100 labelled texts ×
range 64..1063 (100,000 jobs). Reports the preview's time and the slowest GET /prompt answered meanwhile.

    eval "$(/work/shared/tools/comfyui-lab env)"; .venv/bin/python bench/grid_live.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _benchutil import err, load_average, out  # noqa: E402

from tests.comfyui.harness import new_server  # noqa: E402

BODY = {"template": "text-card", "seed": {"policy": "increment", "base": 0}, "axes": [
    {"param": "prompt", "values": [f"商品 {i} 号" for i in range(100)], "labels": [f"第{i}号" for i in range(100)], "name": "商品"},
    {"param": "width", "range": "64..1063", "name": "宽度"}]}


def one_run(url: str) -> dict:
    """Preview once while GET /prompt is polled; the preview's seconds and the slowest poll."""
    polls: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            with urllib.request.urlopen(url + "/prompt", timeout=30) as resp:
                resp.read()
            polls.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.005)

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    before = len(polls)
    req = urllib.request.Request(url + "/batchgen/v1/batches/preview", json.dumps(BODY).encode(), {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        data = json.loads(resp.read())
    seconds = time.perf_counter() - t0
    time.sleep(0.2)
    stop.set()
    thread.join()
    during = polls[before:]
    assert data["total"] == 100_000 and not data["problems"], data["problems"]
    return {"seconds": seconds, "max_get_prompt_ms": max(during), "polls": len(during)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = new_server(Path(tempfile.mkdtemp(prefix="batchgen-gridlive-")) / "comfy")
    server.start()
    try:
        load_start = load_average()
        runs = []
        for i in range(args.repeat):
            runs.append(one_run(server.url))
            err(f"run {i + 1}: {runs[-1]['seconds']:.3f} s, slowest GET /prompt {runs[-1]['max_get_prompt_ms']:.1f} ms "
                f"({runs[-1]['polls']} polls)")
    finally:
        server.stop()
    secs = sorted(r["seconds"] for r in runs)
    worst = sorted(r["max_get_prompt_ms"] for r in runs)
    out(json.dumps({"load_avg_start": load_start, "load_avg_end": load_average(), "median_s": secs[len(secs) // 2],
                    "min_s": secs[0], "max_s": secs[-1], "max_get_prompt_ms": worst[-1], "median_max_get_prompt_ms": worst[len(worst) // 2]}))


if __name__ == "__main__":
    main()
