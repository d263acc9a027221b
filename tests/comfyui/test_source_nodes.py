"""Wildcard Expand, Image Set, Prompts From File's columns, Contact Sheet and Save Image in a real ComfyUI, both ways.

Each graph is queued once with ComfyUI's own POST /prompt (what the Run button sends: a list run, one
queue item) and once as a BatchGen batch (one job per item, the list node replaced by the item); the
Save node's PNGs are read back with Pillow for their embedded job record.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from PIL import Image

from tests.comfyui.test_list_nodes import native_run

API = "/batchgen/v1"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "_artifacts"


def card(text_link: list, seed: int = 3, save: str = "BatchGenSaveImage", prefix: str = "nodes/x") -> dict:
    """Text Card fed by ``text_link`` → a saver."""
    return {
        "5": {"class_type": "BatchGenTextCard", "inputs": {"text": text_link, "width": 96, "height": 64, "seed": seed, "font_size": 0}},
        "9": {"class_type": save, "inputs": {"images": ["5", 0], "filename_prefix": prefix}},
    }


def png(comfy, entry: dict) -> Image.Image:
    img = Image.open(comfy.output_dir / entry["subfolder"] / entry["filename"])
    img.load()
    return img


def run_batch(comfy, workflow: dict, total: int) -> list[dict]:
    body = {"name": "source nodes", "template": {"workflow": workflow}}
    status, preview = comfy.post(f"{API}/batches/preview", body)
    assert status == 200 and preview["total"] == total and preview["problems"] == [], preview
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201 and batch["total"] == total, batch
    done = comfy.wait_batch(batch["id"], timeout=60)
    assert done["status"] == "succeeded", done
    return sorted(comfy.all_jobs(batch["id"]), key=lambda j: j["idx"])


def test_wildcard_expand_both_ways_and_the_save_node_embeds_the_job(comfy):
    wildcards = comfy.user_dir / "__batchgen" / "wildcards"
    wildcards.mkdir(parents=True, exist_ok=True)
    (wildcards / "animal.txt").write_text("猫\ndog 🐕\n", encoding="utf-8")
    node = {"class_type": "BatchGenWildcardExpand",
            "inputs": {"name": "prompt", "text": "a {red|blue} __animal__", "mode": "combinatorial", "count": 1, "seed": 0}}
    expected = ["a red 猫", "a red dog 🐕", "a blue 猫", "a blue dog 🐕"]
    entry = native_run(comfy, {"1": node, **card(["1", 0], prefix="native/wild")})
    images = entry["outputs"]["9"]["images"]
    assert len(images) == 4 and all(i["filename"].startswith("wild_") for i in images), images
    first = png(comfy, images[0])
    assert "batchgen" not in first.info and json.loads(first.info["prompt"])["1"]["class_type"] == "BatchGenWildcardExpand"
    jobs = run_batch(comfy, {"1": node, **card(["1", 0])}, 4)
    assert [j["params"]["prompt"] for j in jobs] == expected
    for job in jobs:
        [out] = job["outputs"]
        assert out["subfolder"].startswith("batchgen/") and out["filename"].startswith(f"{job['idx']:05d}_")  # named by batch and job
        img = png(comfy, out)
        record = json.loads(img.info["batchgen"])  # a tEXt chunk next to ComfyUI's prompt
        assert record == {"batch_id": job["batch_id"], "job_id": job["id"], "row": job["idx"],
                          "params": job["params"], "seed": job["params"]["seed"]}, record  # the card's seed is a bound parameter
        assert json.loads(img.info["prompt"])["1"]["inputs"]["value"] == job["params"]["prompt"]
    random_node = {"class_type": "BatchGenWildcardExpand",
                   "inputs": {"name": "prompt", "text": "{a|b|c|d|e|f} {1|2|3}", "mode": "random", "count": 3, "seed": 11}}
    native = native_run(comfy, {"1": random_node, **card(["1", 0], save="SaveImage", prefix="native/rand")})
    native_cards = [png(comfy, i).tobytes() for i in native["outputs"]["9"]["images"]]
    body = {"template": {"workflow": {"1": random_node, **card(["1", 0], save="SaveImage")}, "autodetect": False}}
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201 and batch["total"] == 3, batch
    assert comfy.wait_batch(batch["id"], timeout=60)["status"] == "succeeded"
    jobs = sorted(comfy.all_jobs(batch["id"]), key=lambda j: j["idx"])
    # The same seeded picks both ways: each job's card is pixel for pixel the native list run's card at that position.
    assert [png(comfy, j["outputs"][0]).tobytes() for j in jobs] == native_cards
    assert len({j["params"]["prompt"] for j in jobs}) >= 1 and all(len(j["params"]["prompt"]) == 3 for j in jobs)
    assert [j["coords"] for j in jobs] == [{"source": "jobs", "index": k, "wildcard": k} for k in range(3)]  # numbered like API variants


def test_image_set_both_ways_in_natural_order_through_image_invert(comfy):
    folder = comfy.input_dir / "nodeset"
    folder.mkdir(exist_ok=True)
    for name, shade in (("img10.png", 10), ("img2.png", 200), ("img1.png", 100)):
        Image.new("RGB", (40, 30), (shade, shade, shade)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    graph = {"1": {"class_type": "BatchGenImageSet", "inputs": {"name": "image", "folder": "nodeset"}},
             "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
             "9": {"class_type": "BatchGenSaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "native/set"}},
             "5": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 2], "width": 96, "height": 64, "seed": 1, "font_size": 0}},
             "10": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "native/setname"}}}
    entry = native_run(comfy, graph)
    shades = [png(comfy, i).getpixel((0, 0))[0] for i in entry["outputs"]["9"]["images"]]
    assert [round(v / 5) for v in shades] == [round((255 - s) / 5) for s in (100, 200, 10)]  # img1, img2, img10, inverted
    jobs = run_batch(comfy, graph, 3)
    assert [(j["params"]["image"], j["params"]["image_file"]) for j in jobs] == [
        ("nodeset/img1.png", "img1.png"), ("nodeset/img2.png", "img2.png"), ("nodeset/img10.png", "img10.png")]
    for job, shade in zip(jobs, (100, 200, 10), strict=True):
        [saved] = [o for o in job["outputs"] if o["node_id"] == "9"]
        img = png(comfy, saved)
        assert abs(img.getpixel((0, 0))[0] - (255 - shade)) <= 1
        assert json.loads(img.info["batchgen"])["params"]["image_file"] == job["params"]["image_file"]


def test_prompts_from_file_fills_named_columns_both_ways(comfy):
    folder = comfy.input_dir / "cols"
    folder.mkdir(exist_ok=True)
    (folder / "商品.csv").write_bytes("商品名,价格,颜色\r\n保温杯,39,红\r\n,5,蓝\r\n水杯,12,\r\n".encode("gbk"))
    node = {"class_type": "BatchGenPromptsFromFile",
            "inputs": {"name": "prompt", "file": "cols/商品.csv", "column": "商品名", "columns": "价格:price, 颜色"}}
    graph = {"1": node, **card(["1", 1], prefix="native/cols")}  # the card shows column_1 (the price)
    entry = native_run(comfy, graph)
    cards = [json.loads(png(comfy, i).info["prompt"]) for i in entry["outputs"]["9"]["images"]]
    assert len(cards) == 2
    jobs = run_batch(comfy, graph, 2)
    assert [{k: v for k, v in j["params"].items() if k != "seed"} for j in jobs] == [{"prompt": "保温杯", "price": "39", "prompt_2": "红"},
                                           {"prompt": "水杯", "price": "12", "prompt_2": ""}]
    for job in jobs:
        prompt = json.loads(png(comfy, job["outputs"][0]).info["prompt"])
        assert prompt["5"]["inputs"]["text"] == ["1_1", 0] and prompt["1_1"]["inputs"]["value"] == job["params"]["price"]


def test_contact_sheet_collects_a_list_run_into_one_grid_and_runs_per_job_as_a_batch(comfy):
    lines = ["狐狸 fox", "lighthouse 灯塔", "sea 海", "moon"]
    graph = {"1": {"class_type": "BatchGenPromptList", "inputs": {"name": "prompt", "text": "\n".join(lines)}},
             "5": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 0], "width": 96, "height": 64, "seed": 1, "font_size": 0}},
             "7": {"class_type": "BatchGenContactSheet",
                   "inputs": {"images": ["5", 0], "column_labels": "左 left\n右 right", "row_labels": "第一行\n第二行", "columns": 0,
                              "title": "四张卡片 four cards", "cell_size": 128}},
             "9": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "native/sheet"}}}
    entry = native_run(comfy, graph)
    [sheet] = entry["outputs"]["9"]["images"]  # ONE image for the whole list
    img = png(comfy, sheet)
    assert img.width > 2 * 128 and img.height > 2 * 128 and img.width < 3 * 128 + 400
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(comfy.output_dir / sheet["subfolder"] / sheet["filename"], ARTIFACTS / "node-contact-sheet.png")
    jobs = run_batch(comfy, graph, 4)
    sizes = {png(comfy, j["outputs"][0]).size for j in jobs}
    assert len(sizes) == 1 and math.prod(next(iter(sizes))) < math.prod(img.size)  # a 1-cell sheet per job


def test_the_example_workflows_run_as_templates_and_the_english_locale_matches_the_nodes(comfy):
    status, batch = comfy.post(f"{API}/batches", {"template": "wildcard-expand"})
    assert status == 201 and batch["total"] == 6, batch  # {red|blue|golden} × {fox|owl}
    assert comfy.wait_batch(batch["id"], timeout=60)["status"] == "succeeded"
    jobs = sorted(comfy.all_jobs(batch["id"]), key=lambda j: j["idx"])
    assert jobs[0]["params"]["prompt"] == "a red fox at dawn, 海边" and "batchgen" in png(comfy, jobs[0]["outputs"][0]).info
    info = comfy.get("/object_info")
    en = json.loads((ROOT / "locales" / "en" / "nodeDefs.json").read_text("utf-8"))
    ours = {k for k in info if k.startswith("BatchGen")}
    assert ours == set(en) and all(info[k]["category"] == "BatchGen" for k in ours)
    for node in ours:
        assert en[node]["display_name"] == info[node]["display_name"], node
        declared = {**info[node]["input"]["required"], **info[node]["input"].get("optional", {})}
        assert set(en[node]["inputs"]) == set(declared), node
        assert len(en[node].get("outputs", {})) == len(info[node]["output"]), node
