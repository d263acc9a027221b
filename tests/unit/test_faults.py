"""Fault injection on the REAL dispatcher loop (Dispatcher.start(), a background worker, SQLite files).

A store error at every write point in turn (before the commit, and after it as a lost reply),
store reads failing, enqueue and prepare raising, a cancel racing a completion: every job still
ends exactly once, nothing runs twice, and no restart is needed.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter

import pytest
from batchgen_ext.batchgen import ids
from batchgen_ext.batchgen.models import JobStatus
from batchgen_ext.batchgen.store import Store, StoreBusy

from tests.unit.enginekit import Proc, add_batch, start_proc, stop_proc, terminal, wait_until

N_JOBS = 12
WRITE_POINTS = ["advance_sync", "register_sync", "adopt_sync", "_noop_sync"]
READ_POINTS = ["owned_sync", "batch_flags_sync", "list_owners_sync", "has_due_work_sync", "_fetchall_sync"]


class Faults:
    """Makes every ``every``-th call of one store function fail, at most ``limit`` times."""

    def __init__(self, proc: Proc, point: str, every: int = 2, limit: int = 4, after_commit: bool = False,
                 error: type[Exception] = StoreBusy) -> None:
        self.point, self.every, self.limit, self.after_commit, self.error = point, every, limit, after_commit, error
        self.calls = self.injected = 0
        store = proc.store
        real_tx, real_read = store.run_in_transaction, store.run_read

        async def run_in_transaction(fn, *args):
            if self._hit(fn) and not self.after_commit:
                raise self._make()
            result = await real_tx(fn, *args)
            if self.after_commit and self._last_hit:
                raise self._make()  # committed, but the caller never hears of it
            return result

        async def run_read(fn, *args):
            if self._hit(fn):
                raise self._make()
            return await real_read(fn, *args)

        store.run_in_transaction = run_in_transaction
        store.run_read = run_read
        self._last_hit = False

    def _hit(self, fn) -> bool:
        self._last_hit = False
        if fn.__name__ != self.point or self.injected >= self.limit:
            return False
        self.calls += 1
        if self.calls % self.every:
            return False
        self.injected += 1
        self._last_hit = True
        return True

    def _make(self) -> Exception:
        return self.error("database is locked") if self.error is StoreBusy else sqlite3.OperationalError("disk I/O error")


async def assert_each_job_ended_once(proc: Proc, bid: str, expect: JobStatus | None = JobStatus.SUCCEEDED,
                                     store: Store | None = None) -> list:
    store = store or proc.store
    jobs, _ = await store.list_jobs(bid, limit=1000)
    assert all(j.status.terminal for j in jobs), [(j.idx, j.status) for j in jobs]
    if expect is not None:
        assert all(j.status is expect for j in jobs), [(j.idx, j.status, j.error) for j in jobs if j.status is not expect]
    ran = Counter(proc.host.executed)
    assert all(n == 1 for n in ran.values()), f"jobs ran twice: {[j for j, n in ran.items() if n > 1]}"
    events, *_ = await store.list_events(0, bid, 100_000)
    ends = Counter(e.job_id for e in events if e.type == ids.EVENT_JOB and JobStatus(e.data["status"]).terminal)
    if expect is JobStatus.SUCCEEDED:
        assert ends == Counter({j.id: 1 for j in jobs}), "every job must end exactly once in the log"
    else:
        assert all(n == 1 for n in ends.values()), ends
    assert not proc.dispatcher.in_flight, "memory still tracks prompts the store says are finished"
    assert not await store.jobs_by_status([JobStatus.QUEUED, JobStatus.RUNNING])
    return jobs


CASES = [(p, False) for p in WRITE_POINTS + READ_POINTS] + [(p, True) for p in WRITE_POINTS]


@pytest.mark.parametrize(("point", "after_commit"), CASES, ids=[f"{p}-{'reply-lost' if a else 'before-commit'}" for p, a in CASES])
async def test_store_error_at_a_write_or_read_point_loses_nothing_and_runs_nothing_twice(tmp_path, point, after_commit):
    db = tmp_path / "db.sqlite3"
    installed: list[Faults] = []

    def inject(proc: Proc) -> None:
        installed.append(Faults(proc, point, every=1 if point == "adopt_sync" else 2, after_commit=after_commit,
                                error=sqlite3.OperationalError if after_commit else StoreBusy))
        proc.dispatcher.FLAG_CHECK_INTERVAL = 0.0  # read the flags on every step, so that read point is hit

    proc = await start_proc(db, tmp_path / "output", setup=inject, lease_seconds=0.15)
    (faults,) = installed
    observer = Store(db)  # the test's own reads, untouched by the faults
    await observer.open()
    try:
        bid = await add_batch(observer, N_JOBS)
        proc.dispatcher.wake()
        await wait_until(lambda: terminal(observer, bid), what=f"the batch to finish with faults at {point}")
        await asyncio.sleep(0.1)  # let the loop settle its last step
        jobs = await assert_each_job_ended_once(proc, bid, store=observer)
        assert all(j.attempts == 1 for j in jobs), "a store error must not cost a job an attempt"
        if point not in ("_noop_sync",):
            assert faults.injected > 0, f"no fault was injected at {point}"
    finally:
        await stop_proc(proc)
        await observer.close()


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "reply-lost"])
@pytest.mark.parametrize("point", ["cancel_pending_sync", "apply_sync"])
async def test_store_error_in_pause_and_cancel_still_ends_every_job_once(tmp_path, point, after_commit):
    db = tmp_path / "db.sqlite3"
    proc = await start_proc(db, tmp_path / "output", window=3)
    proc.host.job_seconds = 0.03
    observer = Store(db)
    await observer.open()
    faults = Faults(proc, point, every=1, limit=1, after_commit=after_commit)
    try:
        bid = await add_batch(observer, N_JOBS)
        proc.dispatcher.wake()
        await wait_until(lambda: _executed_at_least(proc, 2), what="some progress")
        action = proc.dispatcher.cancel_batch(bid) if point == "cancel_pending_sync" else proc.dispatcher.pull_back(bid)
        if point == "apply_sync":
            await observer.set_batch_flags(bid, paused=1)
        try:
            await action
        except StoreBusy:
            pass  # the API answers 503; the flag (or nothing) was committed and every process honours it
        if point == "cancel_pending_sync" and not after_commit:
            await proc.dispatcher.cancel_batch(bid)  # the user retries after the 503
        if point == "apply_sync":
            await asyncio.sleep(0.3)
            await observer.set_batch_flags(bid, paused=0)
            proc.dispatcher.wake()
        await wait_until(lambda: terminal(observer, bid), what="the batch to end")
        await asyncio.sleep(0.1)
        await assert_each_job_ended_once(proc, bid, expect=JobStatus.SUCCEEDED if point == "apply_sync" else None, store=observer)
        assert faults.injected == 1
    finally:
        await stop_proc(proc)
        await observer.close()


async def test_enqueue_and_prepare_raising_on_the_real_loop(tmp_path):
    proc = await start_proc(tmp_path / "db.sqlite3", tmp_path / "output")
    proc.host.fail_enqueue = 3
    real_prepare, broken = proc.host.prepare, {"n": 2}

    async def flaky_prepare(prompt, shape_key, **kw):
        if broken["n"]:
            broken["n"] -= 1
            raise RuntimeError("ComfyUI's validation crashed")
        return await real_prepare(prompt, shape_key)

    proc.host.prepare = flaky_prepare
    try:
        bid = await add_batch(proc.store, N_JOBS)
        proc.dispatcher.wake()
        await wait_until(lambda: terminal(proc.store, bid), what="the batch to finish despite feed errors")
        await asyncio.sleep(0.05)
        jobs = await assert_each_job_ended_once(proc, bid)
        assert all(j.attempts == 1 for j in jobs), "an attempt that never reached ComfyUI must not count"
        assert proc.host.fail_enqueue == 0 and broken["n"] == 0
    finally:
        await stop_proc(proc)


@pytest.mark.parametrize("seed", range(6))
async def test_cancel_racing_completions_ends_every_job_once_and_the_batch_cancelled(tmp_path, seed):
    rng = random.Random(seed)
    proc = await start_proc(tmp_path / "db.sqlite3", tmp_path / "output", window=3)
    proc.host.job_seconds = 0.005
    try:
        bid = await add_batch(proc.store, 20)
        proc.dispatcher.wake()
        target = rng.randint(1, 8)
        # Cancel at the instant a completion lands in ComfyUI's history, before the dispatcher has seen it.
        await wait_until(lambda: _executed_at_least(proc, target), what="some completions")
        await proc.dispatcher.cancel_batch(bid)
        await wait_until(lambda: terminal(proc.store, bid), what="the cancelled batch to reach a terminal status")
        await asyncio.sleep(0.05)
        await assert_each_job_ended_once(proc, bid, expect=None)
        batch = await proc.store.get_batch(bid)
        assert batch.status.value in ("cancelled", "partial") and batch.cancelled
        assert batch.counts.succeeded + batch.counts.cancelled == 20
        jobs, _ = await proc.store.list_jobs(bid, limit=100)
        assert {j.id for j in jobs if j.status is JobStatus.SUCCEEDED} == set(proc.host.executed), "a finished job was lost or invented"
    finally:
        await stop_proc(proc)


async def _executed_at_least(proc: Proc, n: int) -> bool:
    return len(proc.host.executed) >= n
