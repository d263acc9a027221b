"""The durable event log: written with each change, one publisher, seq order, replay across a restart, retention."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from batchgen_ext.batchgen import ids
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.models import JobStatus
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import JobUpdate, Store, events_sql

from tests.fakehost import FakeHost
from tests.unit.enginekit import add_batch

ROOT = Path(__file__).resolve().parents[2]
LOGGED = (ids.EVENT_JOB, ids.EVENT_BATCH, ids.EVENT_BATCH_DELETED)


async def open_service(tmp_path: Path) -> tuple[Store, FakeHost, Dispatcher, BatchService]:
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp_path / "output")
    config = Config(window=2)
    dispatcher = Dispatcher(store, host, config)
    service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", tmp_path / "templates"), dispatcher, config, "t")
    return store, host, dispatcher, service


async def all_events(service: BatchService, after: int = 0, batch_id: str | None = None) -> list[dict]:
    out: list[dict] = []
    while True:
        page = await service.list_events(after, batch_id, 7)  # small pages: paging must be seamless
        out += page["events"]
        if not page["has_more"]:
            return out
        after = page["events"][-1]["seq"]


async def test_every_event_sent_is_in_the_log_in_seq_order_and_replays_after_a_restart(tmp_path):
    store, host, dispatcher, service = await open_service(tmp_path)
    batch, _ = await service.create_batch({"template": "text-card", "prompts": ["a", "b", "c"]})
    await host.run_all(dispatcher)
    sent = [(name, data) for name, data in host.events if name in LOGGED]
    logged = await all_events(service)
    assert [(e["type"], e["data"]) for e in logged] == sent, "the websocket and the log disagree"
    seqs = [e["seq"] for e in logged]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and all(d["seq"] for _, d in sent)
    jobs = [e for e in logged if e["type"] == ids.EVENT_JOB]
    assert {e["data"]["status"] for e in jobs} == {"queued", "succeeded"} and len(jobs) == 6
    assert all(e["batch_id"] == batch.id and e["job_id"] == e["data"]["id"] for e in jobs)
    assert logged[0]["type"] == ids.EVENT_BATCH and logged[0]["data"]["status"] == "pending", "creation is logged"
    assert logged[-1]["data"]["status"] == "succeeded" and logged[-1]["data"]["counts"]["succeeded"] == 3
    middle = seqs[len(seqs) // 2]
    await dispatcher.stop()
    await store.close()

    store, host, dispatcher, service = await open_service(tmp_path)  # a restart
    try:
        after = await all_events(service, middle)
        assert after == [e for e in logged if e["seq"] > middle], "GET /events?after=N must return every event after N, in order"
        page = await service.list_events(0, None, 1000)
        assert (page["last_seq"], page["oldest_seq"], page["has_more"]) == (seqs[-1], seqs[0], False)
        assert await all_events(service, 0, batch.id) == logged
        with pytest.raises(ApiError) as err:
            await service.list_events(0, "nope", 10)
        assert (err.value.status, err.value.code) == (404, "batch_not_found")
        empty = await service.list_events(seqs[-1], None, 10)
        assert empty["events"] == [] and empty["last_seq"] == seqs[-1]
        # the next change continues the sequence, and goes to the websocket with its seq
        await service.delete_batch(batch.id)
        (deleted,) = [d for n, d in host.events if n == ids.EVENT_BATCH_DELETED]
        assert deleted["seq"] == seqs[-1] + 1 and deleted["id"] == batch.id
    finally:
        await dispatcher.stop()
        await store.close()


async def test_a_rolled_back_change_logs_nothing(tmp_path):
    store, host, dispatcher, service = await open_service(tmp_path)
    try:
        await service.create_batch({"template": "text-card", "prompts": ["a"]}, idempotency_key="k")
        before = (await service.list_events(0, None, 1000))["last_seq"]
        with sqlite3.connect(store.path) as conn:  # make the next insert fail inside its transaction
            conn.execute("CREATE TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        with pytest.raises(sqlite3.IntegrityError):
            await service.create_batch({"template": "text-card", "prompts": ["b"]})
        page = await service.list_events(0, None, 1000)
        assert page["last_seq"] == before, "an event was logged for a change that was rolled back"
        assert [n for n, _ in host.events if n == ids.EVENT_BATCH] == [ids.EVENT_BATCH], "a rolled-back change was published"
    finally:
        await store.close()


async def test_throttled_batch_counts_are_logged_eventually_so_a_replay_ends_with_the_final_counts(tmp_path):
    store, host, dispatcher, service = await open_service(tmp_path)
    try:
        bid = await add_batch(store, 40)
        await store.apply([JobUpdate(j, (JobStatus.PENDING,), JobStatus.QUEUED) for j in range(1, 41)])
        for job_id in range(1, 41):  # 40 counter-only changes in a burst
            await store.apply([JobUpdate(job_id, (JobStatus.QUEUED,), JobStatus.SUCCEEDED if job_id < 40 else JobStatus.RUNNING)])
        batch_events = [e for e in (await all_events(service, 0, bid)) if e["type"] == ids.EVENT_BATCH]
        assert len(batch_events) < 20, f"{len(batch_events)} batch events for one burst: not throttled"
        await asyncio.sleep(events_sql.BATCH_THROTTLE_SECONDS + 0.05)
        await store.flush_events()  # the dispatcher loop does this every pass
        last = [e for e in (await all_events(service, 0, bid)) if e["type"] == ids.EVENT_BATCH][-1]
        assert last["data"]["counts"]["succeeded"] == 39 and last["data"]["counts"]["running"] == 1
        assert [d for n, d in host.events if n == ids.EVENT_BATCH][-1] == last["data"], "the final counts were not published"
    finally:
        await store.close()


async def test_retention_keeps_the_newest_events(tmp_path, monkeypatch):
    monkeypatch.setattr(events_sql, "PRUNE_EVERY", 10)
    store = Store(tmp_path / "db.sqlite3", event_retention=30)
    await store.open()
    try:
        bid = await add_batch(store, 100)
        for job_id in range(1, 101):
            await store.apply([JobUpdate(job_id, (JobStatus.PENDING,), JobStatus.FAILED)])
        events, last, oldest, _ = await store.list_events(0, None, 1000)
        assert 30 <= len(events) <= 40, len(events)
        assert oldest == events[0].seq and last == events[-1].seq and last - oldest == len(events) - 1
        assert events[-1].batch_id == bid
    finally:
        await store.close()


async def test_events_committed_by_another_process_reach_this_process_s_websocket_in_order(tmp_path):
    db = tmp_path / "db.sqlite3"
    here, there = Store(db), Store(db)
    await here.open()
    await there.open()
    sent: list[tuple[str, dict]] = []
    host = FakeHost(output_dir=tmp_path / "out")
    host.send_event = lambda name, data: sent.append((name, data))  # type: ignore[method-assign]
    Dispatcher(here, host, Config())
    try:
        bid = await add_batch(there, 2)  # logged by the other process
        await there.apply([JobUpdate(1, (JobStatus.PENDING,), JobStatus.QUEUED)])
        await here.apply([JobUpdate(2, (JobStatus.PENDING,), JobStatus.QUEUED)])  # ours: relays theirs first
        await there.apply([JobUpdate(1, (JobStatus.QUEUED,), JobStatus.SUCCEEDED)])
        await here.poll_events()
        events, *_ = await here.list_events(0, bid, 100)
        assert [d["seq"] for _, d in sent] == [e.seq for e in events], "missing, duplicated or out of order"
    finally:
        await here.close()
        await there.close()
