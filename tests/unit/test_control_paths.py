"""Cancel and pause honoured on every path and across processes; retry backoff never idles the worker; history release."""

from __future__ import annotations

import asyncio

from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.models import BatchStatus, JobError, JobOutcome, JobStatus
from batchgen_ext.batchgen.store import Store

from tests.unit.enginekit import WorkerHost, add_batch, start_proc, stop_proc, terminal, wait_until

OOM = JobOutcome(JobStatus.FAILED, (), JobError("out_of_memory", "CUDA out of memory", transient=True))


async def open_pair(tmp_path, **config):
    """A hand-stepped dispatcher and a second store on the same file (another process's view)."""
    db = tmp_path / "db.sqlite3"
    store, other = Store(db), Store(db)
    await store.open()
    await other.open()
    host = WorkerHost(output_dir=tmp_path / "output")
    dispatcher = Dispatcher(store, host, Config(**{"window": 2, "tick_seconds": 0.02, **config}))
    return store, other, host, dispatcher


async def test_cancel_sent_to_another_process_interrupts_and_pulls_back_our_prompts(tmp_path):
    proc = await start_proc(tmp_path / "db.sqlite3", tmp_path / "output", window=3)
    proc.host.job_seconds = 5.0
    other = Store(tmp_path / "db.sqlite3")
    await other.open()
    try:
        bid = await add_batch(other, 10)
        proc.dispatcher.wake()
        await wait_until(lambda: _running(proc), what="a running job")
        sent = asyncio.get_running_loop().time()
        await other.cancel_pending(bid)  # the cancel arrives at the OTHER process's API
        await wait_until(lambda: terminal(other, bid), timeout=3, what="the batch to end cancelled")
        assert asyncio.get_running_loop().time() - sent < 1.0, "a cancel elsewhere must be noticed within a few ticks"
        batch = await other.get_batch(bid)
        assert batch.status is BatchStatus.CANCELLED and batch.counts.cancelled == 10
        assert not proc.host.pending and proc.host.running is None, "our prompts of the cancelled batch are still in ComfyUI"
        assert proc.host.executed == [], "the running job was not interrupted"
    finally:
        await stop_proc(proc)
        await other.close()


async def _running(proc) -> bool:
    return proc.host.running is not None


async def test_pause_sent_to_another_process_pulls_back_our_queued_prompts(tmp_path):
    store, other, host, d = await open_pair(tmp_path, window=3)
    try:
        bid = await add_batch(other, 6)
        await d.step()
        host.start_next()
        assert len(host.pending) == 2
        await other.set_batch_flags(bid, paused=1)
        d._last_flags = float("-inf")
        await d.step()
        assert not host.pending, "queued prompts of a batch paused elsewhere stay in ComfyUI's queue"
        jobs, _ = await store.list_jobs(bid)
        assert [j.status for j in jobs].count(JobStatus.QUEUED) == 1  # the running one (not yet written as running)
        assert all(j.attempts == 0 for j in jobs if j.status is JobStatus.PENDING)
    finally:
        await store.close()
        await other.close()


async def test_a_prompt_of_a_cancelled_batch_that_vanishes_ends_cancelled_even_if_the_dispatcher_did_not_know(tmp_path):
    store, other, host, d = await open_pair(tmp_path)
    d.FLAG_CHECK_INTERVAL = 1e9  # this dispatcher never reads the flags: the store alone must honour the cancel
    try:
        bid = await add_batch(other, 2)
        await d.step()
        await d.step()
        await other.cancel_pending(bid)
        host.pending.clear()  # both prompts vanish (ComfyUI restarted, queue cleared)
        await d.step()
        batch = await store.get_batch(bid)
        assert batch.status is BatchStatus.CANCELLED and batch.counts.cancelled == 2, batch.counts
        assert not d.in_flight
    finally:
        await store.close()
        await other.close()


async def test_jobs_of_a_cancelled_batch_found_in_flight_at_restart_end_cancelled(tmp_path):
    store, other, host, d = await open_pair(tmp_path, window=3)
    try:
        bid = await add_batch(other, 5)
        await d.step()  # three in flight, then the process dies
        await other.cancel_pending(bid)
        restarted = Dispatcher(other, WorkerHost(output_dir=tmp_path / "output"), Config(window=3, tick_seconds=0.02, lease_seconds=0.3))
        await restarted.start()
        try:
            await wait_until(lambda: terminal(other, bid), timeout=3, what="a cancelled batch to reach a terminal status")
        finally:
            await restarted.stop()
        batch = await other.get_batch(bid)
        assert (batch.status, batch.counts.cancelled) == (BatchStatus.CANCELLED, 5)
    finally:
        await store.close()
        await other.close()


async def test_a_high_priority_batch_in_retry_backoff_does_not_block_a_lower_priority_one(tmp_path):
    store, other, host, d = await open_pair(tmp_path, window=1, retry_backoff_seconds=60, retry_backoff_max_seconds=60)
    try:
        high = await add_batch(store, 1, "high", priority=10)
        low = await add_batch(store, 2, "low")
        await d.step()
        assert host.enqueued and (await store.get_job(host.enqueued[0][0])).batch_id == high
        host.start_next()
        host.finish_running(OOM)  # transient: retried in 60 s
        await d.step()
        await d.step()
        fed = [(await store.get_job(job)).batch_id for job, _ in host.enqueued]
        assert fed == [high, low], "the worker idled while a lower-priority batch had work due"
    finally:
        await store.close()
        await other.close()


async def test_prompts_are_released_from_comfyui_history_only_after_their_outcome_is_committed(tmp_path):
    store, other, host, d = await open_pair(tmp_path)
    committed_at_release: list[JobStatus] = []
    real_release = host.release

    def release(prompt_ids):
        for pid in prompt_ids:
            job = next(j for j, p in host.enqueued if p == pid)
            row = other._inline.execute("SELECT status FROM jobs WHERE id = ?", (job,)).fetchone()
            committed_at_release.append(JobStatus(row["status"]))
        real_release(prompt_ids)

    host.release = release  # type: ignore[method-assign]
    try:
        bid = await add_batch(store, 4)
        await host.run_all(d)
        assert (await store.get_batch(bid)).status is BatchStatus.SUCCEEDED
        assert sorted(host.released) == sorted(p for _, p in host.enqueued)
        assert committed_at_release == [JobStatus.SUCCEEDED] * 4
    finally:
        await store.close()
        await other.close()


async def test_pending_jobs_are_claimed_by_one_process_only(tmp_path):
    db = tmp_path / "db.sqlite3"
    stores = [Store(db) for _ in range(4)]
    for s in stores:
        await s.open()
    try:
        await add_batch(stores[0], 50)
        claims = await asyncio.gather(*(s.advance([], 20, 1e12, f"owner-{i}") for i, s in enumerate(stores)))
        ids = [item.job_id for _, items in claims for item in items]
        assert len(ids) == len(set(ids)) == 50, "a job was claimed twice"
    finally:
        for s in stores:
            await s.close()
