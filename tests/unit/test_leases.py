"""Two dispatchers (two owners) on ONE SQLite file: a shared batch runs each job once; a dead owner's jobs are adopted."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter

from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.leases import OwnerIdentity, OwnerRow, expired_owners, new_owner
from batchgen_ext.batchgen.models import BatchStatus, JobStatus
from batchgen_ext.batchgen.schema import MIGRATIONS
from batchgen_ext.batchgen.store import JobUpdate, Store
from batchgen_ext.batchgen.templates import build_template

from tests.unit.enginekit import WORKFLOW, WorkerHost, add_batch, files_per_job, start_proc, stop_proc, terminal, wait_until

LEASE = 1.0


async def test_two_owners_share_one_batch_and_run_each_job_exactly_once(tmp_path):
    db, out = tmp_path / "db.sqlite3", tmp_path / "output"
    a = await start_proc(db, out, lease_seconds=LEASE)
    b = await start_proc(db, out, lease_seconds=LEASE)
    try:
        bid = await add_batch(a.store, 60)
        a.dispatcher.wake()
        b.dispatcher.wake()
        await wait_until(lambda: terminal(a.store, bid), what="the shared batch to finish")
        jobs, _ = await a.store.list_jobs(bid, limit=1000)
        assert all(j.status is JobStatus.SUCCEEDED and j.attempts == 1 for j in jobs)
        runs = Counter(job for job, _ in a.host.enqueued + b.host.enqueued)
        assert runs == Counter({j.id: 1 for j in jobs}), "a job was put into a queue twice or never"
        assert a.host.executed and b.host.executed, "one process did all the work: the backlog was not shared"
        owner_of = {j.id: j.owner_id for j in jobs}
        assert all(owner_of[job] == a.dispatcher.owner.owner_id for job in a.host.executed)
        assert all(owner_of[job] == b.dispatcher.owner.owner_id for job in b.host.executed)
        assert all(n == 1 for n in files_per_job(out, bid).values()) and len(files_per_job(out, bid)) == 60
    finally:
        await stop_proc(a)
        await stop_proc(b)


async def test_a_killed_owner_s_jobs_are_adopted_after_the_lease_and_finish_once(tmp_path):
    db, out = tmp_path / "db.sqlite3", tmp_path / "output"
    a = await start_proc(db, out, lease_seconds=LEASE)
    b = await start_proc(db, out, lease_seconds=LEASE)
    a.host.job_seconds = b.host.job_seconds = 0.02
    try:
        bid = await add_batch(a.store, 40)
        a.dispatcher.wake()
        await wait_until(lambda: _has_in_flight(a), what="process A to hold jobs")
        await wait_until(lambda: _succeeded_at_least(a.store, bid, 6), what="some progress")
        killed_at = time.monotonic()
        await stop_proc(a, release=False)  # kill -9: no release, no more renewals
        held = {j.id for j in await b.store.owned_in_flight(a.dispatcher.owner.owner_id)}
        assert held, "A held nothing at the kill"
        await wait_until(lambda: _adopted(b, held), timeout=LEASE * 5, what="B to adopt A's jobs")
        assert time.monotonic() - killed_at >= LEASE * 0.6, "adopted before A's lease could have expired"
        await wait_until(lambda: terminal(b.store, bid), what="B to finish the batch")
        jobs, _ = await b.store.list_jobs(bid, limit=1000)
        assert all(j.status is JobStatus.SUCCEEDED for j in jobs), [(j.idx, j.status) for j in jobs if j.status is not JobStatus.SUCCEEDED]
        per_job = files_per_job(out, bid)
        assert sorted(per_job) == list(range(40)) and set(per_job.values()) == {1}, "a job ran twice or was lost"
        assert b.dispatcher.adopted >= len(held)
    finally:
        await stop_proc(b)


async def _has_in_flight(proc) -> bool:
    return bool(proc.dispatcher.in_flight)


async def _succeeded_at_least(store, bid, n) -> bool:
    return (await store.get_batch(bid)).counts.succeeded >= n


async def _adopted(proc, held) -> bool:
    return proc.dispatcher.adopted >= len(held)


async def test_a_stale_owner_s_late_outcome_is_refused_and_dropped_without_a_write(tmp_path):
    db, out = tmp_path / "db.sqlite3", tmp_path / "output"
    store_a, store_b = Store(db), Store(db)
    await store_a.open()
    await store_b.open()
    host_a, host_b = WorkerHost(output_dir=out), WorkerHost(output_dir=out)
    cfg = Config(window=1, tick_seconds=0.02, lease_seconds=LEASE)
    a, b = Dispatcher(store_a, host_a, cfg), Dispatcher(store_b, host_b, cfg)
    try:
        bid = await add_batch(store_a, 2)
        await a.step()  # A claims job 0 and puts it into its queue
        ((job_id, old_pid),) = host_a.enqueued
        host_a.start_next()  # running in A's ComfyUI ...
        await asyncio.sleep(LEASE * 1.1)  # ... while A is suspended past its lease
        await b.step()  # B adopts job 0 (vanished from B's view: back to pending) and claims it again
        await b.step()
        adopted = await store_b.get_job(job_id)
        assert adopted.owner_id == b.owner.owner_id and adopted.prompt_id != old_pid
        # The stale attempt's outcome, written directly: refused by the compare-and-set.
        stale = JobUpdate(job_id, (JobStatus.QUEUED, JobStatus.RUNNING), JobStatus.SUCCEEDED, {}, prompt_id=old_pid,
                          owner_id=a.owner.owner_id)
        applied = await store_a.apply([stale])
        assert not applied.jobs and applied.skipped == [stale]
        # A wakes up, its prompt finishes, its dispatcher observes it before its housekeeping: CAS refused, dropped.
        host_a.finish_running()
        a._last_lease = a.clock()
        await a.step()
        assert old_pid not in a.in_flight
        after = await store_a.get_job(job_id)
        # The job is B's again, or (A being alive again, with a free slot) claimed anew as a NEW attempt: never the stale one.
        assert after.prompt_id != old_pid and not after.status.terminal, "the stale outcome landed"
        events, *_ = await store_a.list_events(0, bid, 1000)
        terminal_events = [e for e in events if e.job_id == job_id and e.data["status"] in ("succeeded", "failed", "cancelled")]
        assert terminal_events == [], "an outcome was logged for the stale attempt"
    finally:
        for d in (a, b):
            await d.stop()
        await store_a.close()
        await store_b.close()


def test_expired_owners_by_lease_and_by_a_dead_pid_on_this_machine():
    me = OwnerIdentity("me", "me", "h", 100, "boot:ns", 0.0)
    rows = [OwnerRow("fresh", "f", 200, "boot:ns", 95.0), OwnerRow("old", "o", 201, "boot:ns", 80.0),
            OwnerRow("dead", "d", 202, "boot:ns", 99.0), OwnerRow("elsewhere", "e", 202, "other:ns", 99.0), OwnerRow("me", "me", 100, "boot:ns", 0.0)]
    found = {o.owner_id for o in expired_owners(rows, me, 100.0, 15.0, alive=lambda pid: pid != 202)}
    assert found == {"old", "dead"}, "a pid only means something on the same boot and pid namespace"
    assert new_owner().owner_id != new_owner().owner_id


async def test_a_database_of_the_previous_version_migrates_and_its_in_flight_jobs_are_recovered(tmp_path):
    db, out = tmp_path / "v2.sqlite3", tmp_path / "output"
    v2 = sqlite3.connect(db)
    v2.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
    for version, sql in MIGRATIONS[:2]:
        for statement in (s.strip() for s in sql.split(";")):
            if statement:
                v2.execute(statement)
        v2.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    snapshot = json.dumps(build_template(WORKFLOW, {"color": "1.color"}).snapshot())
    v2.execute("INSERT INTO batches (id, seq, name, status, template_json, output_subfolder, total, n_pending, n_queued, "
               "created_at, updated_at) VALUES ('old', 1, 'old', 'running', ?, 'batchgen/old', 3, 2, 1, 0, 0)", (snapshot,))
    # What the previous version left behind: job 0 queued in a ComfyUI that is gone, with its boot_id.
    v2.executemany("INSERT INTO jobs (batch_id, idx, status, params_json, attempts, prompt_id, boot_id, created_at) "
                   "VALUES ('old', ?, ?, ?, ?, ?, ?, 0)",
                   [(0, "queued", '{"color": 0}', 1, "p-old", "boot-1"), (1, "pending", '{"color": 1}', 0, None, None),
                    (2, "pending", '{"color": 2}', 0, None, None)])
    v2.commit()
    v2.close()
    proc = await start_proc(db, out, lease_seconds=LEASE)
    try:
        await wait_until(lambda: terminal(proc.store, "old"), what="the migrated batch to finish")
        jobs, _ = await proc.store.list_jobs("old")
        assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 3
        assert jobs[0].attempts == 1, "the old queued attempt never ran: it must not count"
        assert (await proc.store.get_batch("old")).status is BatchStatus.SUCCEEDED
        events, last, _, _ = await proc.store.list_events(0, "old", 100)
        assert last > 0 and events[-1].data["status"] == "succeeded"
    finally:
        await stop_proc(proc)
    with sqlite3.connect(db) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == [v for v, _ in MIGRATIONS]
