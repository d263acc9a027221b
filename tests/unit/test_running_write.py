"""'running' is written for a job that runs 0.1 s or longer, woken by one timer (not one per started job)."""

from __future__ import annotations

import asyncio

from batchgen_ext.batchgen.models import JobStatus

from tests.unit.enginekit import add_batch, start_proc, stop_proc, wait_until


async def test_a_job_running_a_while_is_written_running_without_waiting_for_a_tick(tmp_path):
    proc = await start_proc(tmp_path / "db.sqlite3", tmp_path / "output", tick_seconds=30)  # no tick would wake it
    proc.host.job_seconds = 1.0
    try:
        bid = await add_batch(proc.store, 3)
        proc.dispatcher.wake()

        async def written_running() -> bool:
            jobs, _ = await proc.store.list_jobs(bid, ["running"])
            return len(jobs) == 1

        started = asyncio.get_running_loop().time()
        await wait_until(written_running, timeout=0.8, what="the running job's row")
        assert asyncio.get_running_loop().time() - started < 0.6
        timers = [h for h in asyncio.get_running_loop()._scheduled if not h.cancelled()
                  and getattr(h._callback, "__func__", None) is type(proc.dispatcher).wake]
        assert len(timers) <= 1
        job = (await proc.store.list_jobs(bid, ["running"]))[0][0]
        assert job.status is JobStatus.RUNNING and job.started_at is not None
    finally:
        await stop_proc(proc)
