"""Bulk routes: the collector is paused while a batch is built (not while its body is still arriving), and on again after."""

from __future__ import annotations

import asyncio
import gc
import json
import sys

from tests.api.test_api import API


async def test_a_batch_is_built_with_the_collector_paused_and_it_is_on_again_once_answered(env):
    seen: list[tuple[bool, float]] = []
    original = env.host.prepare

    async def prepare(prompt, shape_key, *, cached=True):
        # ComfyUI's validation runs in the middle of accepting the batch.
        seen.append((gc.isenabled(), sys.getswitchinterval()))
        return await original(prompt, shape_key, cached=cached)

    env.host.prepare = prepare
    interval = sys.getswitchinterval()
    assert gc.isenabled()
    resp = await env.client.post(f"{API}/batches", json={"template": "text-card", "prompts": [f"p {i}" for i in range(50)]})
    assert resp.status == 201, await resp.text()
    # Collector off, and the event loop waits at most 1 ms for the GIL (GET /prompt stays quick meanwhile).
    assert seen and set(seen) == {(False, 0.001)}
    assert gc.isenabled() and sys.getswitchinterval() == interval
    resp = await env.client.post(f"{API}/batches/preview", json={"template": "text-card", "prompts": ["a", "b"]})
    assert resp.status == 200 and gc.isenabled() and sys.getswitchinterval() == interval


async def test_the_collector_stays_on_while_a_slow_client_is_still_sending_the_body(env):
    body = json.dumps({"template": "text-card", "prompts": ["slow"] * 10}).encode()
    half_sent, go_on = asyncio.Event(), asyncio.Event()
    during: list[bool] = []

    async def slowly():
        yield body[: len(body) // 2]
        half_sent.set()
        await go_on.wait()
        yield body[len(body) // 2 :]

    async def watch():
        await half_sent.wait()
        await asyncio.sleep(0.1)  # the server has the first half and waits for the rest
        during.append(gc.isenabled())
        go_on.set()

    watcher = asyncio.create_task(watch())
    resp = await env.client.post(f"{API}/batches", data=slowly(), headers={"Content-Type": "application/json"})
    await watcher
    assert resp.status == 201, await resp.text()
    assert during == [True]
    assert gc.isenabled()


async def test_a_refused_batch_switches_the_collector_back_on_too(env):
    resp = await env.client.post(f"{API}/batches", json={"template": "text-card", "prompts": ["x"], "params": {"nope": 1}})
    assert resp.status == 400
    assert gc.isenabled()


async def test_an_uploaded_table_is_checked_with_the_collector_paused(env, monkeypatch):
    from batchgen_ext.batchgen import upload_checks

    from tests.api.test_uploads_api import upload

    seen: list[bool] = []
    original = upload_checks.check_table

    def check_table(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(upload_checks, "check_table", check_table)
    table = await upload(env, "prompt\n" + "".join(f"row {i}\n" for i in range(100)), "rows.csv", "text/csv")
    assert table["rows"] == 100
    assert seen == [False]
    assert gc.isenabled()
