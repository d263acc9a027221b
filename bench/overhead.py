"""Throughput of one batch versus the same prompts posted natively, on one fresh real ComfyUI.

Native: ../shared/tools/native_throughput.py (N prompts EmptyImage 64x64 in distinct colours →
PreviewImage through POST /prompt, 16 in flight; wall time from the first POST until all are in
/history). Batch: the same N prompts as ONE batch with an inline template through
POST /batchgen/v1/batches (wall time from the POST until the batch is `succeeded`, polled at the
same 50 ms). Runs alternate A B B A … and ComfyUI's temp folder is emptied before each run,
because PreviewImage lists that folder on every save and would slow later runs down.

    python bench/overhead.py [-n 500] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.comfyui.harness import comfy_env, new_server, skip_reason  # noqa: E402

NATIVE_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "native_throughput.py"
API = "/batchgen/v1"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_native(python: Path, url: str, n: int) -> dict:
    out = subprocess.run([str(python), str(NATIVE_TOOL), "--url", url, "-n", str(n), "--json"],
                         capture_output=True, text=True, check=True, timeout=600)
    result = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    assert result["success"] == n, result
    return {"kind": "native", "total_s": result["total_s"], "jobs_per_s": result["jobs_per_s"]}


def run_batch(server, n: int, colour_base: int) -> dict:
    template = {"workflow": {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
                             "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}},
                "bindings": {"color": "1.color"}}
    body = {"name": "overhead", "template": template, "jobs": [{"color": colour_base + i} for i in range(n)]}
    started = time.perf_counter()
    status, batch = server.post(f"{API}/batches", body)
    accepted = time.perf_counter()
    assert status == 201, batch
    while True:
        state = server.get(f"{API}/batches/{batch['id']}")
        if state["status"] in ("succeeded", "partial", "failed", "cancelled"):
            break
        time.sleep(0.05)
    total = time.perf_counter() - started
    assert state["counts"]["succeeded"] == n, state
    return {"kind": "batch", "total_s": round(total, 3), "jobs_per_s": round(n / total, 1), "accept_s": round(accepted - started, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="each round is native+batch, alternating order")
    parser.add_argument("--window", type=int, default=None, help="BATCHGEN_WINDOW for the server (default: the extension's, 2)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = comfy_env()
    if found is None:
        sys.stderr.write(skip_reason() + "\n")
        return 2
    env = {"BATCHGEN_WINDOW": str(args.window)} if args.window else {}
    server = new_server(Path(tempfile.mkdtemp(prefix="batchgen-overhead-")) / "comfy", env=env)
    server.start()
    runs = []
    colour = random.Random(os.getpid()).randrange(1 << 20, 1 << 23)
    try:
        version = server.get(f"{API}/health")["host"]["version"]
        run_batch(server, 3, colour)  # warm-up, like native_throughput's 3 warm-up prompts
        colour += 10
        order = []
        for r in range(args.rounds):
            order += ["native", "batch"] if r % 2 == 0 else ["batch", "native"]
        for kind in order:
            shutil.rmtree(server.temp_dir, ignore_errors=True)
            if kind == "native":
                runs.append(run_native(found[1], server.url, args.n))
            else:
                runs.append(run_batch(server, args.n, colour))
                colour += args.n
            if not args.json:
                sys.stdout.write(f"{runs[-1]['kind']:6s} {runs[-1]['total_s']:7.3f} s  {runs[-1]['jobs_per_s']:7.1f} jobs/s\n")
    finally:
        server.stop()
    native = statistics.median(r["total_s"] for r in runs if r["kind"] == "native")
    batch = statistics.median(r["total_s"] for r in runs if r["kind"] == "batch")
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "cores": os.cpu_count(), "comfyui": version,
        "n": args.n, "rounds": args.rounds, "window": args.window or 2, "runs": runs,
        "native_median_s": native, "batch_median_s": batch,
        "native_jobs_per_s": round(args.n / native, 1), "batch_jobs_per_s": round(args.n / batch, 1),
        "throughput_ratio": round(native / batch, 3),
        "command": "python bench/overhead.py " + " ".join(sys.argv[1:]),
    }
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        sys.stdout.write(f"ComfyUI {version}, {summary['cpu']} x{summary['cores']}: native median {native:.3f} s "
                         f"({summary['native_jobs_per_s']} jobs/s), batch median {batch:.3f} s ({summary['batch_jobs_per_s']} jobs/s), "
                         f"throughput ratio batch/native {summary['throughput_ratio']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
