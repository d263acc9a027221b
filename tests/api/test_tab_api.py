"""The routes the BatchGen tab adds: GET /batches?q= (search by name) and GET /jobs/{id}/thumb (small gallery images)."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

API = "/batchgen/v1"


async def make(env, name: str, prompts: list[str]) -> dict:
    resp = await env.client.post(f"{API}/batches", json={"name": name, "template": "text-card", "prompts": prompts})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_batches_are_searched_by_part_of_their_name_in_any_case(env):
    for name in ("Picture book 绘本", "product shots", "BOOK covers", "100%_done"):
        await make(env, name, ["a"])
    resp = await env.client.get(f"{API}/batches?q=book")
    body = await resp.json()
    assert resp.status == 200 and [b["name"] for b in body["batches"]] == ["BOOK covers", "Picture book 绘本"]
    assert body["total"] == 2
    assert [b["name"] for b in (await (await env.client.get(f"{API}/batches?q=绘本")).json())["batches"]] == ["Picture book 绘本"]
    # What the user types is text, not a pattern: % and _ match only themselves.
    assert [b["name"] for b in (await (await env.client.get(f"{API}/batches?q=%25_")).json())["batches"]] == ["100%_done"]
    assert (await (await env.client.get(f"{API}/batches?q=book&status=running")).json())["total"] == 0
    assert (await (await env.client.get(f"{API}/batches?q=")).json())["total"] == 4


async def test_a_search_text_that_is_too_long_is_a_clear_400(env):
    resp = await env.client.get(f"{API}/batches?q={'x' * 201}")
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_search" and "200" in body["message"]


async def test_a_job_thumbnail_is_a_small_webp_that_is_made_once_and_revalidated(env):
    env.host.card_size = 640
    batch = await make(env, "thumbs", ["one", "two"])
    await env.host.run_all(env.dispatcher)
    job = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"][0]
    resp = await env.client.get(f"{API}/jobs/{job['id']}/thumb?size=120")
    assert resp.status == 200 and resp.content_type == "image/webp", await resp.text()
    data = await resp.read()
    with Image.open(BytesIO(data)) as img:
        assert img.format == "WEBP" and max(img.size) == 128  # rounded up to a served size
    full = env.host.output_dir / job["outputs"][0]["subfolder"] / job["outputs"][0]["filename"]
    assert len(data) < full.stat().st_size
    etag = resp.headers["ETag"]
    again = await env.client.get(f"{API}/jobs/{job['id']}/thumb?size=120", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""


async def test_thumbnails_refuse_bad_sizes_missing_jobs_and_jobs_without_an_image(env):
    batch = await make(env, "pending", ["x"])
    job = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"][0]
    cases = [(f"/jobs/{job['id']}/thumb?size=9000", 400, "invalid_size"), (f"/jobs/{job['id']}/thumb?size=big", 400, "invalid_size"),
             (f"/jobs/{job['id']}/thumb?colour=red", 400, "unknown_field"), ("/jobs/999999/thumb", 404, "job_not_found"),
             (f"/jobs/{job['id']}/thumb", 404, "no_image"), (f"/jobs/{job['id']}/thumb?output=-1", 400, "invalid_output")]
    for path, status, code in cases:
        resp = await env.client.get(API + path)
        assert (resp.status, (await resp.json())["error"]) == (status, code), path


async def test_a_thumbnail_whose_file_was_deleted_is_a_404_not_a_500(env):
    batch = await make(env, "gone", ["x"])
    await env.host.run_all(env.dispatcher)
    job = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"][0]
    (env.host.output_dir / job["outputs"][0]["subfolder"] / job["outputs"][0]["filename"]).unlink()
    resp = await env.client.get(f"{API}/jobs/{job['id']}/thumb")
    assert resp.status == 404 and (await resp.json())["error"] == "no_image"
