"""Paced dispatching of trivial jobs (deeper window, outcomes committed together) under kill -9 on a real ComfyUI."""

from __future__ import annotations

import random
import time
from collections import Counter

API = "/batchgen/v1"
COMFY_ENV: dict[str, str] = {}  # the default window (4), free to grow (BATCHGEN_WINDOW_MAX 32)
TOTAL = 200
KILLS = 1


def trivial_template() -> dict:
    """EmptyImage → SaveImage: a job of a few milliseconds, so pacing engages."""
    return {
        "workflow": {
            "1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 0}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "paced"}},
        },
        "bindings": {"color": "1.color"},
    }


def _wait_paced(comfy, batch_id: str, timeout: float = 30.0) -> bool:
    """True once the dispatcher runs with a grown window (False if the batch ended first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if comfy.get(f"{API}/health")["dispatcher"]["window_now"] > 4:
            return True
        # A new batch is "pending" until its first job is fed: only a batch that ended stops the wait.
        if comfy.get(f"{API}/batches/{batch_id}")["status"] not in ("pending", "running"):
            return False
        time.sleep(0.01)
    return False


def test_kill9_while_paced_loses_nothing_and_writes_each_image_once(comfy):
    rng = random.Random(20261201)
    status, batch = comfy.post(f"{API}/batches", {"name": "paced kill", "template": trivial_template(),
                                                  "jobs": [{"color": 1000 + i} for i in range(TOTAL)]})
    assert status == 201, batch
    paced = 0
    for _ in range(KILLS):
        if not _wait_paced(comfy, batch["id"]):
            break
        paced += 1
        time.sleep(rng.uniform(0.0, 0.05))  # somewhere inside a pause or a step
        comfy.stop(kill=True)
        comfy.start()
    assert paced >= 1, "the window never grew: pacing was not exercised"
    done = comfy.wait_batch(batch["id"], timeout=300)
    jobs = comfy.all_jobs(batch["id"])
    assert done["counts"]["succeeded"] == TOTAL, [(j["idx"], j["status"], j["error"]) for j in jobs if j["status"] != "succeeded"]
    assert sorted(j["idx"] for j in jobs) == list(range(TOTAL))
    folder = comfy.output_dir / done["output_subfolder"]
    per_job = Counter(p.name.split("_")[0].split("-")[0] for p in folder.glob("*.png"))
    assert all(per_job[f"{j['idx']:05d}"] == 1 for j in jobs), [k for k, v in per_job.items() if v != 1]
    # What finished inside a pause is recovered from its file; only what was running at a kill goes round again.
    reruns = sum(j["attempts"] - 1 for j in jobs)
    assert reruns <= paced * 2, (reruns, paced)
