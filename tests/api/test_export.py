"""GET /batches/{id}/manifest and /export on the fast app: rows, sha256 of the bytes, changed files, the zip's contents."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile

from batchgen_ext.batchgen.api_export import ManifestRow
from batchgen_ext.batchgen.api_responses import Error

API = "/batchgen/v1"


async def finished_batch(env, prompts: list[str]) -> dict:
    resp = await env.client.post(f"{API}/batches", json={"template": "text-card", "prompts": prompts, "params": {"width": 320}})
    assert resp.status == 201, await resp.text()
    batch = await resp.json()
    await env.host.run_all(env.dispatcher)
    return batch


async def manifest(env, batch_id: str) -> list[dict]:
    resp = await env.client.get(f"{API}/batches/{batch_id}/manifest")
    assert resp.status == 200 and resp.content_type == "application/x-ndjson"
    return [json.loads(line) for line in (await resp.text()).splitlines()]


def out_path(env, f: dict):
    return env.host.output_dir / f["subfolder"] / f["name"]


async def test_manifest_has_one_typed_row_per_job_with_the_files_sha256(env):
    batch = await finished_batch(env, ["红色 card", "card 2", "card 3"])
    rows = await manifest(env, batch["id"])
    assert [r["index"] for r in rows] == [0, 1, 2]
    for row in rows:
        ManifestRow.model_validate(row)
        assert row["status"] == "succeeded" and row["template"] == "text-card" and row["params"]["width"] == 320
        assert row["cached"] is False and len(row["template_hash"]) == 64  # ComfyUI ran them (nothing from its cache)
        (f,) = row["files"]
        data = out_path(env, f).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
        assert f["url"].endswith(f"/api/view?filename={f['name']}&subfolder={f['subfolder'].replace('/', '%2F')}&type=output")
    assert rows[0]["params"]["prompt"] == "红色 card"


async def test_a_file_changed_on_disk_after_it_was_hashed_gets_its_new_hash(env):
    batch = await finished_batch(env, ["a", "b"])
    first = (await manifest(env, batch["id"]))[0]["files"][0]
    path = out_path(env, first)
    path.write_bytes(b"\x89PNG changed later IEND")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    again = (await manifest(env, batch["id"]))[0]["files"][0]
    assert again["sha256"] == hashlib.sha256(b"\x89PNG changed later IEND").hexdigest() != first["sha256"]
    assert again["bytes"] == len(b"\x89PNG changed later IEND")


async def test_a_missing_file_has_null_hash_and_is_left_out_of_the_zip(env):
    batch = await finished_batch(env, ["a", "b"])
    rows = await manifest(env, batch["id"])
    out_path(env, rows[1]["files"][0]).unlink()
    rows = await manifest(env, batch["id"])
    assert rows[1]["files"][0]["sha256"] is None and rows[1]["files"][0]["bytes"] is None
    resp = await env.client.get(f"{API}/batches/{batch['id']}/export")
    names = zipfile.ZipFile(io.BytesIO(await resp.read())).namelist()
    assert f"images/{rows[0]['files'][0]['name']}" in names and f"images/{rows[1]['files'][0]['name']}" not in names


async def test_export_zip_holds_images_manifests_and_contact_sheets(env):
    batch = await finished_batch(env, ["东京 card", 'comma, "quote"', "third"])
    sheets = env.host.output_dir / batch["output_subfolder"] / "_contact_sheets"
    sheets.mkdir(parents=True)
    (sheets / "sheet-001.png").write_bytes(b"\x89PNG sheet IEND")
    resp = await env.client.get(f"{API}/batches/{batch['id']}/export")
    assert resp.status == 200 and resp.content_type == "application/zip"
    assert batch["id"] in resp.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    assert archive.testzip() is None
    rows = [json.loads(line) for line in archive.read("manifest.jsonl").decode("utf-8").splitlines()]
    assert len(rows) == 3
    for row in rows:
        (f,) = row["files"]
        info = archive.getinfo(f"images/{f['name']}")
        assert info.compress_type == zipfile.ZIP_STORED
        assert hashlib.sha256(archive.read(info)).hexdigest() == f["sha256"] == hashlib.sha256(out_path(env, f).read_bytes()).hexdigest()
    assert archive.read("contact_sheets/sheet-001.png") == b"\x89PNG sheet IEND"
    raw = archive.read("manifest.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [t["params.prompt"] for t in table] == ["东京 card", 'comma, "quote"', "third"]
    assert table[0]["params.width"] == "320" and table[0]["sha256"] == rows[0]["files"][0]["sha256"]
    assert table[0]["status"] == "succeeded" and table[0]["cached"] == "false"
    # The manifest route now answers the hashes the export cached, unchanged.
    assert [r["files"] for r in await manifest(env, batch["id"])] == [r["files"] for r in rows]


async def test_export_of_a_batch_with_pending_and_failed_jobs_lists_them_without_files(env):
    resp = await env.client.post(f"{API}/batches", json={"template": "text-card", "prompts": ["x", "y"]})
    batch = await resp.json()
    resp = await env.client.get(f"{API}/batches/{batch['id']}/export")
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    rows = [json.loads(line) for line in archive.read("manifest.jsonl").splitlines()]
    assert [r["status"] for r in rows] == ["pending", "pending"] and all(r["files"] == [] for r in rows)
    assert not [n for n in archive.namelist() if n.startswith("images/")]


async def test_unknown_batch_is_a_json_404_on_both_routes(env):
    for route in ("manifest", "export"):
        resp = await env.client.get(f"{API}/batches/{'0' * 32}/{route}")
        assert resp.status == 404
        assert Error.model_validate(await resp.json()).error == "batch_not_found"


async def test_a_file_bigger_than_one_read_is_copied_whole(env):
    batch = await finished_batch(env, ["big"])
    (row,) = await manifest(env, batch["id"])
    big = b"\x89PNG" + bytes(range(256)) * (10 * 1024) + b"IEND"  # 2.5 MiB: three reads
    out_path(env, row["files"][0]).write_bytes(big)
    resp = await env.client.get(f"{API}/batches/{batch['id']}/export")
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    (line,) = archive.read("manifest.jsonl").splitlines()
    f = json.loads(line)["files"][0]
    assert archive.read(f"images/{f['name']}") == big and f["sha256"] == hashlib.sha256(big).hexdigest() and f["bytes"] == len(big)


async def test_export_after_a_file_changed_on_disk_holds_the_new_bytes_and_their_hash(env):
    batch = await finished_batch(env, ["a", "b"])
    first = (await manifest(env, batch["id"]))[0]["files"][0]  # hashed and cached now
    path = out_path(env, first)
    path.write_bytes(b"\x89PNG edited IEND")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    resp = await env.client.get(f"{API}/batches/{batch['id']}/export")
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    row = json.loads(archive.read("manifest.jsonl").splitlines()[0])
    assert archive.read(f"images/{first['name']}") == b"\x89PNG edited IEND"
    assert row["files"][0]["sha256"] == hashlib.sha256(b"\x89PNG edited IEND").hexdigest() != first["sha256"]
    assert (await manifest(env, batch["id"]))[0]["files"][0]["sha256"] == row["files"][0]["sha256"]


async def stored_hashes(env) -> dict[str, str]:
    rows = await env.store._fetchall("SELECT filename, sha256 FROM output_hashes")
    return {r["filename"]: r["sha256"] for r in rows}


async def export_counting_file_hashes(env, monkeypatch, batch_id):
    """Export a batch while counting sha256 calls on file bytes → (calls, the zip, its manifest rows)."""
    from batchgen_ext.batchgen import export

    calls = []
    real = export.hashlib.sha256
    # Only hashes of file bytes count (the template's hash is computed per export too): PNG bytes, or a streaming digest.
    monkeypatch.setattr(export.hashlib, "sha256", lambda *a: (not a or a[0][:4] == b"\x89PNG") and calls.append(a) or real(*a))
    resp = await env.client.get(f"{API}/batches/{batch_id}/export")
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    return calls, archive, [json.loads(line) for line in archive.read("manifest.jsonl").splitlines()]


async def test_each_output_is_hashed_once_when_its_job_succeeds_and_the_export_reuses_it(env, monkeypatch):
    batch = await finished_batch(env, ["一", "two", "three"])
    await env.service.hashes.idle()
    rows = await manifest(env, batch["id"])
    stored = await stored_hashes(env)
    assert sorted(stored) == sorted(r["files"][0]["name"] for r in rows), "every file is hashed before any export asks"
    for row in rows:
        f = row["files"][0]
        assert stored[f["name"]] == f["sha256"] == hashlib.sha256(out_path(env, f).read_bytes()).hexdigest()
    calls, archive, zipped = await export_counting_file_hashes(env, monkeypatch, batch["id"])
    assert calls == [], "the export hashed files whose hash was stored when their jobs succeeded"
    assert [z["files"][0]["sha256"] for z in zipped] == [r["files"][0]["sha256"] for r in rows]
    for z in zipped:
        f = z["files"][0]
        assert hashlib.sha256(archive.read(f"images/{f['name']}")).hexdigest() == f["sha256"]


async def test_without_a_stored_hash_the_export_hashes_the_bytes_it_copies_and_stores_them(env, monkeypatch):
    batch = await finished_batch(env, ["a", "b"])
    await env.service.hashes.idle()
    await env.store.run_in_transaction(lambda tx: tx.execute("DELETE FROM output_hashes"))
    calls, archive, zipped = await export_counting_file_hashes(env, monkeypatch, batch["id"])
    assert len(calls) == 2
    for z in zipped:
        f = z["files"][0]
        assert f["sha256"] == hashlib.sha256(archive.read(f"images/{f['name']}")).hexdigest()
    assert sorted((await stored_hashes(env)).values()) == sorted(z["files"][0]["sha256"] for z in zipped)


async def test_jobs_comfyui_served_from_its_cache_say_so_in_the_manifest(env):
    fresh = await finished_batch(env, ["ran"])
    env.host.cache_all = True  # ComfyUI's execution_cached message names every node of these prompts
    cached = await finished_batch(env, ["from cache"])
    assert [r["cached"] for r in await manifest(env, fresh["id"])] == [False]
    assert [r["cached"] for r in await manifest(env, cached["id"])] == [True]
    resp = await env.client.get(f"{API}/batches/{cached['id']}/export")
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    (row,) = csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig")))
    assert row["cached"] == "true"
