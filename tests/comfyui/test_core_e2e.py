"""Issue 2 user stories on a real ComfyUI: text-card batches, queue window, bad input, restart."""

from __future__ import annotations

import json
import threading
import time

from PIL import Image

from .test_durability import sleep_jobs, sleep_template

API = "/batchgen/v1"
WINDOW = 2
COMFY_ENV = {"BATCHGEN_MAX_JOBS": "2000", "BATCHGEN_WINDOW": str(WINDOW)}

PROMPTS = ["A red fox in the snow", "你好，世界", "春眠不觉晓，处处闻啼鸟", "こんにちは 🌸", "안녕하세요 🙂",
           "Pizza 🍕 and 拉面 🍜", "🚀🌕✨", "Mixed: café, naïve, 東京タワー"]


def batch_count(comfy) -> int:
    return comfy.get(f"{API}/batches?limit=1")["total"]


class QueueWatcher(threading.Thread):
    """Polls ComfyUI's own /queue while a batch runs and remembers the deepest it saw."""

    def __init__(self, comfy):
        super().__init__(daemon=True)
        self.comfy, self.max_depth, self.samples, self.stop = comfy, 0, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            running, pending = self.comfy.native_queue()
            self.max_depth = max(self.max_depth, running + pending)
            self.samples += 1
            time.sleep(0.01)


def test_text_card_batch_of_120_cjk_prompts_gives_120_pngs_within_the_window(comfy):
    prompts = [f"{PROMPTS[i % len(PROMPTS)]} #{i}" for i in range(120)]
    watcher = QueueWatcher(comfy)
    watcher.start()
    status, batch = comfy.post(f"{API}/batches", {"name": "picture book 绘本", "template": "text-card", "prompts": prompts,
                                                  "params": {"width": 256, "height": 160}, "seed": {"policy": "increment", "base": 7}})
    assert status == 201, batch
    assert batch["total"] == 120 and batch["counts"]["pending"] + batch["counts"]["queued"] == 120
    done = comfy.wait_batch(batch["id"], timeout=600)
    watcher.stop.set()
    watcher.join()
    assert done["status"] == "succeeded", done
    assert done["counts"]["succeeded"] == 120 and done["done"] == 120
    assert watcher.samples > 10 and 1 <= watcher.max_depth <= WINDOW, (watcher.max_depth, watcher.samples)

    jobs = comfy.all_jobs(batch["id"])
    assert [j["idx"] for j in jobs] == list(range(120))
    assert [j["params"]["prompt"] for j in jobs] == prompts  # CJK and emoji kept exactly
    assert [j["seed"] for j in jobs] == list(range(7, 127))
    folder = comfy.output_dir / done["output_subfolder"]
    files = sorted(p.name for p in folder.glob("*.png"))
    assert len(files) == 120
    for job in jobs:
        assert job["status"] == "succeeded" and job["prompt_id"] and job["started_at"] and job["finished_at"]
        (out,) = job["outputs"]
        assert out["subfolder"] == done["output_subfolder"] and out["type"] == "output"
        assert out["url"].startswith(comfy.url + "/api/view?") and out["filename"] in files
    with Image.open(folder / jobs[1]["outputs"][0]["filename"]) as img:
        assert img.size == (256, 160) and img.format == "PNG"
        meta = json.loads(img.info["batchgen"])  # our job record travels inside the PNG
        assert meta["batch_id"] == batch["id"] and meta["idx"] == 1


def test_outputs_are_served_by_comfyui_view(comfy):
    status, batch = comfy.post(f"{API}/generate", {"template": "text-card", "prompt": "单张 one card ✅",
                                                   "params": {"width": 128, "height": 96}})
    assert status == 201, batch
    comfy.wait_batch(batch["id"])
    job = comfy.get(f"{API}/jobs/{batch['job']['id']}")
    status, body, headers = comfy.request("GET", job["outputs"][0]["path"])
    assert status == 200 and headers.get("Content-Type", "").startswith("image/png")


def test_bad_input_gets_json_errors_and_changes_nothing(comfy):
    before = batch_count(comfy)
    cases = [
        ("malformed json", comfy.request("POST", f"{API}/batches", raw=b'{"template": "text-card", "prompts": [',
                                         headers={"Content-Type": "application/json"}), 400),
        ("form content type", comfy.request("POST", f"{API}/batches", raw=b"template=text-card",
                                            headers={"Content-Type": "application/x-www-form-urlencoded"}), 415),
        ("unknown template", comfy.request("POST", f"{API}/batches", {"template": "nope", "prompts": ["x"]}), 404),
        ("unbound parameter", comfy.request("POST", f"{API}/batches", {"template": "text-card", "jobs": [{"colour": "red"}]}), 400),
        ("empty batch", comfy.request("POST", f"{API}/batches", {"template": "text-card", "prompts": []}), 422),
        ("oversized batch", comfy.request("POST", f"{API}/batches", {"template": "text-card", "prompts": ["x"] * 2001}), 413),
        ("unknown node", comfy.request("POST", f"{API}/batches", {"template": {"workflow": {
            "1": {"class_type": "NoSuchNode", "inputs": {}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}}}), 422),
    ]
    for name, (status, body, _headers), expected in cases:
        assert status == expected, (name, status, body)
        assert isinstance(body, dict) and body.get("error") and body.get("message"), (name, body)
        assert "Traceback" not in json.dumps(body), name
    assert cases[3][1][1]["details"]["param"] == "colour"
    assert cases[6][1][1]["error"] == "preflight_failed" and "NoSuchNode" in json.dumps(cases[6][1][1]["details"])
    assert batch_count(comfy) == before
    assert comfy.request("GET", f"{API}/batches/doesnotexist")[0] == 404
    assert comfy.request("GET", f"{API}/jobs/999999")[0] == 404


def test_other_clients_keep_using_comfyui_meanwhile(comfy):
    status, batch = comfy.post(f"{API}/batches", {"name": "shared", "template": "text-card",
                                                  "prompts": [f"job {i}" for i in range(30)], "params": {"width": 128, "height": 96}})
    assert status == 201
    native = {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 32, "batch_size": 1, "color": 4242}},
                         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "someone_else"}}}}
    status, queued = comfy.post("/prompt", native)
    assert status == 200, queued
    done = comfy.wait_batch(batch["id"])
    assert done["counts"]["succeeded"] == 30
    deadline = time.time() + 30
    while time.time() < deadline and not comfy.get(f"/history/{queued['prompt_id']}"):
        time.sleep(0.1)
    entry = comfy.get(f"/history/{queued['prompt_id']}")[queued["prompt_id"]]
    assert entry["status"]["status_str"] == "success"


def test_batch_survives_a_comfyui_restart_with_its_counts(comfy):
    # Its own batches: one finished, one paused half-way (pending jobs that must come back paused).
    status, finished = comfy.post(f"{API}/batches", {"name": "before restart", "template": "text-card",
                                                     "prompts": ["one", "二"], "params": {"width": 64, "height": 64}})
    assert status == 201, finished
    comfy.wait_batch(finished["id"])
    status, paused = comfy.post(f"{API}/batches", {"name": "paused over restart", "template": sleep_template(0.3),
                                                   "jobs": sleep_jobs(12, 0.3, 990)})
    assert status == 201, paused
    assert comfy.post(f"{API}/batches/{paused['id']}/pause", {})[0] == 200
    deadline = time.time() + 30
    while time.time() < deadline:  # what was already in ComfyUI's queue finishes; then the counts hold still
        counts = comfy.get(f"{API}/batches/{paused['id']}")["counts"]
        if counts["queued"] == 0 and counts["running"] == 0:
            break
        time.sleep(0.1)
    ours = (finished["id"], paused["id"])
    listed = {b["id"]: b for b in comfy.get(f"{API}/batches?limit=100")["batches"]}
    assert all(batch_id in listed for batch_id in ours)
    comfy.restart()
    after = {b["id"]: b for b in comfy.get(f"{API}/batches?limit=100")["batches"]}
    assert after.keys() == listed.keys()  # every batch survives, not only ours
    for batch_id in ours:
        assert after[batch_id]["counts"] == listed[batch_id]["counts"] and after[batch_id]["status"] == listed[batch_id]["status"]
    assert after[finished["id"]]["status"] == "succeeded" and after[paused["id"]]["status"] == "paused"
    assert after[paused["id"]]["counts"]["pending"] > 0
    health = comfy.get(f"{API}/health")
    assert health["status"] == "ok" and health["store"]["ready"] and health["host"]["version"]
    assert comfy.post(f"{API}/batches/{paused['id']}/resume", {})[0] == 200
    assert comfy.wait_batch(paused["id"])["counts"]["succeeded"] == 12
