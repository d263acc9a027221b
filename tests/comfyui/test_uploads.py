"""Uploads on a real ComfyUI: 10 uploaded images through LoadImage → ImageInvert → SaveImage (pixels checked), a GBK CSV
uploaded and used by id, an input-subfolder image set, and hostile uploads refused with nothing written."""

from __future__ import annotations

from PIL import Image

from tests.uploadkit import HTML_AS_PNG, INVERT_TEMPLATE, colour, huge_png, multipart, png, zip_bomb

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_WINDOW": "4"}


def upload(comfy, data: bytes, filename: str, content_type: str = "application/octet-stream", **fields) -> tuple[int, dict]:
    body, ctype = multipart(data, filename, content_type, **fields)
    status, parsed, _ = comfy.request("POST", f"{API}/uploads", raw=body, headers={"Content-Type": ctype})
    return status, parsed


def stored(comfy) -> list[str]:
    roots = [comfy.user_dir / "__batchgen" / "uploads", comfy.input_dir / "batchgen"]
    return sorted(str(p) for r in roots if r.exists() for p in r.rglob("*") if p.is_file())


def preview_then_submit(comfy, body: dict, expected: int) -> dict:
    status, preview = comfy.post(f"{API}/batches/preview?rows=1000", body)
    assert status == 200 and preview["problems"] == [] and preview["total"] == expected, preview
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201 and batch["total"] == expected, batch
    jobs = comfy.all_jobs(batch["id"])
    assert [{k: j[k] for k in ("idx", "params", "seed", "coords")} for j in jobs] == preview["jobs"]
    return batch


def assert_inverted(output_path, i: int) -> None:
    with Image.open(output_path) as out:
        assert out.size == (32, 24)
        r, g, b = out.convert("RGB").getpixel((20, 10))
        expected = tuple(255 - c for c in colour(i))
        assert max(abs(r - expected[0]), abs(g - expected[1]), abs(b - expected[2])) <= 1, (i, (r, g, b), expected)
        assert out.convert("RGB").getpixel((2, 10)) in ((0, 0, 0), (1, 1, 1)), "the white stripe is black once inverted"


def test_ten_uploaded_images_become_ten_inverted_outputs(comfy):
    ids = []
    for i in range(10):
        status, up = upload(comfy, png(i), f"图{i}.png", "image/png")
        assert status == 201 and up["kind"] == "image", up
        assert (comfy.input_dir / up["image"]).is_file()
        ids.append(up["id"])
    batch = preview_then_submit(comfy, {"name": "invert", "template": INVERT_TEMPLATE, "images": {"upload": ids}}, 10)
    done = comfy.wait_batch(batch["id"], timeout=300)
    assert done["status"] == "succeeded" and done["counts"]["succeeded"] == 10, done
    jobs = comfy.all_jobs(batch["id"])
    assert [j["coords"]["file"] for j in jobs] == [f"图{i}.png" for i in range(10)]
    for i, job in enumerate(jobs):
        out = job["outputs"][0]
        assert_inverted(comfy.output_dir / out["subfolder"] / out["filename"], i)
    status, err = comfy.request("DELETE", f"{API}/uploads/{ids[0]}")[:2]
    assert status == 200, err  # the batch finished: its uploads may go


def test_an_input_subfolder_image_set_runs_in_natural_order(comfy):
    folder = comfy.input_dir / "sets" / "cats"
    folder.mkdir(parents=True)
    for i in (10, 2, 1):
        (folder / f"cat{i}.png").write_bytes(png(i))
    batch = preview_then_submit(comfy, {"template": INVERT_TEMPLATE, "images": {"folder": "sets/cats"}}, 3)
    done = comfy.wait_batch(batch["id"], timeout=120)
    assert done["status"] == "succeeded", done
    jobs = comfy.all_jobs(batch["id"])
    assert [j["params"]["image"] for j in jobs] == ["sets/cats/cat1.png", "sets/cats/cat2.png", "sets/cats/cat10.png"]
    for job, i in zip(jobs, (1, 2, 10), strict=True):
        out = job["outputs"][0]
        assert_inverted(comfy.output_dir / out["subfolder"] / out["filename"], i)
    status, err = comfy.post(f"{API}/batches", {"template": INVERT_TEMPLATE, "images": {"folder": "../"}})
    assert status == 400 and err["error"] == "invalid_images", err


def test_an_uploaded_gbk_csv_is_used_by_id(comfy):
    texts = [f"第{i}号商品「杯子」" for i in range(12)]
    data = ("商品名,宽\r\n" + "".join(f"{t},{96 + 32 * (i % 2)}\r\n" for i, t in enumerate(texts))).encode("gbk")
    status, up = upload(comfy, data, "商品.csv", "text/csv")
    assert status == 201 and up["rows"] == 12 and up["columns"] == ["商品名", "宽"], up
    body = {"template": "text-card", "table": {"upload": up["id"], "columns": {"商品名": "prompt", "宽": "width"}},
            "params": {"height": 64}, "seed": 1}
    batch = preview_then_submit(comfy, body, 12)
    done = comfy.wait_batch(batch["id"], timeout=300)
    assert done["status"] == "succeeded", done
    jobs = comfy.all_jobs(batch["id"])
    assert [j["params"]["prompt"] for j in jobs] == texts and [j["params"]["width"] for j in jobs[:2]] == [96, 128]
    with Image.open(comfy.output_dir / jobs[1]["outputs"][0]["subfolder"] / jobs[1]["outputs"][0]["filename"]) as img:
        assert img.size == (128, 64)


def test_hostile_uploads_are_refused_and_write_nothing(comfy):
    before = stored(comfy)
    cases = [(HTML_AS_PNG, "photo.png", "image/png", 415), (huge_png(), "bomb.png", "image/png", 413),
             (zip_bomb(40), "sheet.xlsx", "application/octet-stream", 413), (png(), "../../evil.png", "image/png", 400),
             (png(size=(100, 100))[:200], "cut.png", "image/png", 400)]
    for data, name, ctype, want in cases:
        status, err = upload(comfy, data, name, ctype)
        assert status == want and isinstance(err, dict) and err.get("message"), (name, status, err)
    assert stored(comfy) == before
    assert not (comfy.input_dir.parent / "evil.png").exists() and not (comfy.input_dir / "evil.png").exists()
