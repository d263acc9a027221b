"""Sources on a real ComfyUI: a GBK CSV from Chinese Excel, a 3×4 wildcard prompt and a wildcard file; preview counted first."""

from __future__ import annotations

import base64
import json

from PIL import Image

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_MAX_JOBS": "2000", "BATCHGEN_WINDOW": "4"}
ROWS = 200


def prompt_in_png(path) -> tuple[str, dict]:
    """The text the card was rendered from (ComfyUI's own prompt metadata) and our job record."""
    with Image.open(path) as img:
        assert img.format == "PNG"
        graph = json.loads(img.info["prompt"])
        return graph["1"]["inputs"]["value"], json.loads(img.info["batchgen"])


def preview_then_submit(comfy, body: dict) -> tuple[dict, dict]:
    status, preview = comfy.post(f"{API}/batches/preview?rows=1000", body)
    assert status == 200 and preview["problems"] == [], preview
    before = comfy.get(f"{API}/batches?limit=1")["total"]
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201, batch
    assert comfy.get(f"{API}/batches?limit=1")["total"] == before + 1, "the preview stored a batch"
    assert batch["total"] == preview["total"]
    return preview, batch


def test_a_gbk_csv_of_200_rows_makes_200_cards_with_the_right_prompts(comfy):
    texts = [f"第{i}号商品：保温杯「{i * 7 % 100}」, 红色" for i in range(ROWS)]
    csv_text = "商品名,宽\r\n" + "".join(f'"{t}",{96 + i % 3 * 32}\r\n' for i, t in enumerate(texts))
    data = csv_text.encode("gbk")
    body = {"name": "商品卡片", "template": "text-card", "seed": {"policy": "increment", "base": 0}, "params": {"height": 64},
            "table": {"data_base64": base64.b64encode(data).decode("ascii"), "columns": {"商品名": "prompt", "宽": "width"}}}
    preview, batch = preview_then_submit(comfy, body)
    assert preview["total"] == ROWS and len(preview["jobs"]) == ROWS
    done = comfy.wait_batch(batch["id"], timeout=900)
    assert done["status"] == "succeeded" and done["counts"]["succeeded"] == ROWS, done
    jobs = comfy.all_jobs(batch["id"])
    assert [{k: j[k] for k in ("idx", "params", "seed", "coords")} for j in jobs] == preview["jobs"]
    assert [j["coords"]["row"] for j in jobs] == list(range(2, ROWS + 2))
    folder = comfy.output_dir / done["output_subfolder"]
    assert len(list(folder.glob("*.png"))) == ROWS
    for i, job in enumerate(jobs):
        text, meta = prompt_in_png(folder / job["outputs"][0]["filename"])
        assert text == texts[i] and meta["idx"] == i
    with Image.open(folder / jobs[1]["outputs"][0]["filename"]) as img:
        assert img.size == (128, 64)


def test_a_3x4_wildcard_prompt_makes_12_jobs_with_the_expected_texts(comfy):
    body = {"template": "text-card", "prompts": ["{红色|green|🔵} {猫|dog|鸟|🐟}"], "wildcards": {"mode": "combinatorial"},
            "params": {"width": 96, "height": 64}, "seed": 5}
    preview, batch = preview_then_submit(comfy, body)
    expected = [f"{c} {a}" for c in ["红色", "green", "🔵"] for a in ["猫", "dog", "鸟", "🐟"]]
    assert [j["params"]["prompt"] for j in preview["jobs"]] == expected
    done = comfy.wait_batch(batch["id"], timeout=300)
    assert done["status"] == "succeeded" and done["total"] == 12, done
    folder = comfy.output_dir / done["output_subfolder"]
    jobs = comfy.all_jobs(batch["id"])
    assert [prompt_in_png(folder / j["outputs"][0]["filename"])[0] for j in jobs] == expected


def test_wildcard_files_are_read_from_the_system_user_directory(comfy):
    folder = comfy.user_dir / "__batchgen" / "wildcards"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "材质.txt").write_text("# materials\n陶瓷\nglass\n", encoding="utf-8")
    body = {"template": "text-card", "prompts": ["a __材质__ cup"], "wildcards": {}, "params": {"width": 96, "height": 64}}
    preview, batch = preview_then_submit(comfy, body)
    assert [j["params"]["prompt"] for j in preview["jobs"]] == ["a 陶瓷 cup", "a glass cup"]
    assert comfy.wait_batch(batch["id"], timeout=300)["status"] == "succeeded"
    status, body = comfy.post(f"{API}/batches", {"template": "text-card", "prompts": ["__../../comfy__"], "wildcards": {}})
    assert status == 400 and body["error"] == "wildcard_not_found", body
