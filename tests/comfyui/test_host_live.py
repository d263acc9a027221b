"""The adapter in a live ComfyUI: per-job progress on the websocket, history trimming (issue 6 points 7 and 10)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

API = "/batchgen/v1"
HISTORY_KEEP = 5
COMFY_ENV = {"BATCHGEN_HISTORY_KEEP": str(HISTORY_KEEP), "BATCHGEN_MAX_JOBS": "1000"}

SLEEP_WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 32, "batch_size": 1, "color": 0}},
    "2": {"class_type": "TestSleep", "inputs": {"value": ["1", 0], "seconds": 1.5}},  # ComfyUI's test node; reports ProgressBar steps
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
}


async def _watch(comfy, body: dict, timeout: float = 120.0) -> tuple[dict, list[tuple[float, dict]], list[str]]:
    """Post a batch while listening on /ws; (batch, [(arrival, batchgen.progress data)], other event types seen)."""
    progress: list[tuple[float, dict]] = []
    others: list[str] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{comfy.url}/ws?clientId=progress-watcher") as ws:
            status, batch = await asyncio.to_thread(comfy.post, f"{API}/batches", body)
            assert status == 201, batch
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    msg = await ws.receive(timeout=1.0)
                except asyncio.TimeoutError:
                    msg = None
                if msg is not None and msg.type == aiohttp.WSMsgType.TEXT:
                    event = json.loads(msg.data)
                    if event["type"] == "batchgen.progress":
                        progress.append((time.monotonic(), event["data"]))
                    else:
                        others.append(event["type"])
                    if event["type"] == "batchgen.batch" and event["data"].get("id") == batch["id"] \
                            and event["data"].get("status") in ("succeeded", "failed", "partial", "cancelled"):
                        break
    return batch, progress, others


def test_running_jobs_report_throttled_progress_on_the_websocket(comfy):
    body = {"name": "progress", "template": {"workflow": SLEEP_WORKFLOW, "bindings": {"color": "1.color"}},
            "jobs": [{"color": 1}, {"color": 2}]}
    batch, progress, others = asyncio.run(_watch(comfy, body))
    done = comfy.wait_batch(batch["id"])
    assert done["counts"]["succeeded"] == 2, done
    jobs = {j["id"]: j for j in comfy.all_jobs(batch["id"])}
    assert "progress" not in others  # ComfyUI's own progress of our prompts reaches no socket
    by_job: dict[int, list[tuple[float, dict]]] = {}
    for arrived, data in progress:
        assert set(data) == {"job_id", "batch_id", "prompt_id", "node", "value", "max"}
        assert data["batch_id"] == batch["id"] and data["job_id"] in jobs
        assert data["prompt_id"] == jobs[data["job_id"]]["prompt_id"] and data["node"] == "2"
        by_job.setdefault(data["job_id"], []).append((arrived, data))
    assert set(by_job) == set(jobs), by_job.keys()
    for events in by_job.values():
        values = [d["value"] for _, d in events]
        assert values == sorted(values) and events[-1][1]["value"] == events[-1][1]["max"]  # the last one of the node
        # TestSleep reports ~100 steps per second for 1.5 s; relayed: at most 4 per second, plus the final one.
        assert 3 <= len(events) <= 1.5 * 4 + 2, len(events)
        span = events[-2][0] - events[0][0] if len(events) > 2 else 1.0
        assert (len(events) - 2) / max(span, 1e-3) <= 6, [round(t - events[0][0], 3) for t, _ in events]


def _ours(history: dict) -> list[str]:
    return [pid for pid, entry in history.items() if str(entry["prompt"][3].get("client_id", "")).startswith("batchgen-")]


def test_comfyui_history_keeps_only_the_most_recent_of_ours_and_every_native_prompt(comfy):
    status, batch = comfy.post(f"{API}/batches", {"name": "history", "template": "text-card",
                                                  "prompts": [f"h{i}" for i in range(60)], "params": {"width": 64, "height": 64}})
    assert status == 201, batch
    native = {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 7}},
                         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "native"}}}}
    status, queued = comfy.post("/prompt", native)
    assert status == 200, queued
    done = comfy.wait_batch(batch["id"], timeout=300)
    assert done["counts"]["succeeded"] == 60, done
    jobs = comfy.all_jobs(batch["id"])
    assert all(j["status"] == "succeeded" and j["outputs"] for j in jobs)
    history = comfy.get("/history")
    ours = _ours(history)
    assert 1 <= len(ours) <= HISTORY_KEEP, len(ours)
    latest = {j["prompt_id"] for j in sorted(jobs, key=lambda j: j["finished_at"])[-HISTORY_KEEP - 2:]}
    assert set(ours) <= latest  # the ones kept are the most recent
    assert queued["prompt_id"] in history and history[queued["prompt_id"]]["status"]["status_str"] == "success"
    # Our own records and files still have every job.
    assert len(list((comfy.output_dir / done["output_subfolder"]).glob("*.png"))) == 60
