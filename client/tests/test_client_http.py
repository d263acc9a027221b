"""The client over httpx.MockTransport: SSE resume with Last-Event-ID, polling fallback, resumable verified downloads, sync API."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from batchgen_client import AsyncClient, Client, VerifyError, submit_batch_tasks, submit_single_task, wait_for_batch
from fakes import BATCH, Chunks, batch, sse_frame

BID = BATCH["id"]
URL = "http://gpu-box:8188"


def events_json(after: int, events: list[tuple[int, str, dict]]) -> dict:
    kept = [{"seq": s, "type": t, "batch_id": BID, "job_id": None, "created_at": 1.0, "data": d} for s, t, d in events if s > after]
    return {"events": kept, "last_seq": max([after] + [s for s, _, _ in events]), "oldest_seq": 1, "has_more": False}


async def test_events_reconnect_with_last_event_id_after_a_dropped_stream():
    seen_ids = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_ids.append(request.headers.get("Last-Event-ID"))
        if len(seen_ids) == 1:
            return httpx.Response(200, headers={"Content-Type": "text/event-stream"},
                                  stream=Chunks([sse_frame(5, "batchgen.job", {}), sse_frame(6, "batchgen.job", {})], cut=True))
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=Chunks([sse_frame(7, "batchgen.job", {})]))

    async with AsyncClient(URL, "bg_t", transport=httpx.MockTransport(handler)) as c:
        got = []
        async for event in c.events(BID, after=4):
            got.append(event.seq)
            if event.seq == 7:
                break
    assert got == [5, 6, 7] and seen_ids == ["4", "6"]


async def test_wait_falls_back_to_polling_when_the_stream_is_refused():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        assert request.headers["Authorization"] == "Bearer bg_t"
        if request.url.path.endswith("/events/stream"):
            return httpx.Response(429, json={"error": "too_many_streams", "message": "64 streams are open"})
        if request.url.path.endswith("/events"):
            after = int(request.url.params["after"])
            if after > 100:
                return httpx.Response(200, json=events_json(3, []))
            return httpx.Response(200, json=events_json(after, [(4, "batchgen.batch", {"id": BID, "status": "succeeded", "total": 2,
                                                                                      "counts": {"succeeded": 2}})]))
        return httpx.Response(200, json=batch(status="running" if len(calls) < 4 else "succeeded"))

    progress = []
    async with AsyncClient(URL, "bg_t", transport=httpx.MockTransport(handler), poll_seconds=0.01) as c:
        done = await c.wait(BID, timeout=5, on_progress=progress.append)
    assert done.status == "succeeded" and progress[-1]["status"] == "succeeded"
    assert any(p.endswith("/events/stream") for p in calls) and calls.count(f"/batchgen/v1/batches/{BID}") == 2


def manifest_for(files: dict[str, bytes], base: str = URL) -> bytes:
    rows = []
    for i, (name, data) in enumerate(files.items()):
        rows.append({"job_id": i + 1, "index": i, "status": "succeeded", "params": {}, "seed": None, "template": "text-card",
                     "template_hash": "0" * 64, "coords": {}, "queued_at": None, "started_at": None, "finished_at": None,
                     "duration_s": None, "cached": None, "error": None,
                     "files": [{"name": name, "subfolder": "s", "type": "output", "url": f"{base}/api/view?filename={name}",
                                "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}]})
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def file_server(files: dict[str, bytes], ranges: bool = True, served: dict | None = None, log: list | None = None):
    served = served if served is not None else files

    def handler(request: httpx.Request) -> httpx.Response:
        if log is not None:
            log.append((request.url.path, request.headers.get("Range"), request.headers.get("Authorization")))
        if request.url.path.endswith("/manifest"):
            return httpx.Response(200, content=manifest_for(files), headers={"Content-Type": "application/x-ndjson"})
        data = served[request.url.params["filename"]]
        rng = request.headers.get("Range")
        if rng and ranges:
            start = int(rng.split("=")[1].rstrip("-"))
            return httpx.Response(206, content=data[start:])
        return httpx.Response(200, content=data)

    return handler


async def test_download_resumes_a_part_file_with_a_range_request_and_skips_correct_files(tmp_path):
    files = {"a.png": b"A" * 1000, "b.png": b"B" * 500}
    (tmp_path / "a.png.part").write_bytes(b"A" * 400)
    (tmp_path / "b.png").write_bytes(b"B" * 500)
    log: list = []
    async with AsyncClient(URL, "bg_t", transport=httpx.MockTransport(file_server(files, log=log))) as c:
        result = await c.download(BID, tmp_path)
    assert result.resumed == ["a.png"] and result.skipped == ["b.png"]
    assert (tmp_path / "a.png").read_bytes() == files["a.png"] and not (tmp_path / "a.png.part").exists()
    assert ("/api/view", "bytes=400-", "Bearer bg_t") in log
    assert (tmp_path / "manifest.jsonl").read_bytes() == manifest_for(files)


async def test_download_restarts_when_the_server_ignores_range_and_refuses_a_wrong_hash(tmp_path):
    files = {"a.png": b"A" * 1000}
    (tmp_path / "a.png.part").write_bytes(b"A" * 400)
    async with AsyncClient(URL, transport=httpx.MockTransport(file_server(files, ranges=False))) as c:
        result = await c.download(BID, tmp_path)
    assert result.downloaded == ["a.png"] and result.resumed == [] and (tmp_path / "a.png").read_bytes() == files["a.png"]
    bad = tmp_path / "bad"
    async with AsyncClient(URL, transport=httpx.MockTransport(file_server(files, served={"a.png": b"X" * 1000}))) as c:
        with pytest.raises(VerifyError, match="a.png"):
            await c.download(BID, bad)
    assert not (bad / "a.png").exists() and not (bad / "a.png.part").exists() and not (bad / "manifest.jsonl").exists()


async def test_the_token_goes_only_to_the_servers_own_origin(tmp_path):
    files = {"a.png": b"A"}
    log: list = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/manifest"):
            return httpx.Response(200, content=manifest_for(files, base="http://cdn.example"))
        log.append((request.url.host, request.headers.get("Authorization")))
        return httpx.Response(200, content=b"A")

    async with AsyncClient(URL, "bg_t", transport=httpx.MockTransport(handler)) as c:
        await c.download(BID, tmp_path)
    assert log == [("cdn.example", None)]


def test_sync_client_and_the_old_sdk_calls():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append((request.url.path, json.loads(request.content)))
            if request.url.path.endswith("/generate"):
                return httpx.Response(201, json={**batch(total=1), "job": None})
            return httpx.Response(201, json=batch())
        if request.url.path.endswith("/events"):
            return httpx.Response(200, json=events_json(9, []))
        return httpx.Response(200, json=batch(status="succeeded"))

    with Client(URL, transport=httpx.MockTransport(handler)) as c:
        b = submit_batch_tasks(["one", "two"], template="text-card", width=512, client=c)
        assert b.id == BID
        assert wait_for_batch(b, client=c).status == "succeeded"
        submit_single_task("solo", workflow_type="text-card", input_image="in/cat.png", steps=4, client=c)
        with pytest.raises(ValueError, match="template"):
            submit_batch_tasks(["x"], client=c)
    assert bodies[0] == ("/batchgen/v1/batches", {"template": "text-card", "prompts": ["one", "two"], "params": {"width": 512}})
    assert bodies[1] == ("/batchgen/v1/generate", {"template": "text-card", "prompt": "solo",
                                                   "params": {"steps": 4, "image": "in/cat.png"}})
