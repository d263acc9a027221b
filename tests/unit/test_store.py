"""SQLite store: durability settings, migrations, big batches, counters, status derivation, locking."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import uuid

import aiosqlite
import pytest
from batchgen_ext.batchgen.expansion import JobSpec
from batchgen_ext.batchgen.models import BatchStatus, JobCounts, JobError, JobStatus, OutputFile, derive_batch_status
from batchgen_ext.batchgen.schema import MIGRATIONS
from batchgen_ext.batchgen.store import JobUpdate, NewBatch, Store, StoreBusy
from batchgen_ext.batchgen.templates import build_template

from tests.unit.graphs import card_graph

SNAPSHOT = build_template(card_graph()).snapshot()


def new_batch(**kw) -> NewBatch:
    bid = kw.pop("id", None) or uuid.uuid4().hex
    return NewBatch(id=bid, name=kw.pop("name", "b"), template_id=None, template=SNAPSHOT, output_subfolder=f"batchgen/{bid[:8]}", **kw)


def specs(n: int) -> list[JobSpec]:
    return [JobSpec({"prompt": f"prompt {i}", "seed": i}, i) for i in range(n)]


@pytest.fixture
async def store(tmp_path):
    s = Store(tmp_path / "db" / "batchgen.sqlite3")
    await s.open()
    yield s
    await s.close()


def raw(store: Store) -> sqlite3.Connection:
    """An independent connection to the same file (what another process would see)."""
    conn = sqlite3.connect(store.path, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


async def pragma(conn: aiosqlite.Connection, name: str):
    async with conn.execute(f"PRAGMA {name}") as cur:
        return (await cur.fetchone())[0]


# -- durability --------------------------------------------------------------------------------


async def test_database_is_wal_with_synchronous_full_on_every_connection(tmp_path):
    # BATCHGEN_READS=thread: the reader is a second aiosqlite connection.
    store = Store(tmp_path / "db" / "batchgen.sqlite3", inline_reads=False)
    await store.open()
    try:
        for label, conn in (("write", store._write), ("read", store._read)):
            assert (await pragma(conn, "journal_mode")).lower() == "wal", label
            assert await pragma(conn, "synchronous") == 2, f"{label} connection is not synchronous=FULL"
            assert await pragma(conn, "foreign_keys") == 1, label
        # WAL is a property of the file: another process sees it too
        with raw(store) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        await store.close()


async def test_inline_reader_sees_wal_and_never_waits_long(store):
    # The default: reads run on the event loop, so that connection must not sit in a long busy wait.
    assert store._read is None, "no idle reader thread when reads are inline"
    assert store._inline.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    assert store._inline.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._inline.execute("PRAGMA busy_timeout").fetchone()[0] <= 200
    assert (await pragma(store._write, "synchronous")) == 2


async def test_busy_timeout_is_applied(tmp_path):
    s = Store(tmp_path / "x.sqlite3", busy_timeout_ms=1234, inline_reads=False)
    await s.open()
    try:
        assert await pragma(s._write, "busy_timeout") == 1234
        assert await pragma(s._read, "busy_timeout") == 1234
    finally:
        await s.close()


def test_aiosqlite_still_has_the_private_members_the_store_uses():
    # Store.run_in_transaction/run_read call aiosqlite.Connection._execute(fn, ...) and use
    # ._connection (the sqlite3.Connection) to run a whole transaction in one thread hop.
    # If an aiosqlite upgrade removes them, every store write breaks: fix store.py first.
    assert callable(getattr(aiosqlite.Connection, "_execute", None)), (
        "aiosqlite.Connection._execute is gone; batchgen/store.py (run_in_transaction, run_read) relies on it")


async def test_aiosqlite_connection_exposes_the_sqlite3_connection(store):
    assert isinstance(getattr(store._write, "_connection", None), sqlite3.Connection), (
        "aiosqlite.Connection._connection is no longer the sqlite3.Connection; batchgen/store.py (_transaction) relies on it")


# -- migrations --------------------------------------------------------------------------------


async def test_migrations_are_recorded_and_not_reapplied_on_reopen(tmp_path):
    path = tmp_path / "m.sqlite3"
    s = Store(path)
    await s.open()
    try:
        b = await s.create_batch(new_batch(), specs(3))
    finally:
        await s.close()
    with sqlite3.connect(path) as conn:
        first = conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert [v for v, _ in first] == [v for v, _ in MIGRATIONS]

    for _ in range(2):
        s = Store(path)
        await s.open()  # would fail with "table batches already exists" if re-applied
        try:
            assert (await s.get_batch(b.id)).total == 3
        finally:
            await s.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall() == first


# -- batches -----------------------------------------------------------------------------------


async def test_ten_thousand_jobs_in_one_transaction_survive_reopen(tmp_path):
    path = tmp_path / "big.sqlite3"
    s = Store(path)
    await s.open()
    statements: list[str] = []
    try:
        await s._write.set_trace_callback(statements.append)
        t0 = time.perf_counter()
        b = await s.create_batch(new_batch(name="big"), specs(10_000))
        elapsed = time.perf_counter() - t0
        await s._write.set_trace_callback(None)
    finally:
        await s.close()
    assert sum(st.startswith("BEGIN") for st in statements) == 1, "the batch must be inserted in one transaction"
    assert sum(st.startswith("COMMIT") for st in statements) == 1
    assert elapsed < 5, f"inserting 10,000 jobs took {elapsed:.1f}s"
    assert (b.total, b.counts.pending, b.status) == (10_000, 10_000, BatchStatus.PENDING)

    s = Store(path)
    await s.open()
    try:
        again = await s.get_batch(b.id)
        assert (again.total, again.counts.pending) == (10_000, 10_000)
        jobs, total = await s.list_jobs(b.id, limit=3, offset=9_998)
        assert total == 10_000
        assert [j.idx for j in jobs] == [9_998, 9_999]
        assert jobs[-1].params == {"prompt": "prompt 9999", "seed": 9999} and jobs[-1].seed == 9999
    finally:
        await s.close()


async def test_failed_insert_leaves_nothing_behind(store):
    await store.create_batch(new_batch(idempotency_key="k1"), specs(2))
    with pytest.raises(sqlite3.IntegrityError):
        await store.create_batch(new_batch(idempotency_key="k1"), specs(5))
    with raw(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2


async def test_huge_seeds_roundtrip(store):
    big = 2**64 - 1  # ComfyUI accepts seeds up to 0xffffffffffffffff
    b = await store.create_batch(new_batch(), [JobSpec({"seed": big}, big)])
    jobs, _ = await store.list_jobs(b.id)
    assert jobs[0].seed == big


async def test_list_batches_newest_first_with_filter_and_total(store):
    ids = [(await store.create_batch(new_batch(), specs(1))).id for _ in range(5)]
    await store.cancel_pending(ids[1])
    page, total = await store.list_batches(limit=2, offset=0)
    assert total == 5 and [b.id for b in page] == [ids[4], ids[3]]
    cancelled, total = await store.list_batches(["cancelled"])
    assert total == 1 and [b.id for b in cancelled] == [ids[1]]


# -- counters ----------------------------------------------------------------------------------


def check_counters(store: Store) -> None:
    with raw(store) as conn:
        real: dict[str, dict[str, int]] = {}
        for r in conn.execute("SELECT batch_id, status, COUNT(*) AS n FROM jobs GROUP BY batch_id, status"):
            real.setdefault(r["batch_id"], {})[r["status"]] = r["n"]
        for b in conn.execute("SELECT * FROM batches"):
            stored = {s.value: b[f"n_{s.value}"] for s in JobStatus}
            expected = {s.value: real.get(b["id"], {}).get(s.value, 0) for s in JobStatus}
            assert stored == expected, f"batch {b['id'][:8]} counters drifted"
            counts = JobCounts(**stored)
            assert counts.total == b["total"]
            want = derive_batch_status(counts, paused=bool(b["paused"]), cancelled=bool(b["cancelled"]))
            assert b["status"] == want.value, f"batch status {b['status']} but counts say {want.value}"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_counters_match_a_real_count_after_random_changes(store, seed):
    rnd = random.Random(seed)
    batches = [await store.create_batch(new_batch(), specs(rnd.randint(1, 15))) for _ in range(3)]
    with raw(store) as conn:
        job_ids = [r[0] for r in conn.execute("SELECT id FROM jobs")]
    statuses = list(JobStatus)
    for _ in range(60):
        op = rnd.random()
        if op < 0.75:
            ups = [
                JobUpdate(rnd.choice(job_ids), tuple(rnd.sample(statuses, rnd.randint(1, 6))), rnd.choice(statuses),
                          {"attempts": rnd.randint(0, 3)})
                for _ in range(rnd.randint(1, 8))
            ]
            await store.apply(ups)
        elif op < 0.85:
            await store.cancel_pending(rnd.choice(batches).id)
        elif op < 0.95:
            await store.requeue_failed(rnd.choice(batches).id)
        else:
            await store.set_batch_flags(rnd.choice(batches).id, paused=rnd.randint(0, 1))
        check_counters(store)


async def test_apply_skips_jobs_not_in_the_expected_status(store):
    b = await store.create_batch(new_batch(), specs(2))
    jobs, _ = await store.list_jobs(b.id)
    applied = await store.apply([
        JobUpdate(jobs[0].id, (JobStatus.RUNNING,), JobStatus.SUCCEEDED),  # it is pending: skipped
        JobUpdate(jobs[1].id, (JobStatus.PENDING,), JobStatus.FAILED, {"error_json": JobError("x", "y")}),
    ])
    assert [(j.id, old) for j, old in applied.jobs] == [(jobs[1].id, JobStatus.PENDING)]
    after = await store.get_batch(b.id)
    assert (after.counts.pending, after.counts.failed) == (1, 1)


async def test_outputs_and_errors_roundtrip(store):
    b = await store.create_batch(new_batch(), specs(2))
    jobs, _ = await store.list_jobs(b.id)
    out = OutputFile("6", "00000_00001_.png", "batchgen/x", "output")
    err = JobError("node_error", "boom", "2", "FailNode", "ValueError")
    await store.apply([JobUpdate(jobs[0].id, (JobStatus.PENDING,), JobStatus.SUCCEEDED, {"outputs_json": [out]}),
                       JobUpdate(jobs[1].id, (JobStatus.PENDING,), JobStatus.FAILED, {"error_json": err})])
    assert (await store.get_job(jobs[0].id)).outputs == [out]
    assert (await store.get_job(jobs[1].id)).error == err
    assert (await store.get_batch(b.id)).status is BatchStatus.PARTIAL


async def test_batch_timestamps_follow_its_jobs(store):
    b = await store.create_batch(new_batch(), specs(2))
    assert b.started_at is None and b.finished_at is None
    jobs, _ = await store.list_jobs(b.id)
    await store.apply([JobUpdate(jobs[0].id, (JobStatus.PENDING,), JobStatus.QUEUED)])
    mid = await store.get_batch(b.id)
    assert mid.status is BatchStatus.RUNNING and mid.started_at is not None and mid.finished_at is None
    await store.apply([JobUpdate(j.id, (JobStatus.PENDING, JobStatus.QUEUED), JobStatus.SUCCEEDED) for j in jobs])
    end = await store.get_batch(b.id)
    assert end.status is BatchStatus.SUCCEEDED and end.finished_at is not None and end.finished_at >= end.started_at
    # a retry reopens it
    await store.apply([JobUpdate(jobs[0].id, (JobStatus.SUCCEEDED,), JobStatus.FAILED)])
    await store.requeue_failed(b.id)
    again = await store.get_batch(b.id)
    assert again.status is BatchStatus.RUNNING and again.finished_at is None


# -- derive_batch_status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "paused", "cancelled", "expected"),
    [
        (JobCounts(pending=3), False, False, BatchStatus.PENDING),
        (JobCounts(pending=2, queued=1), False, False, BatchStatus.RUNNING),
        (JobCounts(pending=2, succeeded=1), False, False, BatchStatus.RUNNING),
        (JobCounts(pending=2, running=1), True, False, BatchStatus.PAUSED),
        (JobCounts(pending=3), True, False, BatchStatus.PAUSED),
        (JobCounts(succeeded=3), False, False, BatchStatus.SUCCEEDED),
        (JobCounts(succeeded=2, failed=1), False, False, BatchStatus.PARTIAL),
        (JobCounts(succeeded=1, cancelled=1), False, False, BatchStatus.PARTIAL),
        (JobCounts(failed=3), False, False, BatchStatus.FAILED),
        (JobCounts(succeeded=1, cancelled=2), False, True, BatchStatus.CANCELLED),
        (JobCounts(cancelled=3), False, True, BatchStatus.CANCELLED),
        (JobCounts(succeeded=3), False, True, BatchStatus.SUCCEEDED),  # cancelled too late: everything ran
        (JobCounts(succeeded=3), True, False, BatchStatus.SUCCEEDED),  # paused after the last job finished
        (JobCounts(running=1, cancelled=2), False, True, BatchStatus.RUNNING),  # its running job is being interrupted
    ],
)
def test_derive_batch_status(counts, paused, cancelled, expected):
    assert derive_batch_status(counts, paused=paused, cancelled=cancelled) is expected


def test_batch_status_terminal_flags():
    assert {s for s in BatchStatus if s.terminal} == {BatchStatus.SUCCEEDED, BatchStatus.PARTIAL, BatchStatus.FAILED, BatchStatus.CANCELLED}
    assert {s for s in JobStatus if s.terminal} == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


# -- locking -----------------------------------------------------------------------------------


async def test_locked_database_raises_store_busy_and_recovers(tmp_path):
    s = Store(tmp_path / "locked.sqlite3", busy_timeout_ms=50)
    await s.open()
    try:
        b = await s.create_batch(new_batch(), specs(1))
        other = sqlite3.connect(s.path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.perf_counter()
            with pytest.raises(StoreBusy):
                await s.create_batch(new_batch(), specs(2))
            with pytest.raises(StoreBusy):
                await s.set_batch_flags(b.id, paused=1)
            assert time.perf_counter() - t0 < 3, "busy_timeout_ms was not honoured"
            assert s.last_error and "locked" in s.last_error
        finally:
            other.execute("ROLLBACK")
            other.close()
        # the store is usable again: no transaction was left open on its connection
        await s.create_batch(new_batch(), specs(2))
        batches, total = await s.list_batches()
        assert total == 2
        assert (await s.get_batch(b.id)).paused is False
    finally:
        await s.close()


async def test_concurrent_writers_are_serialised(store):
    # Many coroutines writing at once must neither deadlock nor lose a counter update.
    b = await store.create_batch(new_batch(), specs(40))
    jobs, _ = await store.list_jobs(b.id)
    await asyncio.gather(*(store.apply([JobUpdate(j.id, (JobStatus.PENDING,), JobStatus.SUCCEEDED)]) for j in jobs))
    after = await store.get_batch(b.id)
    assert (after.counts.succeeded, after.status) == (40, BatchStatus.SUCCEEDED)
    check_counters(store)


async def test_claiming_never_sorts_or_scans_the_backlog(store):
    # Each dispatcher step claims from the backlog: a sort or scan over every pending job costs ms per job on big batches.
    from batchgen_ext.batchgen.store import jobs_sql

    await store.create_batch(new_batch(), specs(10))
    plans = []
    for sql, args in ((jobs_sql._DUE_JOBS_SQL, ("x", 1e12, 2)), (jobs_sql._CANDIDATES_SQL, ())):
        plans += [row[3] for row in store._inline.execute("EXPLAIN QUERY PLAN " + sql, args)]
    assert not [p for p in plans if "TEMP B-TREE" in p or p.startswith("SCAN j")], plans


async def test_two_processes_opening_a_new_database_at_once_both_open_it(tmp_path):
    # One install started twice (one ComfyUI per GPU): both migrate the same file at the same moment.
    path = tmp_path / "shared.sqlite3"
    stores = [Store(path) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert all(s.ready for s in stores)
        with sqlite3.connect(path) as conn:
            assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == [v for v, _ in MIGRATIONS]
    finally:
        for s in stores:
            await s.close()


async def test_claiming_several_jobs_of_one_batch_is_one_statement_with_a_prompt_id_each(store):
    batch = await store.create_batch(new_batch(), specs(10))
    await store.create_batch(new_batch(priority=-1), specs(3))  # a lower level: not reached
    seen: list[str] = []
    await store._write._execute(store._write._connection.set_trace_callback, seen.append)
    _applied, claimed = await store.advance([], 6, time.time(), "owner-a")
    await store._write._execute(store._write._connection.set_trace_callback, None)
    assert [c.idx for c in claimed] == list(range(6)) and {c.batch_id for c in claimed} == {batch.id}
    assert len({c.prompt_id for c in claimed}) == 6 and all(len(c.prompt_id) == 36 for c in claimed)
    assert sum(1 for sql in seen if sql.lstrip().upper().startswith("UPDATE JOBS")) == 1
    _applied, more = await store.advance([], 6, time.time(), "owner-a")  # the rest, then the lower level's jobs
    assert [c.idx for c in more] == [6, 7, 8, 9, 0, 1] and not {c.prompt_id for c in more} & {c.prompt_id for c in claimed}


async def test_a_steps_outcomes_are_one_statement_and_each_keeps_its_compare_and_set(store):
    # Trivial jobs finish many per step: one UPDATE per job handed the GIL to ComfyUI's worker once per job.
    batch = await store.create_batch(new_batch(), specs(8))
    _applied, claimed = await store.advance([], 8, time.time(), "owner-a")
    running = claimed[2]
    await store.apply([JobUpdate(running.job_id, (JobStatus.QUEUED,), JobStatus.RUNNING, {"started_at": 1.0},
                                 prompt_id=running.prompt_id, owner_id="owner-a")])
    in_flight = (JobStatus.QUEUED, JobStatus.RUNNING)

    def done(item, prompt_id=None, owner="owner-a"):
        return JobUpdate(item.job_id, in_flight, JobStatus.SUCCEEDED, {"finished_at": 2.0, "cached": item.idx % 2},
                         prompt_id=prompt_id or item.prompt_id, owner_id=owner)

    updates = [done(c) for c in claimed[:6]]
    updates[3] = done(claimed[3], prompt_id="an-older-attempt")  # a stale outcome: refused
    updates[4] = done(claimed[4], owner="owner-b")  # another process adopted it: refused
    seen: list[str] = []
    await store._write._execute(store._write._connection.set_trace_callback, seen.append)
    applied, _ = await store.advance(updates, 0, time.time(), "owner-a")
    await store._write._execute(store._write._connection.set_trace_callback, None)
    assert [(job.idx, old) for job, old in applied.jobs] == [
        (0, JobStatus.QUEUED), (1, JobStatus.QUEUED), (2, JobStatus.RUNNING), (5, JobStatus.QUEUED)]
    assert [u.job_id for u in applied.skipped] == [claimed[3].job_id, claimed[4].job_id]
    assert [job.cached for job, _ in applied.jobs] == [False, True, False, True]
    # One statement per expected status tried (queued, then running for the rest), not one per job.
    assert sum(1 for sql in seen if sql.lstrip().upper().startswith("UPDATE JOBS")) == 2
    with raw(store) as conn:
        rows = {r["idx"]: r["status"] for r in conn.execute("SELECT idx, status FROM jobs WHERE batch_id = ?", (batch.id,))}
    assert rows == {0: "succeeded", 1: "succeeded", 2: "succeeded", 3: "queued", 4: "queued", 5: "succeeded", 6: "queued", 7: "queued"}
    assert (await store.get_batch(batch.id)).counts.succeeded == 4
    check_counters(store)
