"""Retry of a paused-then-cancelled batch: the requeue and the un-pause are one store transaction."""

from __future__ import annotations

from batchgen_ext.batchgen.store import StoreBusy, jobs_sql

from tests.api.test_api import API, card, create, error_of, post


async def _paused_and_cancelled(env) -> str:
    bid = (await create(env, card(3)))["id"]
    await env.dispatcher.step()
    assert (await post(env, f"/batches/{bid}/pause")).status == 200
    cancelled = await (await post(env, f"/batches/{bid}/cancel")).json()
    assert cancelled["paused"] is True and cancelled["counts"]["cancelled"] == 3
    return bid


async def test_retry_unpauses_without_a_second_write(env, monkeypatch):
    bid = await _paused_and_cancelled(env)

    async def no_second_write(*args, **kwargs):
        raise StoreBusy("database is locked")  # a store error after the requeue committed

    monkeypatch.setattr(env.store, "set_batch_flags", no_second_write)
    resp = await post(env, f"/batches/{bid}/retry")
    retried = await resp.json()
    assert resp.status == 200, retried
    assert retried["retried"] == 3 and retried["paused"] is False and retried["status"] == "pending"
    monkeypatch.undo()
    await env.host.run_all(env.dispatcher)
    assert (await (await env.client.get(f"{API}/batches/{bid}")).json())["status"] == "succeeded"


async def test_a_failed_retry_changes_nothing(env, monkeypatch):
    bid = await _paused_and_cancelled(env)

    def fail(*args, **kwargs):
        raise StoreBusy("database is locked")  # inside the one transaction, after the jobs were moved

    monkeypatch.setattr(jobs_sql, "refresh_batches", fail)
    await error_of(await post(env, f"/batches/{bid}/retry"), 503)
    monkeypatch.undo()
    batch = await (await env.client.get(f"{API}/batches/{bid}")).json()
    assert batch["paused"] is True and batch["status"] == "cancelled" and batch["counts"]["cancelled"] == 3
    jobs = (await (await env.client.get(f"{API}/batches/{bid}/jobs")).json())["jobs"]
    assert [j["status"] for j in jobs] == ["cancelled"] * 3
