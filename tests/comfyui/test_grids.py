"""Labelled grids on a real ComfyUI: a 3×3 text-card grid → 9 jobs → a contact sheet PNG of the layout's pixel size,
listed on the batch and downloadable through /view; cancelled and failed cells marked; a retry makes it again."""

from __future__ import annotations

import shutil
import time
import urllib.request
from pathlib import Path

from batchgen_ext.batchgen.sheets_render import MARK, Page, layout
from PIL import Image

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_WINDOW": "1"}
WIDTHS = {"param": "width", "values": [640, 768, 896], "labels": ["窄 640", "中 768", "宽 896"], "name": "宽度 width"}
TEXTS = {"param": "prompt", "values": ["你好", "世界", "こんにちは"], "labels": ["问候", "世界", "日本語"], "name": "文字 text"}
KEEP = "/tmp/batchgen-grids-example"  # the example sheet is copied here (outside git) for people to look at


def sheet_events(comfy, batch_id: str) -> list[dict]:
    events = comfy.get(f"{API}/events?batch={batch_id}&limit=1000")["events"]
    return [e for e in events if e["type"] == "batchgen.contact_sheet"]


def wait_sheets(comfy, batch_id: str, count: int, timeout: float = 60.0) -> dict:
    """The batch once its ``count``-th contact sheet event is logged."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(sheet_events(comfy, batch_id)) >= count:
            return comfy.get(f"{API}/batches/{batch_id}")
        time.sleep(0.2)
    raise TimeoutError(f"no contact sheet #{count} for batch {batch_id}")


def download(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def marked(path, geo, col: int, row: int) -> bool:
    """The red cross of a failed/cancelled cell: most pixels on the cell's diagonal are the mark colour."""
    x0, y0, _, _ = geo.cell_box(col, row)
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        diagonal = [rgb.getpixel((x0 + d, y0 + d)) for d in range(4, geo.cell - 4, 7)]
    near = [p for p in diagonal if all(abs(a - b) < 40 for a, b in zip(p, MARK, strict=True))]
    return len(near) > 0.6 * len(diagonal)


def check_sheet(comfy, batch: dict, x: dict, y: dict) -> tuple[object, object]:
    """The one sheet of the batch: listed, on disk with the layout's size, downloadable through /view; (path, geometry)."""
    (sheet,) = batch["contact_sheets"]
    sub = f"{batch['output_subfolder']}/_contact_sheets"
    assert (sheet["page"], sheet["filename"], sheet["subfolder"], sheet["type"]) == (1, "sheet-001.png", sub, "output")
    path = comfy.output_dir / sub / "sheet-001.png"
    geo = layout(Page("", x["name"], x["labels"], y["name"], y["labels"]))
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (geo.width, geo.height) == (sheet["width"], sheet["height"])
    status, kind, data = download(sheet["url"])
    assert status == 200 and kind.startswith("image/png") and data == path.read_bytes()
    return path, geo


def test_a_3x3_text_card_grid_makes_a_labelled_sheet_with_cancelled_cells_marked_then_remade(comfy):
    body = {"template": "text-card", "name": "网格", "axes": [WIDTHS, TEXTS], "params": {"height": 640},
            "seed": {"policy": "increment", "base": 0}}
    status, preview = comfy.post(f"{API}/batches/preview", body)
    assert status == 200 and preview["total"] == 9 and preview["problems"] == []
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201 and batch["total"] == 9, batch
    comfy.post(f"{API}/batches/{batch['id']}/pause", {})  # one job a time (window 1): most cells are still pending
    deadline = time.time() + 60
    while (b := comfy.get(f"{API}/batches/{batch['id']}"))["counts"]["running"] + b["counts"]["queued"] and time.time() < deadline:
        time.sleep(0.1)
    status, cancelled = comfy.post(f"{API}/batches/{batch['id']}/cancel", {})
    assert status == 200, cancelled
    done = comfy.wait_batch(batch["id"])
    n_ok = done["counts"]["succeeded"]
    assert done["counts"]["cancelled"] == 9 - n_ok and n_ok < 9, done
    got = wait_sheets(comfy, batch["id"], 1)
    path, geo = check_sheet(comfy, got, WIDTHS, TEXTS)
    jobs = comfy.all_jobs(batch["id"])
    for job in jobs:
        cell = (job["coords"]["axes"]["width"], job["coords"]["axes"]["prompt"])
        assert marked(path, geo, *cell) == (job["status"] == "cancelled"), (cell, job["status"])

    status, retried = comfy.post(f"{API}/batches/{batch['id']}/retry", {})
    assert status == 200 and retried["retried"] == 9 - n_ok
    assert comfy.wait_batch(batch["id"])["status"] == "succeeded"
    final = wait_sheets(comfy, batch["id"], 2)
    path, geo = check_sheet(comfy, final, WIDTHS, TEXTS)
    assert not any(marked(path, geo, c, r) for c in range(3) for r in range(3))
    Path(KEEP).mkdir(parents=True, exist_ok=True)
    shutil.copy(path, Path(KEEP) / f"text-card-grid-{comfy.url.rsplit(':', 1)[-1]}.png")


def fail_template() -> dict:
    """StubImage → TestAsyncTimeout → SaveImage (ComfyUI's test nodes): a job fails when op takes longer than 0.3 s."""
    return {
        "workflow": {
            "1": {"class_type": "StubImage", "inputs": {"content": "WHITE", "height": 64, "width": 64, "batch_size": 1}},
            "2": {"class_type": "TestAsyncTimeout", "inputs": {"value": ["1", 0], "timeout": 0.3, "operation_time": 0.1}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "grid"}},
        },
        "bindings": {"content": {"slots": ["1.content"], "type": "text"}, "op": "2.operation_time"},
        "autodetect": False,
    }


def test_failed_cells_are_marked_and_a_retry_that_fails_again_remakes_the_sheet(comfy):
    x = {"param": "op", "values": [0.1, 0.15, 1.0], "labels": ["快", "稍慢", "超时 timeout"], "name": "operation_time"}
    y = {"param": "content", "values": ["WHITE", "BLACK", "NOISE"], "labels": ["白", "黑", "噪声"], "name": "内容"}
    body = {"template": fail_template(), "name": "timeout grid", "axes": [x, y], "max_attempts": 1}
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201, batch
    done = comfy.wait_batch(batch["id"])
    assert done["status"] == "partial" and done["counts"]["failed"] == 3, done
    path, geo = check_sheet(comfy, wait_sheets(comfy, batch["id"], 1), x, y)
    for col in range(3):
        for row in range(3):
            assert marked(path, geo, col, row) == (col == 2), (col, row)
    status, retried = comfy.post(f"{API}/batches/{batch['id']}/retry", {})
    assert status == 200 and retried["retried"] == 3
    assert comfy.wait_batch(batch["id"])["status"] == "partial"
    again = wait_sheets(comfy, batch["id"], 2)
    path, geo = check_sheet(comfy, again, x, y)
    assert all(marked(path, geo, 2, row) for row in range(3))  # made again for the second finish, still marked
    Path(KEEP).mkdir(parents=True, exist_ok=True)
    shutil.copy(path, Path(KEEP) / f"failed-cells-{comfy.url.rsplit(':', 1)[-1]}.png")
