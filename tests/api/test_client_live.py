"""The Python client (client/batchgen_client) against the real routes on the fast app (SQLite store, FakeHost)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

import pytest
from aiohttp import web
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import Store
from batchgen_ext.server_routes import register

from tests.api.conftest import ROOT, Env, make_uploads
from tests.fakehost import FakeHost
from tests.uploadkit import INVERT_TEMPLATE, png

sys.path.insert(0, str(ROOT / "client"))
from batchgen_client import ApiError, AsyncClient  # noqa: E402


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    """The fast app plus a stand-in for ComfyUI's /api/view (a FileResponse, which serves Range requests as ComfyUI's does)."""
    user_dir = tmp_path / "user" / "__batchgen"
    store = Store(user_dir / "batchgen.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp_path / "output", input_dir=tmp_path / "input")
    config = Config(window=2)
    dispatcher = Dispatcher(store, host, config)
    service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", user_dir / "templates"), dispatcher, config, "test",
                           uploads=make_uploads(store, config, user_dir, tmp_path / "input"))
    routes = web.RouteTableDef()
    register(routes, service)

    @routes.get("/api/view")
    async def view(request: web.Request) -> web.StreamResponse:
        path = host.output_file(request.query.get("subfolder", ""), request.query.get("filename", ""))
        return web.FileResponse(path) if path else web.Response(status=404)

    app = web.Application()
    app.add_routes(routes)
    client = await aiohttp_client(app)
    yield Env(client, store, host, dispatcher, service, user_dir)
    await store.close()


@pytest.fixture
async def client(env):
    c = AsyncClient(str(env.client.make_url("")).rstrip("/"), poll_seconds=0.05)
    yield c
    await c.aclose()


async def run_soon(env, delay: float = 0.2) -> None:
    await asyncio.sleep(delay)
    await env.host.run_all(env.dispatcher)


async def test_submit_a_csv_wait_over_sse_and_download_verified(env, client, tmp_path):
    products = tmp_path / "products.csv"
    products.write_text("prompt,width\n保温杯 红色,320\nmug blue,256\n", encoding="utf-8")
    batch = await client.submit_file(products, "text-card", name="products")
    assert batch.total == 2 and batch.status == "pending"
    seen: list[dict] = []
    runner = asyncio.create_task(run_soon(env))
    done = await client.wait(batch.id, timeout=20, on_progress=seen.append)
    await runner
    assert done.status == "succeeded" and done.counts.succeeded == 2
    assert seen[0]["status"] == "pending" and seen[-1]["status"] == "succeeded"
    result = await client.download(batch.id, tmp_path / "out")
    assert len(result.downloaded) == 2 and not result.skipped
    rows = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["params"]["prompt"] for r in rows] == ["保温杯 红色", "mug blue"]
    for row in rows:
        f = row["files"][0]
        assert hashlib.sha256((tmp_path / "out" / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    again = await client.download(batch.id, tmp_path / "out")
    assert len(again.skipped) == 2 and not again.downloaded


async def test_wait_by_polling_when_asked(env, client):
    batch = await client.submit("text-card", prompts=["a"])
    runner = asyncio.create_task(run_soon(env))
    done = await client.wait(batch.id, timeout=20, sse=False)
    await runner
    assert done.status == "succeeded"


async def test_events_resume_after_a_given_seq(env, client):
    batch = await client.submit("text-card", prompts=["a", "b"])
    await env.host.run_all(env.dispatcher)
    seqs = []
    async for event in client.events(batch.id):
        seqs.append(event.seq)
        if event.type == "batchgen.batch" and event.payload.get("status") == "succeeded":
            break
    resumed = []
    async for event in client.events(batch.id, after=seqs[1]):
        resumed.append(event.seq)
        if event.seq == seqs[-1]:
            break
    assert resumed == seqs[2:]


async def test_export_manifest_ls_cancel_retry(env, client, tmp_path):
    batch = await client.submit("text-card", prompts=["x", "y", "z"])
    cancelled = await client.cancel(batch.id)
    assert cancelled.status == "cancelled"
    rows = [r async for r in client.manifest(batch.id)]
    assert [r.status for r in rows] == ["cancelled"] * 3
    listed = await client.list_batches()
    assert listed.batches[0].id == batch.id
    retried = await client.retry(batch.id)
    assert retried.retried == 3
    await env.host.run_all(env.dispatcher)
    size = await client.export(batch.id, tmp_path / "b.zip")
    assert size == (tmp_path / "b.zip").stat().st_size > 0
    jobs = [j async for j in client.iter_jobs(batch.id)]
    assert [j.status for j in jobs] == ["succeeded"] * 3


async def test_server_errors_come_back_as_api_errors_with_the_code(env, client):
    with pytest.raises(ApiError) as info:
        await client.get_batch("0" * 32)
    assert info.value.status == 404 and info.value.code == "batch_not_found"
    with pytest.raises(ApiError) as info:
        await client.submit("no-such-template", prompts=["a"])
    assert info.value.code == "template_not_found"


async def test_an_interrupted_download_resumes_and_a_corrupted_file_is_fetched_again(env, client, tmp_path):
    batch = await client.submit("text-card", prompts=["a", "b"])
    await env.host.run_all(env.dispatcher)
    rows = [r async for r in client.manifest(batch.id)]
    first, second = rows[0].files[0], rows[1].files[0]
    out = tmp_path / "out"
    out.mkdir()
    data = (env.host.output_dir / first.subfolder / first.name).read_bytes()
    (out / (first.name + ".part")).write_bytes(data[:5])  # what a killed download leaves
    (out / second.name).write_bytes(b"not the image")  # a wrong file in the folder
    result = await client.download(batch.id, out)
    assert result.resumed == [first.name] and sorted(result.downloaded) == sorted([first.name, second.name])
    assert (out / first.name).read_bytes() == data and not (out / (first.name + ".part")).exists()
    assert hashlib.sha256((out / second.name).read_bytes()).hexdigest() == second.sha256


async def test_a_local_image_is_uploaded_and_becomes_the_jobs_input(env, client, tmp_path):
    image = tmp_path / "商品.png"
    image.write_bytes(png(3))
    uploaded = await client.upload(image)
    assert uploaded["kind"] == "image" and uploaded["name"] == "商品.png"
    batch = await client.submit(INVERT_TEMPLATE, images={"upload": [uploaded["id"]]})
    (job,) = (await client.list_jobs(batch.id)).jobs
    stored = job.params["image"]
    assert (env.host.input_dir / stored).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # re-encoded copy in ComfyUI's input


async def test_a_file_that_is_not_an_image_is_refused_with_the_servers_reason(env, client, tmp_path):
    fake = tmp_path / "in.png"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    with pytest.raises(ApiError) as caught:
        await client.upload(fake, "image")
    assert caught.value.status in (400, 415) and not list((env.host.input_dir).rglob("*.png"))


async def test_settings_are_read_and_changed_through_the_client_and_the_cli(env, client, capsys):
    from batchgen_client import cli

    before = await client.get_settings()
    assert before["feed_window"]["value"] == "auto" and before["cors_origins"]["saved"] == []
    after = await client.update_settings(feed_window=8)
    assert (after["feed_window"]["value"], after["feed_window"]["window"]) == (8, 8)
    assert env.service.dispatcher.status()["window"] == 8  # in effect at once, not only saved
    with pytest.raises(ApiError) as bad:
        await client.update_settings(feed_window=65)
    assert bad.value.code == "invalid_feed_window"

    url = str(env.client.make_url("")).rstrip("/")

    def run_cli(*args: str) -> tuple[int, dict | str]:
        """(exit status, the printed settings, or what went to stderr when nothing was printed)."""
        code = cli.main(["--url", url, "settings", *args])
        captured = capsys.readouterr()
        return code, json.loads(captured.out) if captured.out.strip() else captured.err

    code, shown = await asyncio.to_thread(run_cli, "--add-origin", "http://localhost:5173", "--add-origin", "https://app.example.com")
    assert code == 0 and shown["cors_origins"]["saved"] == ["http://localhost:5173", "https://app.example.com"]
    code, shown = await asyncio.to_thread(run_cli, "--remove-origin", "http://localhost:5173", "--feed-window", "auto")
    assert code == 0 and shown["cors_origins"]["saved"] == ["https://app.example.com"] and shown["feed_window"]["value"] == "auto"
    assert (await client.get_settings())["cors_origins"]["saved"] == ["https://app.example.com"]  # saved, not only answered
    with pytest.raises(SystemExit, match="not a saved origin"):
        await asyncio.to_thread(run_cli, "--remove-origin", "http://never.example")
    code, err = await asyncio.to_thread(run_cli, "--add-origin", "https://*.example.com")
    assert code == 1 and "400 invalid_cors_origin" in err
    assert (await client.get_settings())["cors_origins"]["saved"] == ["https://app.example.com"]  # the refused change changed nothing
