"""Two real ComfyUI processes on ONE install (same user, input and output folders, different ports) share a batch.

Each job runs exactly once and both processes run jobs; then one process is kill -9ed mid-batch
and the other finishes every job (none twice, none lost) once the dead one's lease is up.
BATCHGEN_MULTIPROC_RUNS=10 repeats the whole scenario ten times on fresh servers.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter

import pytest

from .harness import ComfyServer, comfy_env, new_server

API = "/batchgen/v1"
RUNS = int(os.environ.get("BATCHGEN_MULTIPROC_RUNS", "1"))
COMFY_ENV = {"BATCHGEN_WINDOW": "2", "BATCHGEN_LEASE_SECONDS": "5"}
JOBS = 200


def sleep_template() -> dict:
    """StubImage → TestSleep → SaveImage (ComfyUI's test nodes, no model): a job that takes a little time."""
    return {
        "workflow": {
            "1": {"class_type": "StubImage", "inputs": {"content": "NOISE", "height": 8, "width": 8, "batch_size": 1}},
            "2": {"class_type": "TestSleep", "inputs": {"value": ["1", 0], "seconds": 0.01}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "mp"}},
        },
        "bindings": {"seconds": "2.seconds"},
    }


def jobs(n: int, seconds: float, salt: int) -> list[dict]:
    """Distinct sleep times: ComfyUI's cache would skip identical prompts (and write no file)."""
    return [{"seconds": round(seconds + (salt * n + i) / 1_000_000, 6)} for i in range(n)]


@pytest.fixture
def pair(tmp_path):
    """Two started ComfyUIs sharing user/input/output folders."""
    if comfy_env() is None:
        pytest.skip("no ComfyUI")
    shared = tmp_path / "shared"
    servers = [new_server(tmp_path / f"proc{i}", shared_data_dir=shared, env=dict(COMFY_ENV)) for i in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def db_jobs(server: ComfyServer, batch_id: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(server.db_path, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT idx, status, attempts, owner_id FROM jobs WHERE batch_id = ? ORDER BY idx", (batch_id,)).fetchall()
    finally:
        conn.close()


def files_per_job(server: ComfyServer, batch: dict) -> Counter:
    """idx -> image files on disk for that job (any attempt: 00012_00001_.png, 00012-r2_00001_.png)."""
    folder = server.output_dir / batch["output_subfolder"]
    return Counter(int(p.name.split("_")[0].split("-")[0]) for p in folder.glob("*.png"))


def post_batch(server: ComfyServer, name: str, seconds: float, salt: int) -> dict:
    status, batch = server.post(f"{API}/batches", {"name": name, "template": sleep_template(), "jobs": jobs(JOBS, seconds, salt)})
    assert status == 201, batch
    return batch


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.parametrize("run", range(RUNS))
def test_two_processes_share_a_batch_and_survive_a_kill9_of_one(pair, run):
    a, b = pair
    owners = {s.get(f"{API}/health")["dispatcher"]["owner_id"]: s for s in pair}
    assert len(owners) == 2, "each process needs its own owner identity"

    # 0. Settings live in the shared folder: an origin allowed through one process is answered by the other without a
    # restart; BATCHGEN_WINDOW pins both windows, so a feed-window change is refused (nothing saved).
    origin = "http://localhost:5299"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    assert b.request("OPTIONS", f"{API}/batches", headers=preflight)[0] == 403
    assert a.request("PATCH", f"{API}/settings", {"cors_origins": [origin]})[0] == 200
    wait_for(lambda: b.request("OPTIONS", f"{API}/batches", headers=preflight)[0] == 204, 5, "the other process to allow the origin")
    status, refused, _ = b.request("PATCH", f"{API}/settings", {"feed_window": 8})
    assert status == 409 and refused["error"] == "setting_pinned", refused
    assert a.get(f"{API}/settings")["feed_window"] == {**a.get(f"{API}/settings")["feed_window"], "value": 2, "pinned": True,
                                                        "saved": "auto"}

    # 1. One batch, two processes: every job exactly once, both did work.
    first = post_batch(a, f"shared {run}", 0.01, 2 * run)
    done = a.wait_batch(first["id"], timeout=300)
    rows = db_jobs(a, first["id"])
    assert done["counts"]["succeeded"] == JOBS, done["counts"]
    assert [r["idx"] for r in rows] == list(range(JOBS)) and all(r["attempts"] == 1 for r in rows)
    per_job = files_per_job(a, done)
    assert sorted(per_job) == list(range(JOBS)) and set(per_job.values()) == {1}, "a job ran twice or wrote no image"
    ran = Counter(r["owner_id"] for r in rows)
    assert set(ran) == set(owners) and min(ran.values()) > 0, f"one process did all the work: {ran}"
    assert b.get(f"{API}/batches/{first['id']}")["status"] == "succeeded", "the other process sees the same batch"

    # 2. kill -9 one of them mid-batch: the other finishes everything, nothing twice, nothing lost.
    second = post_batch(b, f"kill {run}", 0.05, 2 * run + 1)
    b_owner = b.get(f"{API}/health")["dispatcher"]["owner_id"]

    def both_busy() -> bool:
        rows = db_jobs(a, second["id"])
        busy = {r["owner_id"] for r in rows if r["status"] in ("queued", "running")}
        return b_owner in busy and sum(r["status"] == "succeeded" for r in rows) >= 30

    wait_for(both_busy, 120, "both processes to work on the second batch")
    held = [r["idx"] for r in db_jobs(a, second["id"]) if r["owner_id"] == b_owner and r["status"] in ("queued", "running")]
    b.stop(kill=True)
    killed_at = time.time()
    done = a.wait_batch(second["id"], timeout=300)
    took = time.time() - killed_at
    rows = db_jobs(a, second["id"])
    assert done["counts"]["succeeded"] == JOBS, (done["counts"], [dict(r) for r in rows if r["status"] != "succeeded"])
    per_job = files_per_job(a, done)
    assert sorted(per_job) == list(range(JOBS)), "a job was lost"
    assert set(per_job.values()) == {1}, f"a job ran twice: {[i for i, n in per_job.items() if n > 1]}"
    rerun = [r["idx"] for r in rows if r["attempts"] > 1]
    assert set(rerun) <= set(held), f"jobs re-run that the dead process did not hold: {set(rerun) - set(held)}"
    health = a.get(f"{API}/health")["dispatcher"]
    assert health["adopted"] >= 1 or not held, health
    report = os.environ.get("BATCHGEN_MULTIPROC_REPORT")
    if report:
        with open(report, "a") as fh:
            fh.write(f"run {run}: shared split {sorted(ran.values())}, held at kill {len(held)}, re-run {len(rerun)}, "
                     f"adopted {health['adopted']}, finish after kill {took:.1f}s\n")
