"""Issue 3 on a real ComfyUI: pause/resume, cancel, priority, retries, coexistence, failure responses."""

from __future__ import annotations

import itertools
import socket
import sqlite3
import threading
import time

from .test_durability import sleep_jobs, sleep_template

API = "/batchgen/v1"
_SERIAL = itertools.count(1)
COMFY_ENV = {"BATCHGEN_WINDOW": "2"}


def submit(comfy, name: str, n: int, seconds: float = 0.3, **extra) -> dict:
    status, batch = comfy.post(f"{API}/batches", {"name": name, "template": sleep_template(seconds),
                                                  "jobs": sleep_jobs(n, seconds, next(_SERIAL) * 1000), **extra})
    assert status == 201, batch
    return batch


def ours_in_native_queue(comfy, batch_id: str) -> int:
    queue = comfy.get("/queue")
    items = queue["queue_running"] + queue["queue_pending"]
    return sum(1 for item in items if (item[3] or {}).get("client_id") == f"batchgen-{batch_id}")


def settled(comfy, batch_id: str) -> bool:
    """True when none of the batch's jobs is queued or running in the store."""
    counts = comfy.get(f"{API}/batches/{batch_id}")["counts"]
    return counts["queued"] == 0 and counts["running"] == 0


def wait_until(predicate, timeout: float = 60.0, poll: float = 0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("condition not met in time")


def test_pause_stops_feeding_and_resume_finishes(comfy):
    batch = submit(comfy, "pause me", 12)
    wait_until(lambda: comfy.get(f"{API}/batches/{batch['id']}")["counts"]["succeeded"] >= 2)
    status, paused = comfy.post(f"{API}/batches/{batch['id']}/pause", {})
    assert status == 200 and paused["status"] == "paused"
    # A prompt leaves ComfyUI's queue a moment before its outcome is committed: wait for both, then freeze.
    wait_until(lambda: ours_in_native_queue(comfy, batch["id"]) == 0 and settled(comfy, batch["id"]), timeout=10)
    frozen = comfy.get(f"{API}/batches/{batch['id']}")["counts"]
    time.sleep(1.5)
    assert comfy.get(f"{API}/batches/{batch['id']}")["counts"] == frozen  # nothing new was fed
    assert frozen["pending"] > 0 and frozen["queued"] == 0 and frozen["running"] == 0
    status, resumed = comfy.post(f"{API}/batches/{batch['id']}/resume", {})
    assert status == 200 and resumed["status"] in ("running", "pending")
    assert comfy.wait_batch(batch["id"])["counts"]["succeeded"] == 12


def test_cancel_removes_our_prompts_and_interrupts_our_running_one(comfy):
    batch = submit(comfy, "cancel me", 20, seconds=0.5)
    wait_until(lambda: comfy.get(f"{API}/batches/{batch['id']}")["counts"]["succeeded"] >= 1)
    status, cancelled = comfy.post(f"{API}/batches/{batch['id']}/cancel", {})
    assert status == 200
    done = comfy.wait_batch(batch["id"], timeout=30)
    assert done["status"] == "cancelled"
    assert done["counts"]["cancelled"] >= 17 and done["counts"]["succeeded"] + done["counts"]["cancelled"] == 20
    assert ours_in_native_queue(comfy, batch["id"]) == 0
    assert comfy.post(f"{API}/batches/{batch['id']}/cancel", {})[0] == 409  # already finished
    # Retry brings the cancelled jobs back and they run.
    status, retried = comfy.post(f"{API}/batches/{batch['id']}/retry", {})
    assert status == 200 and retried["retried"] == done["counts"]["cancelled"]
    assert comfy.wait_batch(batch["id"])["counts"]["succeeded"] == 20


def test_higher_priority_batch_runs_first(comfy):
    low = submit(comfy, "low", 10, seconds=0.3)
    high = submit(comfy, "high", 3, seconds=0.3, priority=5)
    high_done = comfy.wait_batch(high["id"])
    low_now = comfy.get(f"{API}/batches/{low['id']}")
    assert high_done["status"] == "succeeded"
    assert low_now["counts"]["succeeded"] <= 5, low_now["counts"]  # low waited for high
    comfy.wait_batch(low["id"])


def test_someone_else_clearing_the_queue_or_interrupting_loses_nothing(comfy):
    batch = submit(comfy, "shared queue", 16, seconds=0.4)
    wait_until(lambda: ours_in_native_queue(comfy, batch["id"]) >= 2)
    assert comfy.post("/queue", {"clear": True})[0] == 200        # the UI's "Clear queue"
    time.sleep(0.2)
    assert comfy.post("/interrupt", {})[0] == 200                 # the UI's global "Interrupt"
    time.sleep(0.5)
    assert comfy.post("/history", {"clear": True})[0] == 200      # the UI's "Clear history"
    done = comfy.wait_batch(batch["id"])
    assert done["status"] == "succeeded" and done["counts"]["succeeded"] == 16
    jobs = comfy.all_jobs(batch["id"])
    assert any(j["attempts"] > 1 for j in jobs)  # the victims were fed again


def test_a_failing_job_fails_alone_with_its_error(comfy):
    # Out-of-range values are refused at intake now; a file that exists but is no image fails only in the node.
    from PIL import Image

    for name, colour in (("good-1.png", "red"), ("good-2.png", "blue")):
        Image.new("RGB", (8, 8), colour).save(comfy.input_dir / name)
    (comfy.input_dir / "broken.png").write_bytes(b"this is not a PNG")
    template = {"workflow": {"1": {"class_type": "BatchGenInputImage", "inputs": {"name": "image", "value": "good-1.png"}},
                             "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bad"}}}}
    status, batch = comfy.post(f"{API}/batches", {"name": "one bad", "template": template,
                                                  "jobs": [{"image": "good-1.png"}, {"image": "broken.png"}, {"image": "good-2.png"}]})
    assert status == 201, batch
    done = comfy.wait_batch(batch["id"])
    assert done["status"] == "partial" and done["counts"] == {**done["counts"], "succeeded": 2, "failed": 1}
    bad = comfy.all_jobs(batch["id"])[1]
    assert bad["status"] == "failed" and bad["attempts"] == 1  # deterministic: not retried
    assert bad["error"]["node_id"] == "1" and bad["error"]["node_type"] == "BatchGenInputImage" and bad["error"]["exception_type"]
    status, body = comfy.post(f"{API}/jobs/{bad['id']}/retry", {})
    assert status == 200 and body["status"] == "pending"
    # The retried job fails the same way again; wait for it, so no later test inherits a running batch.
    again = comfy.wait_batch(batch["id"])
    assert again["status"] == "partial" and comfy.get(f"{API}/jobs/{bad['id']}")["attempts"] == 2


def test_idempotency_key_replays_from_concurrent_clients(comfy):
    body = {"name": "idem", "template": sleep_template(0.0), "jobs": sleep_jobs(3, 0.0, 7770)}
    results: list[tuple[int, str]] = []

    def post():
        status, resp = comfy.post(f"{API}/batches", body, headers={"Idempotency-Key": "client-7f3a"})
        results.append((status, resp.get("id")))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({batch_id for _, batch_id in results}) == 1
    assert sorted(s for s, _ in results) == [200] * 7 + [201]
    status, resp = comfy.post(f"{API}/batches", {**body, "name": "other"}, headers={"Idempotency-Key": "client-7f3a"})
    assert status == 422 and resp["error"] == "idempotency_key_reused"
    assert comfy.wait_batch(results[0][1])["status"] == "succeeded"


def test_locked_database_gives_503_with_retry_after_then_recovers(comfy):
    before = comfy.get(f"{API}/batches?limit=1")["total"]
    holder = sqlite3.connect(comfy.db_path, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        body = {"template": sleep_template(0.0), "jobs": sleep_jobs(1, 0.0, 7780)}
        status, body, headers = comfy.request("POST", f"{API}/batches", body, timeout=30)
        assert status == 503 and body["error"] == "store_busy" and int(headers["Retry-After"]) > 0
        health = wait_until(lambda: (h := comfy.get(f"{API}/health"))["dispatcher"]["state"] == "store_unavailable" and h, timeout=20)
        assert health["status"] == "degraded"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert comfy.get(f"{API}/batches?limit=1")["total"] == before
    wait_until(lambda: comfy.get(f"{API}/health")["status"] == "ok", timeout=20)
    status, batch = comfy.post(f"{API}/batches", {"template": sleep_template(0.0), "jobs": sleep_jobs(1, 0.0, 7790)})
    assert status == 201
    assert comfy.wait_batch(batch["id"])["status"] == "succeeded"


def test_a_request_cut_off_mid_body_writes_nothing(comfy):
    before = comfy.get(f"{API}/batches?limit=1")["total"]
    with socket.create_connection(("127.0.0.1", comfy.port)) as sock:
        sock.sendall(b"POST /batchgen/v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5000\r\n\r\n{\"template\": \"text-card\", \"prompts\": [\"a\", ")
        time.sleep(0.3)
    time.sleep(0.5)
    assert comfy.get(f"{API}/batches?limit=1")["total"] == before


def test_unwritable_output_folder_fails_jobs_with_the_reason_and_the_batch_ends(comfy):
    blocker = comfy.output_dir / "batchgen"
    moved = comfy.output_dir / "batchgen.moved"
    if blocker.exists():
        blocker.rename(moved)
    blocker.write_text("not a folder")  # SaveImage cannot create its subfolder below a file
    try:
        status, batch = comfy.post(f"{API}/batches", {"name": "nowhere", "template": sleep_template(0.0),
                                                      "jobs": sleep_jobs(3, 0.0, 7800)})
        assert status == 201
        done = comfy.wait_batch(batch["id"], timeout=60)
        assert done["status"] == "failed" and done["counts"]["failed"] == 3
        error = comfy.all_jobs(batch["id"])[0]["error"]
        assert error["node_type"] == "SaveImage" and error["message"]
    finally:
        blocker.unlink()
        if moved.exists():
            moved.rename(blocker)
    status, retried = comfy.post(f"{API}/batches/{batch['id']}/retry", {})
    assert status == 200 and comfy.wait_batch(batch["id"])["status"] == "succeeded"
