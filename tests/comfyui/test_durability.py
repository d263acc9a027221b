"""Issue 3: kill -9 ComfyUI at random moments; every accepted job ends exactly once."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_WINDOW": "2"}
TRIALS = int(os.environ.get("BATCHGEN_KILL_TRIALS", "20"))
SLEEP_SECONDS = 0.2


def sleep_template(seconds: float) -> dict:
    """StubImage → TestSleep → SaveImage (ComfyUI's own test nodes): a job that takes time, like a GPU job."""
    return {
        "workflow": {
            "1": {"class_type": "StubImage", "inputs": {"content": "NOISE", "height": 16, "width": 16, "batch_size": 1}},
            "2": {"class_type": "TestSleep", "inputs": {"value": ["1", 0], "seconds": seconds}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "kill"}},
        },
        "bindings": {"noise": {"slots": ["1.content"], "type": "text"}, "seconds": "2.seconds"},
    }


def sleep_jobs(n: int, seconds: float, start: int = 0) -> list[dict]:
    """n jobs with slightly different sleep times: ComfyUI's cache would skip identical prompts.

    Each job sleeps ``seconds`` plus (start + i) / 100,000 s: keep ``start`` small (990 adds 0.01 s; 990,000 adds 9.9 s).
    """
    return [{"seconds": round(seconds + (start + i) / 100_000, 5)} for i in range(n)]


def post_quietly(comfy, body: dict, results: list[str]) -> None:
    """POST a batch; the kill may cut the connection, which is the point."""
    try:
        results.append(str(comfy.request("POST", f"{API}/batches", body)[0]))
    except OSError as exc:
        results.append(type(exc).__name__)


def db_rows(comfy) -> list[sqlite3.Row]:
    conn = sqlite3.connect(comfy.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT batch_id, idx, status, attempts FROM jobs").fetchall()
    finally:
        conn.close()


def db_batches(comfy) -> dict[str, int]:
    conn = sqlite3.connect(comfy.db_path)
    try:
        return dict(conn.execute("SELECT id, total FROM batches").fetchall())
    finally:
        conn.close()


def test_kill9_at_random_moments_loses_nothing_and_reruns_at_most_once(comfy):
    rng = random.Random(int(os.environ.get("BATCHGEN_KILL_SEED", "20261128")))
    total = max(60, TRIALS * 6)
    status, batch = comfy.post(f"{API}/batches", {"name": "kill test", "template": sleep_template(SLEEP_SECONDS),
                                                  "jobs": sleep_jobs(total, SLEEP_SECONDS)})
    assert status == 201, batch
    side_batches: list[str] = []
    recoveries: list[float] = []
    duplicates = 0
    for trial in range(TRIALS):
        time.sleep(rng.uniform(0.05, 1.2))
        poster = None
        if trial % 5 == 4:
            # Kill while a big batch is being accepted: it must be all there or not at all.
            body = {"name": f"side {trial}", "priority": -5, "template": sleep_template(0.0), "jobs": sleep_jobs(3000, 0.0, 1000 * trial)}
            poster = threading.Thread(target=post_quietly, args=(comfy, body, side_batches))
            poster.start()
            time.sleep(rng.uniform(0.0, 0.15))
        comfy.stop(kill=True)
        if poster:
            poster.join(timeout=30)
        rows = db_rows(comfy)
        keys = Counter((r["batch_id"], r["idx"]) for r in rows)
        duplicates += sum(n - 1 for n in keys.values())
        assert max(keys.values()) == 1, "a job row was duplicated"
        for batch_id, batch_total in db_batches(comfy).items():
            assert sum(1 for r in rows if r["batch_id"] == batch_id) == batch_total, "a batch was half-inserted"
        started = time.time()
        comfy.start()
        # Feeding resumes by itself: some job of ours reaches ComfyUI's queue again.
        deadline = time.time() + 30
        while time.time() < deadline:
            if comfy.get(f"{API}/health")["dispatcher"]["jobs_fed"] > 0 or comfy.get(f"{API}/batches/{batch['id']}")["status"] != "running":
                break
            time.sleep(0.05)
        recoveries.append(time.time() - started)

    # Side batches accepted in the meantime: stop them, they are not part of the invariant below.
    for side in comfy.get(f"{API}/batches?limit=100")["batches"]:
        if side["id"] != batch["id"] and side["status"] not in ("succeeded", "partial", "failed", "cancelled"):
            comfy.post(f"{API}/batches/{side['id']}/cancel", {})
    done = comfy.wait_batch(batch["id"], timeout=600)
    jobs = comfy.all_jobs(batch["id"])

    assert done["counts"]["succeeded"] == total, [(j["idx"], j["attempts"], j["error"]) for j in jobs if j["status"] != "succeeded"]
    assert sorted(j["idx"] for j in jobs) == list(range(total))  # 0 duplicated
    folder = comfy.output_dir / done["output_subfolder"]
    files = sorted(p.name for p in folder.glob("*.png"))
    per_job = Counter(name.split("_")[0].split("-")[0] for name in files)
    # An attempt whose image was written is never run again: one image per job.
    assert all(per_job[f"{j['idx']:05d}"] == 1 for j in jobs), [k for k, v in per_job.items() if v != 1]
    for job in jobs:
        (out,) = job["outputs"]
        assert out["filename"] in files
    reruns = sum(j["attempts"] - 1 for j in jobs)
    # At most the window (running + one queued) goes round again per kill.
    assert reruns <= TRIALS * 2, (reruns, TRIALS)
    assert max(recoveries) < 60
    report = os.environ.get("BATCHGEN_KILL_REPORT")
    if report:
        Path(report).write_text(json.dumps({
            "trials": TRIALS, "jobs": total, "lost": total - done["counts"]["succeeded"], "duplicate_rows": duplicates,
            "attempts_over_one": reruns, "jobs_rerun": sum(1 for j in jobs if j["attempts"] > 1),
            "side_batch_posts": side_batches, "restart_to_feeding_s": recoveries,
        }, indent=1))
