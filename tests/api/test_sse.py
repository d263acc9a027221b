"""GET /events/stream: frames, resume from Last-Event-ID, batch filter, live wake-up, heartbeat, the 429 cap."""

from __future__ import annotations

import asyncio
import json

import pytest
from batchgen_ext.server_routes.cors import cors_middleware

from tests.api.remote_app import API, fake_peer, make_env

STREAM = API + "/events/stream"


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    e = await make_env(aiohttp_client, tmp_path, max_streams=2)
    yield e
    await e.store.close()


async def create(env, n: int = 2) -> str:
    resp = await env.client.post(API + "/batches", json={"template": "text-card", "prompts": [f"p{i}" for i in range(n)]})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def read_frames(resp, count: int, timeout: float = 5.0) -> list[dict]:
    """The next ``count`` events (comments skipped)."""
    frames, current = [], {}
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line == "":
                if "event" in current:
                    frames.append(current)
                current = {}
            elif not line.startswith(":") and ":" in line:
                key, _, value = line.partition(": ")
                current[key] = value
    return frames


async def logged(env, batch: str | None = None) -> list[dict]:
    resp = await env.client.get(API + "/events" + (f"?batch={batch}" if batch else ""))
    return (await resp.json())["events"]


async def test_stream_replays_the_log_then_follows_new_commits(env):
    first = await create(env)
    events = await logged(env)
    assert events
    async with env.client.get(STREAM) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        frames = await read_frames(resp, len(events))
        assert [int(f["id"]) for f in frames] == [e["seq"] for e in events]
        assert frames[0]["event"] == events[0]["type"] and json.loads(frames[0]["data"]) == events[0]
        second = await create(env)  # a commit wakes the stream
        fresh = await read_frames(resp, 1, timeout=2.0)
        assert json.loads(fresh[0]["data"])["batch_id"] == second != first


async def test_resume_from_last_event_id_and_filter_by_batch(env):
    first = await create(env)
    second = await create(env)
    events = await logged(env)
    assert len(events) >= 2
    middle = events[0]["seq"]
    async with env.client.get(STREAM, headers={"Last-Event-ID": str(middle)}) as resp:
        frames = await read_frames(resp, 1)
        assert int(frames[0]["id"]) == middle + 1
    async with env.client.get(STREAM + "?after=0", headers={"Last-Event-ID": str(middle)}) as resp:
        assert int((await read_frames(resp, 1))[0]["id"]) == middle + 1  # the header wins over ?after=
    ours = await logged(env, second)
    async with env.client.get(STREAM + f"?batch={second}") as resp:
        frames = await read_frames(resp, len(ours))
        assert {json.loads(f["data"])["batch_id"] for f in frames} == {second}
        assert [int(f["id"]) for f in frames] == [e["seq"] for e in ours]
    assert first != second
    bad = await env.client.get(STREAM, headers={"Last-Event-ID": "abc"})
    assert bad.status == 400 and (await bad.json())["error"] == "invalid_last_event_id"
    missing = await env.client.get(STREAM + "?batch=" + "0" * 32)
    assert missing.status == 404 and (await missing.json())["error"] == "batch_not_found"


async def test_heartbeat_comment_when_nothing_happens(env):
    env.context.streams.heartbeat_seconds = 0.2
    async with env.client.get(STREAM) as resp:
        seen = b""
        async with asyncio.timeout(3):
            while b": heartbeat" not in seen:
                seen += await resp.content.readany()


async def test_cap_answers_429_and_a_closed_stream_frees_its_slot(env):
    hub = env.context.streams
    a = await env.client.get(STREAM)
    b = await env.client.get(STREAM)
    await a.content.readline()
    await b.content.readline()
    third = await env.client.get(STREAM)
    body = await third.json()
    assert third.status == 429 and body["error"] == "too_many_streams" and third.headers["Retry-After"] == "5"
    a.close()
    for _ in range(100):  # noticed within the poll interval (1 s)
        if hub.open_streams <= 1:
            break
        await asyncio.sleep(0.05)
    assert hub.open_streams == 1
    async with env.client.get(STREAM) as again:
        assert again.status == 200
    b.close()


async def test_stream_needs_read_scope_and_carries_cors_headers_for_an_allowed_origin(aiohttp_client, tmp_path):
    env = await make_env(aiohttp_client, tmp_path,
                         middlewares=lambda mounted: [cors_middleware(mounted, ("http://localhost:3000",)), fake_peer])
    try:
        remote = {"X-Test-Peer": "10.200.0.2"}
        assert (await env.client.get(STREAM, headers=remote)).status == 401
        _, token = env.tokens.create("web", "read")
        headers = {**remote, "Origin": "http://localhost:3000", "Authorization": f"Bearer {token}"}
        async with env.client.get(STREAM, headers=headers) as resp:
            assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    finally:
        await env.store.close()


async def test_caught_up_streams_share_encoded_frames_instead_of_reading_the_log(env):
    await create(env)
    reads = 0
    original = env.store.list_events

    async def counting(*args, **kwargs):
        nonlocal reads
        reads += 1
        return await original(*args, **kwargs)

    env.store.list_events = counting
    async with env.client.get(STREAM) as one, env.client.get(STREAM) as two:
        before = len(await logged(env))
        await read_frames(one, before)
        await read_frames(two, before)
        reads = 0
        batch = await create(env)
        got_one, got_two = await read_frames(one, 1), await read_frames(two, 1)
        assert reads == 0  # both followed the commit from the hub's ring, no read of the log
        new = [e for e in await logged(env) if e["batch_id"] == batch]
        assert [int(f["id"]) for f in got_one] == [int(f["id"]) for f in got_two] == [new[0]["seq"]]
        assert json.loads(got_one[0]["data"]) == new[0]
