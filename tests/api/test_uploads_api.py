"""Uploads through the REST API: good files stored under server-chosen names, hostile ones refused with nothing written."""

from __future__ import annotations

import sqlite3
import time

import pytest
from aiohttp import FormData
from PIL import Image

from tests.api.test_api import API, create, error_of, post
from tests.unit.xlsxkit import xlsx_bytes
from tests.uploadkit import HTML_AS_PNG, INVERT_TEMPLATE, SVG, huge_png, jpeg_rotated, png, zip_bomb

GBK_CSV = "prompt,width\n" + "".join(f"商品 {i} 号,{256 + 8 * i}\n" for i in range(30))


def form(data: bytes, filename: str = "file.bin", content_type: str | None = None, **fields: str) -> FormData:
    out = FormData()
    for key, value in fields.items():
        out.add_field(key, value)
    out.add_field("file", data, filename=filename, content_type=content_type or "application/octet-stream")
    return out


async def upload(env, data: bytes, filename: str = "file.bin", content_type: str | None = None, status: int = 201, **fields) -> dict:
    resp = await env.client.post(f"{API}/uploads", data=form(data, filename, content_type, **fields))
    body = await resp.json()
    assert resp.status == status, body
    return body


def stored_files(env) -> list[str]:
    """Every file under the uploads folder and the input folder's batchgen/ subfolder (the .incoming folder included)."""
    roots = [env.user_dir / "uploads", env.host.input_dir / "batchgen"]
    return sorted(str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


def upload_rows(env) -> int:
    with sqlite3.connect(env.store.path) as conn:
        return conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0]


async def test_an_image_is_verified_reencoded_without_metadata_and_lands_where_load_image_reads_it(env):
    body = await upload(env, png(3, text="secret camera serial"), "猫 cat.png", "image/png")
    assert body["kind"] == "image" and body["format"] == "png" and body["name"] == "猫 cat.png"
    assert (body["width"], body["height"]) == (32, 24)
    assert body["image"] == f"batchgen/{body['id']}.png"
    path = env.host.input_dir / body["image"]
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (32, 24) and img.getpixel((31, 0)) == (60, 216, 21)
        assert "Comment" not in img.info, "metadata was not stripped"
    assert b"secret camera serial" not in path.read_bytes()
    got = await env.client.get(f"{API}/uploads/{body['id']}")
    assert (await got.json()) == body


async def test_exif_orientation_is_applied(env):
    body = await upload(env, jpeg_rotated(), "phone.jpg", "image/jpeg")
    assert body["format"] == "jpeg" and (body["width"], body["height"]) == (20, 40)
    with Image.open(env.host.input_dir / body["image"]) as img:
        assert img.size == (20, 40) and not img.getexif()


BAD_UPLOADS = [
    ("html_named_png", HTML_AS_PNG, "photo.png", "image/png", 415, "unsupported_upload_type"),
    ("html_as_octets", HTML_AS_PNG, "page.html", None, 415, "unsupported_upload_type"),
    ("svg", SVG, "logo.svg", "image/svg+xml", 415, "unsupported_upload_type"),
    ("30000x30000", huge_png(), "bomb.png", "image/png", 413, "image_too_large"),
    ("zip_bomb_xlsx", zip_bomb(40), "sheet.xlsx", None, 413, "table_too_large"),
    ("path_in_name", png(), "../../evil.png", "image/png", 400, "invalid_file_name"),
    ("windows_path", png(), "C:\\Users\\a\\evil.png", "image/png", 400, "invalid_file_name"),
    ("truncated_png", png(size=(200, 200))[:300], "cut.png", "image/png", 400, "invalid_image"),
    ("png_sent_as_jpeg", png(), "x.jpg", "image/jpeg", 415, "unsupported_upload_type"),
    ("csv_sent_as_html", b"prompt\na\n", "t.csv", "text/html", 415, "unsupported_upload_type"),
    ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "a.gif", "image/gif", 415, "unsupported_upload_type"),
    ("empty", b"", "t.csv", "text/csv", 400, "empty_upload"),
    ("not_a_zip_xlsx", b"prompt\na\n", "t.xlsx", None, 400, "invalid_table"),
    ("table_with_no_rows", b"prompt,width\n", "t.csv", "text/csv", 400, "invalid_table"),
]


@pytest.mark.parametrize(("data", "filename", "ctype", "status", "code"), [b[1:] for b in BAD_UPLOADS], ids=[b[0] for b in BAD_UPLOADS])
async def test_a_bad_upload_is_refused_with_a_clear_error_and_nothing_is_written(env, data, filename, ctype, status, code):
    resp = await env.client.post(f"{API}/uploads", data=form(data, filename, ctype))
    body = await error_of(resp, status)
    assert body["error"] == code, body
    assert stored_files(env) == [] and upload_rows(env) == 0


async def test_a_file_over_the_size_limit_is_413_and_nothing_is_left(env):
    env.service.uploads.max_bytes = 100_000
    resp = await env.client.post(f"{API}/uploads", data=form(b"prompt\n" + b"x" * 200_000 + b"\n", "big.csv", "text/csv"))
    assert (await error_of(resp, 413))["error"] == "upload_too_large"
    assert stored_files(env) == [] and upload_rows(env) == 0


async def test_json_and_forms_without_a_file_are_refused(env):
    assert (await error_of(await post(env, "/uploads", {"file": "x"}), 415))["error"] == "unsupported_media_type"
    only_kind = FormData()
    only_kind.add_field("kind", "table")
    only_kind.add_field("dummy", b"x", filename="x.csv")  # forces multipart
    body = await error_of(await env.client.post(f"{API}/uploads", data=only_kind), 400)
    assert body["error"] == "unknown_field" and "dummy" in body["message"]
    bad_kind = await env.client.post(f"{API}/uploads", data=form(b"prompt\na\n", "t.csv", "text/csv", kind="video"))
    assert (await error_of(bad_kind, 400))["error"] == "invalid_field"
    assert stored_files(env) == []


async def test_a_gbk_csv_upload_is_used_by_id_and_makes_the_right_jobs(env):
    up = await upload(env, GBK_CSV.encode("gbk"), "商品.csv", "application/vnd.ms-excel")
    assert up["kind"] == "table" and up["format"] == "csv" and up["columns"] == ["prompt", "width"] and up["rows"] == 30
    assert (env.user_dir / "uploads" / f"{up['id']}.csv").is_file()
    batch = await create(env, {"template": "text-card", "table": {"upload": up["id"]}, "seed": 1})
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs?limit=100")).json())["jobs"]
    assert [j["params"]["prompt"] for j in jobs] == [f"商品 {i} 号" for i in range(30)]
    assert jobs[29]["params"]["width"] == 256 + 8 * 29 and jobs[3]["coords"] == {"source": "table", "row": 5}


async def test_an_xlsx_upload_is_found_from_its_bytes_and_mapped_with_columns(env):
    data = xlsx_bytes([["标题", "width"], ["一", 300], ["二", 320]])
    up = await upload(env, data, "book.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert up["format"] == "xlsx" and up["rows"] == 2
    batch = await create(env, {"template": "text-card", "table": {"upload": up["id"], "columns": {"标题": "prompt"}}})
    assert batch["total"] == 2


async def test_a_batch_naming_a_missing_or_wrong_kind_upload_is_422_and_stores_nothing(env):
    img = await upload(env, png(), "a.png", "image/png")
    for body, code in [({"template": "text-card", "table": {"upload": "0" * 32}}, "upload_not_found"),
                       ({"template": "text-card", "table": {"upload": img["id"]}}, "wrong_upload_kind"),
                       ({"template": {**INVERT_TEMPLATE}, "images": {"upload": ["f" * 32]}}, "upload_not_found")]:
        err = await error_of(await post(env, "/batches", body), 422)
        assert err["error"] == code, err
    bad = await error_of(await post(env, "/batches", {"template": "text-card", "table": {"upload": "../x"}}), 400)
    assert bad["error"] == "invalid_table"


async def images(env, n: int) -> list[dict]:
    return [await upload(env, png(i), f"img{i}.png", "image/png") for i in range(n)]


async def test_an_image_set_of_uploads_makes_one_job_per_image_with_coords(env):
    ups = await images(env, 4)
    body = {"template": INVERT_TEMPLATE, "images": {"upload": [u["id"] for u in ups]}}
    preview = await (await post(env, "/batches/preview", body)).json()
    assert preview["total"] == 4 and preview["problems"] == []
    batch = await create(env, body)
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
    assert [j["params"]["image"] for j in jobs] == [u["image"] for u in ups]
    assert jobs[2]["coords"] == {"source": "images", "index": 2, "file": "img2.png"}


async def test_a_per_image_table_is_joined_on_the_file_name(env):
    ups = await images(env, 3)
    wf = {**INVERT_TEMPLATE, "bindings": {"image": "1.image", "prefix": "3.filename_prefix"}}
    table = {"text": "file,prefix\nimg2.png,two\nimg0.png,zero\n"}
    batch = await create(env, {"template": wf, "images": {"upload": [u["id"] for u in ups], "table": table}})
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
    assert [j["params"].get("prefix") for j in jobs] == ["zero", None, "two"]
    assert jobs[0]["coords"] == {"source": "images", "index": 0, "file": "img0.png", "row": 3}
    wrong = {"text": "file,prefix\nnope.png,x\n"}
    err = await error_of(await post(env, "/batches", {"template": wf, "images": {"upload": [ups[0]["id"]], "table": wrong}}), 400)
    assert err["error"] == "invalid_table_value" and "row 2" in err["message"] and "nope.png" in err["message"]


async def test_a_folder_image_set_is_listed_in_natural_order_inside_the_input_folder(env, tmp_path):
    folder = env.host.input_dir / "cats"
    folder.mkdir(parents=True)
    for name in ("img10.png", "img2.png", "img1.PNG", "notes.txt", ".hidden.png"):
        (folder / name).write_bytes(png())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png())
    (folder / "link.png").symlink_to(outside / "secret.png")
    (env.host.input_dir / "escape").symlink_to(outside)
    batch = await create(env, {"template": INVERT_TEMPLATE, "images": {"folder": "cats"}})
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
    assert [j["params"]["image"] for j in jobs] == ["cats/img1.PNG", "cats/img2.png", "cats/img10.png"]
    for folder_name, status in [("../outside", 400), ("/etc", 400), ("escape", 400), ("cats/../..", 400), ("C:/x", 400),
                                ("nope", 422)]:
        err = await error_of(await post(env, "/batches", {"template": INVERT_TEMPLATE, "images": {"folder": folder_name}}), status)
        assert err["error"] in ("invalid_images", "image_folder_not_found"), err


async def test_delete_is_409_while_an_unfinished_batch_uses_the_upload(env):
    up = await upload(env, GBK_CSV.encode("gbk"), "t.csv", "text/csv")
    batch = await create(env, {"template": "text-card", "table": {"upload": up["id"]}})
    err = await error_of(await env.client.delete(f"{API}/uploads/{up['id']}"), 409)
    assert err["error"] == "upload_in_use" and err["details"]["batches"] == [batch["id"]]
    await post(env, f"/batches/{batch['id']}/cancel")
    resp = await env.client.delete(f"{API}/uploads/{up['id']}")
    assert resp.status == 200 and (await resp.json()) == {"deleted": up["id"]}
    assert stored_files(env) == []
    assert (await error_of(await env.client.get(f"{API}/uploads/{up['id']}"), 404))["error"] == "upload_not_found"


async def test_listing_pages_and_filters_by_kind(env):
    await images(env, 2)
    await upload(env, b"prompt\na\n", "t.csv", "text/csv")
    page = await (await env.client.get(f"{API}/uploads?kind=image&limit=1")).json()
    assert page["total"] == 2 and len(page["uploads"]) == 1 and page["uploads"][0]["kind"] == "image"
    assert (await (await env.client.get(f"{API}/uploads")).json())["total"] == 3
    assert (await error_of(await env.client.get(f"{API}/uploads?kind=video"), 400))["error"] == "invalid_kind"


async def test_cleanup_removes_old_unused_uploads_but_never_one_an_unfinished_batch_uses(env):
    used = await upload(env, b"prompt\na\nb\n", "used.csv", "text/csv")
    old = await upload(env, png(), "old.png", "image/png")
    await create(env, {"template": "text-card", "table": {"upload": used["id"]}})
    later = time.time() + 200 * 3600
    assert await env.service.uploads.cleanup(now=later, force=True) == 1
    left = await (await env.client.get(f"{API}/uploads")).json()
    assert [u["id"] for u in left["uploads"]] == [used["id"]]
    assert not (env.host.input_dir / old["image"]).exists()


async def test_preview_equals_submission_for_random_image_set_bodies(env):
    """Randomised property (seeded draws): for image sets with tables, repeat and seed policies, the jobs stored are the preview's."""
    import random

    ups = await images(env, 6)
    wf = {**INVERT_TEMPLATE, "bindings": {"image": "1.image", "prefix": "3.filename_prefix"}}
    rng = random.Random(7)
    for _ in range(15):
        chosen = rng.sample(ups, rng.randint(1, 6))
        spec: dict = {"upload": [u["id"] for u in chosen]}
        if rng.random() < 0.5:
            rows = rng.sample(chosen, rng.randint(1, len(chosen)))
            spec["table"] = {"text": "file,prefix\n" + "".join(f"{u['name']},p{i}\n" for i, u in enumerate(rows))}
        body = {"template": wf, "images": spec, "repeat": rng.randint(1, 3), "seed": {"policy": rng.choice(["increment", "fixed"]),
                                                                                         "base": rng.randint(0, 99)}}
        preview = await (await post(env, "/batches/preview?rows=1000", body)).json()
        assert preview["problems"] == [], preview
        batch = await create(env, body)
        jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs?limit=1000")).json())["jobs"]
        assert batch["total"] == preview["total"] == len(chosen) * body["repeat"]
        assert [{"idx": j["idx"], "params": j["params"], "seed": j["seed"], "coords": j["coords"]} for j in jobs] == preview["jobs"]


async def test_an_upload_cannot_be_deleted_while_a_batch_naming_it_is_being_accepted(env):
    up = await upload(env, GBK_CSV.encode("gbk"), "t.csv", "text/csv")
    seen = {}
    check = env.service._check

    async def delete_meanwhile(template, specs, every=False):
        resp = await env.client.delete(f"{API}/uploads/{up['id']}")  # arrives after the table was read, before the commit
        seen["status"], seen["body"] = resp.status, await resp.json()
        return await check(template, specs, every)

    env.service._check = delete_meanwhile
    batch = await create(env, {"template": "text-card", "table": {"upload": up["id"]}})
    assert seen["status"] == 409 and seen["body"]["error"] == "upload_in_use", seen
    assert batch["total"] == 30 and (env.user_dir / "uploads" / f"{up['id']}.csv").is_file()
