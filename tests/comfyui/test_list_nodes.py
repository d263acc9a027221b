"""Prompt List and Seed List inside a real ComfyUI, both ways: ComfyUI's own Run (one queue item, a list) and as a batch (one job per item)."""

from __future__ import annotations

import json
import time
import uuid

from PIL import Image

from tests.unit.test_listnodes import card_graph

API = "/batchgen/v1"
LINES = ["first 一", "second 二 🐉", "third 三"]
PROMPTS = {"class_type": "BatchGenPromptList", "inputs": {"name": "prompt", "text": "\n".join(LINES) + "\n\n"}}
SEEDS = {"class_type": "BatchGenSeedList", "inputs": {"name": "seed", "start": 40, "count": 3, "step": 5}}


def native_run(comfy, graph: dict) -> dict:
    """Queue with ComfyUI's own POST /prompt (what the Run button sends) and wait for its history entry."""
    prompt_id = str(uuid.uuid4())
    status, body = comfy.post("/prompt", {"prompt": graph, "client_id": "list-test", "prompt_id": prompt_id})
    assert status == 200, body
    deadline = time.time() + 120
    while time.time() < deadline:
        history = comfy.get(f"/history/{prompt_id}")
        if prompt_id in history and history[prompt_id].get("status", {}).get("completed"):
            return history[prompt_id]
        time.sleep(0.2)
    raise TimeoutError(prompt_id)


def card_text(comfy, entry: dict) -> str:
    with Image.open(comfy.output_dir / entry["subfolder"] / entry["filename"]) as img:
        return json.loads(img.info["prompt"])["1"]["inputs"]["value"]


def test_with_comfyuis_run_a_prompt_list_makes_every_card_in_one_queue_item(comfy):
    graph = card_graph(PROMPTS, SEEDS)
    graph["6"]["inputs"]["filename_prefix"] = "native/list"
    entry = native_run(comfy, graph)
    images = entry["outputs"]["6"]["images"]
    assert len(images) == 3, entry["outputs"]
    for image in images:
        with Image.open(comfy.output_dir / image["subfolder"] / image["filename"]) as img:
            assert img.size == (128, 96)


def test_as_a_batch_the_same_graph_is_one_job_per_item_with_the_items_as_values(comfy):
    body = {"name": "list nodes", "template": {"workflow": card_graph(PROMPTS, SEEDS)}}
    status, preview = comfy.post(f"{API}/batches/preview", body)
    assert status == 200 and preview["total"] == 3 and preview["problems"] == [], preview
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201 and batch["total"] == 3, batch
    done = comfy.wait_batch(batch["id"], timeout=120)
    assert done["status"] == "succeeded", done
    jobs = sorted(comfy.all_jobs(batch["id"]), key=lambda j: j["idx"])
    assert [(j["params"]["prompt"], j["params"]["seed"]) for j in jobs] == list(zip(LINES, [40, 45, 50], strict=True))
    for job, line in zip(jobs, LINES, strict=True):
        [out] = job["outputs"]
        assert card_text(comfy, out) == line  # the list node ran as a constant holding this job's item


def test_prompts_from_file_both_ways_on_a_gbk_csv_in_the_input_folder(comfy):
    folder = comfy.input_dir / "lists"
    folder.mkdir(exist_ok=True)
    (folder / "商品.csv").write_bytes("商品名,价格\r\n保温杯 红色,39\r\n\r\n水杯,12\r\n,5\r\n".encode("gbk"))
    node = {"class_type": "BatchGenPromptsFromFile", "inputs": {"name": "prompt", "file": "lists/商品.csv", "column": "商品名"}}
    graph = card_graph(node)
    graph["6"]["inputs"]["filename_prefix"] = "native/file"
    entry = native_run(comfy, graph)
    assert len(entry["outputs"]["6"]["images"]) == 2, entry["outputs"]  # one queue item, one card per non-empty cell
    status, batch = comfy.post(f"{API}/batches", {"template": {"workflow": card_graph(node)}})
    assert status == 201 and batch["total"] == 2, batch
    assert comfy.wait_batch(batch["id"], timeout=120)["status"] == "succeeded"
    jobs = sorted(comfy.all_jobs(batch["id"]), key=lambda j: j["idx"])
    assert [card_text(comfy, j["outputs"][0]) for j in jobs] == ["保温杯 红色", "水杯"]
    options = comfy.get("/object_info/BatchGenPromptsFromFile")["BatchGenPromptsFromFile"]["input"]["required"]["file"]
    assert "lists/商品.csv" in json.dumps(options, ensure_ascii=False)
