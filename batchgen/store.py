"""SQLite store (aiosqlite): batches and jobs, the only source of truth.

One write connection (writes are serialised by an asyncio lock and each runs in one
``BEGIN IMMEDIATE`` transaction) and one read connection, WAL, ``synchronous=FULL``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .errors import unavailable
from .expansion import JobSpec
from .models import Batch, BatchStatus, Job, JobCounts, JobError, JobStatus, OutputFile, derive_batch_status
from .schema import MIGRATIONS

log = logging.getLogger("batchgen.store")
T = TypeVar("T")

_BATCH_COLUMNS = (
    "id, seq, name, status, priority, template_id, output_subfolder, total, n_pending, n_queued, n_running, "
    "n_succeeded, n_failed, n_cancelled, paused, cancelled, max_attempts, created_at, started_at, finished_at, "
    "updated_at, options_json"
)
_JOB_COLUMNS = (
    "id, batch_id, idx, status, params_json, seed, attempts, prompt_id, created_at, queued_at, started_at, "
    "finished_at, outputs_json, error_json, requeues"
)


class StoreBusy(Exception):
    """The database stayed locked by another process past the busy timeout."""


def busy_error() -> Exception:
    """The API error for a locked database."""
    return unavailable("store_busy", "the batch database is locked by another process; retry shortly", retry_after=2)


@dataclass(slots=True)
class NewBatch:
    """Everything needed to insert a batch."""

    id: str
    name: str
    template_id: str | None
    template: dict[str, Any]
    output_subfolder: str
    priority: int = 0
    max_attempts: int = 3
    options: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """One job status change, applied only if the job is still in ``expect``."""

    job_id: int
    expect: tuple[JobStatus, ...]
    status: JobStatus
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Applied:
    """What a store.apply() changed: jobs with their previous status, and the touched batches."""

    jobs: list[tuple[Job, JobStatus]]
    batches: list[Batch]


@dataclass(frozen=True, slots=True)
class DispatchItem:
    """A pending job chosen to be fed, with what is needed to build its prompt."""

    job_id: int
    batch_id: str
    idx: int
    params: dict[str, Any]
    attempts: int
    prompt_id: str | None = None
    requeues: int = 0


def _seed_out(value: Any) -> int | None:
    return None if value is None else int(value)


def _seed_in(value: int | None) -> Any:
    # Seeds may exceed SQLite's signed 64-bit range (ComfyUI allows up to 2**64-1).
    if value is None:
        return None
    return value if -(2**63) <= value < 2**63 else str(value)


def _row_to_batch(row: sqlite3.Row) -> Batch:
    counts = JobCounts(row["n_pending"], row["n_queued"], row["n_running"], row["n_succeeded"], row["n_failed"], row["n_cancelled"])
    return Batch(
        id=row["id"],
        name=row["name"],
        status=BatchStatus(row["status"]),
        template_id=row["template_id"],
        total=row["total"],
        counts=counts,
        priority=row["priority"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        output_subfolder=row["output_subfolder"],
        paused=bool(row["paused"]),
        cancelled=bool(row["cancelled"]),
        max_attempts=row["max_attempts"],
    )


def _row_to_job(row: sqlite3.Row) -> Job:
    outputs = [OutputFile(**o) for o in json.loads(row["outputs_json"])] if row["outputs_json"] else []
    error = JobError(**json.loads(row["error_json"])) if row["error_json"] else None
    return Job(
        id=row["id"],
        batch_id=row["batch_id"],
        idx=row["idx"],
        status=JobStatus(row["status"]),
        params=json.loads(row["params_json"]),
        seed=_seed_out(row["seed"]),
        attempts=row["attempts"],
        requeues=row["requeues"],
        prompt_id=row["prompt_id"],
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outputs=outputs,
        error=error,
    )


class Store:
    """Async access to the batchgen database file."""

    def __init__(self, path: Path | str, busy_timeout_ms: int = 5000, inline_reads: bool = True) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self.busy_timeout_ms = busy_timeout_ms
        self._write: aiosqlite.Connection | None = None
        self._read: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self.inline_reads = inline_reads
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the write connection and the read connection, set pragmas and apply migrations."""
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = await self._connect()
        await self._write.execute("PRAGMA journal_mode=WAL")
        await self._migrate()
        if not self.inline_reads or not isinstance(self.path, Path):
            self._read = await self._connect()
        else:
            # A short busy timeout: this connection runs on the event loop and must never block it long.
            self._inline = sqlite3.connect(str(self.path), isolation_level=None, timeout=0.2, check_same_thread=False)
            self._inline.row_factory = sqlite3.Row
            self._inline.execute("PRAGMA foreign_keys=ON")

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
        conn = await aiosqlite.connect(str(self.path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        return conn

    async def close(self) -> None:
        """Close the connections."""
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        for conn in (self._read, self._write):
            if conn is not None:
                await conn.close()
        self._read = self._write = None

    async def _migrate(self) -> None:
        assert self._write is not None
        await self._write.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        async with self._write.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
            (current,) = await cur.fetchone()
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            await self.run_in_transaction(_migrate_sync, version, sql, time.time())
            log.info("[batchgen] database migrated to version %d", version)

    @property
    def ready(self) -> bool:
        """True once open() succeeded."""
        return self._write is not None and (self._read is not None or self._inline is not None)

    async def run_in_transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` as one BEGIN IMMEDIATE transaction in one hop to the connection thread.

        Why: every awaited aiosqlite call is a thread hop (~0.1 ms plus GIL contention with
        ComfyUI's worker); a state change is 5-8 statements, so one hop per transaction keeps
        our per-job overhead small. aiosqlite has no public call for this; ``_execute`` is its
        queue-a-function primitive (tests/unit/test_store.py pins that it exists).
        """
        assert self._write is not None, "store not open"
        async with self._lock:
            try:
                return await self._write._execute(_transaction, self._write, fn, args)
            except sqlite3.OperationalError as exc:
                self.last_error = str(exc)
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusy(str(exc)) from exc
                raise

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the read connection (several reads, one snapshot).

        Inline reads run right here on the event loop: in WAL mode a read never waits for the
        writer and our reads take 0.1-0.5 ms, whereas a hop to a reader thread has to win the
        GIL back from ComfyUI's busy worker twice, which measured 300 ms p99 under 32 pollers
        (docs/benchmarks.md). BATCHGEN_READS=thread selects the aiosqlite thread instead.
        """
        try:
            if self._inline is not None:
                return _run_snapshot(self._inline, fn, args)
            assert self._read is not None, "store not open"
            return await self._read._execute(_read_snapshot, self._read, fn, args)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusy(str(exc)) from exc
            raise

    async def _fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One hop to the read thread per query (aiosqlite's cursor API costs two or three).
        return await self.run_read(_fetchall_sync, sql, list(args))

    async def _fetchone(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetchall(sql, args)
        return rows[0] if rows else None

    # -- batches ---------------------------------------------------------------------------

    async def create_batch(self, new: NewBatch, jobs: Sequence[JobSpec]) -> Batch:
        """Insert a batch and all its jobs in one transaction."""
        now = time.time()
        template_json = json.dumps(new.template, ensure_ascii=False)
        options_json = json.dumps(new.options, ensure_ascii=False)
        await self.run_in_transaction(_insert_batch_sync, new, template_json, options_json, list(jobs), now)
        batch = await self.get_batch(new.id)
        assert batch is not None
        return batch

    async def find_batch_by_key(self, key: str) -> tuple[Batch, str | None] | None:
        """The batch created with this idempotency key, and its request hash."""
        row = await self._fetchone(f"SELECT {_BATCH_COLUMNS}, request_hash FROM batches WHERE idempotency_key = ?", (key,))
        return None if row is None else (_row_to_batch(row), row["request_hash"])

    async def get_batch(self, batch_id: str) -> Batch | None:
        """One batch with its counts."""
        row = await self._fetchone(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,))
        return None if row is None else _row_to_batch(row)

    async def get_batch_template(self, batch_id: str) -> dict[str, Any] | None:
        """The template snapshot stored with a batch."""
        row = await self._fetchone("SELECT template_json FROM batches WHERE id = ?", (batch_id,))
        return None if row is None else json.loads(row["template_json"])

    async def list_batches(self, statuses: Sequence[str] = (), limit: int = 50, offset: int = 0) -> tuple[list[Batch], int]:
        """Newest first, optionally filtered by status; also the total matching."""
        where, args = "", []
        if statuses:
            where = f"WHERE status IN ({','.join('?' * len(statuses))})"
            args = list(statuses)
        return await self.run_read(_page_sync, f"SELECT {_BATCH_COLUMNS} FROM batches {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                                   f"SELECT COUNT(*) FROM batches {where}", args, limit, offset, _row_to_batch)

    async def set_batch_flags(self, batch_id: str, **flags: Any) -> Batch | None:
        """Set paused/cancelled/priority/max_attempts and recompute the status."""
        allowed = {"paused", "cancelled", "priority", "max_attempts"}
        assert set(flags) <= allowed
        if not await self.run_in_transaction(_set_flags_sync, batch_id, flags, time.time()):
            return None
        return await self.get_batch(batch_id)

    async def delete_batch(self, batch_id: str) -> bool:
        """Delete a batch and its jobs."""
        return await self.run_in_transaction(_delete_batch_sync, batch_id)

    # -- jobs ------------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job | None:
        """One job."""
        row = await self._fetchone(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _row_to_job(row)

    async def list_jobs(self, batch_id: str, statuses: Sequence[str] = (), limit: int = 100, offset: int = 0) -> tuple[list[Job], int]:
        """A batch's jobs in order, optionally filtered by status; also the total matching."""
        where, args = "WHERE batch_id = ?", [batch_id]
        if statuses:
            where += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        return await self.run_read(_page_sync, f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY idx LIMIT ? OFFSET ?",
                                   f"SELECT COUNT(*) FROM jobs {where}", args, limit, offset, _row_to_job)

    async def jobs_by_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Every job in the given statuses (used for in-flight recovery; small sets)."""
        values = [s.value for s in statuses]
        rows = await self._fetchall(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ({','.join('?' * len(values))})", values)
        return [_row_to_job(r) for r in rows]

    async def pick_dispatchable(self, limit: int, now: float) -> list[DispatchItem]:
        """Up to ``limit`` pending jobs: highest priority first, round-robin between equal-priority batches."""
        if limit <= 0:
            return []
        return await self.run_read(_pick_sync, limit, now)

    async def apply(self, updates: Sequence[JobUpdate], fed_batches: Iterable[str] = ()) -> Applied:
        """Apply job status changes in one transaction, keeping counters and batch status right.

        Returns each applied job (as stored after the change) with its previous status, and
        the touched batches; updates whose job was no longer in an expected status are skipped.
        """
        if not updates:
            return Applied([], [])
        return await self.run_in_transaction(_apply_sync, list(updates), list(fed_batches), time.time())

    async def advance(self, updates: Sequence[JobUpdate], need: int, now: float, boot_id: str) -> tuple[Applied, list[DispatchItem]]:
        """One dispatcher step in one transaction: apply updates, then claim up to ``need`` jobs.

        Claimed jobs are committed as ``queued`` with a fresh prompt id and attempt number
        *before* the caller puts them in ComfyUI's queue, so a crash never loses one.
        """
        return await self.run_in_transaction(_advance_sync, list(updates), need, now, boot_id)

    async def requeue_failed(self, batch_id: str, job_id: int | None = None) -> int:
        """Put failed and cancelled jobs of a batch (or one job) back to pending; returns how many."""
        return await self.run_in_transaction(_requeue_sync, batch_id, job_id, time.time())

    async def cancel_pending(self, batch_id: str) -> int:
        """Cancel every pending job of a batch and flag it cancelled; returns how many."""
        return await self.run_in_transaction(_cancel_pending_sync, batch_id, time.time())

    async def queue_stats(self) -> dict[str, int]:
        """Job counts over all batches (for /health)."""
        row = await self._fetchone(
            "SELECT COALESCE(SUM(n_pending),0) AS pending, COALESCE(SUM(n_queued),0) AS queued, COALESCE(SUM(n_running),0) AS running, "
            "COUNT(*) AS batches FROM batches"
        )
        return {k: int(row[k]) for k in ("pending", "queued", "running", "batches")} if row else {}


def _read_snapshot(aconn: aiosqlite.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """(In the read connection's thread.) Several reads inside one read transaction."""
    return _run_snapshot(aconn._connection, fn, args)  # type: ignore[attr-defined]


def _run_snapshot(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """Several reads inside one read transaction."""
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("COMMIT")


def _fetchall_sync(conn: sqlite3.Connection, sql: str, args: list[Any]) -> list[sqlite3.Row]:
    return conn.execute(sql, args).fetchall()


def _page_sync(conn: sqlite3.Connection, page_sql: str, count_sql: str, args: list[Any], limit: int, offset: int,
               convert: Callable[[sqlite3.Row], T]) -> tuple[list[T], int]:
    """One page and the total count, read in the same snapshot."""
    rows = conn.execute(page_sql, [*args, limit, offset]).fetchall()
    (total,) = conn.execute(count_sql, args).fetchone()
    return [convert(r) for r in rows], int(total)


def _pick_sync(conn: sqlite3.Connection, limit: int, now: float) -> list[DispatchItem]:
    batches = conn.execute(
        "SELECT id, priority FROM batches WHERE n_pending > 0 AND paused = 0 AND cancelled = 0 "
        "ORDER BY priority DESC, last_fed_at ASC, seq ASC LIMIT 64"
    ).fetchall()
    if not batches:
        return []
    top = batches[0]["priority"]
    chosen = [b["id"] for b in batches if b["priority"] == top]
    per_batch = {
        batch_id: conn.execute(
            "SELECT id, batch_id, idx, params_json, attempts, requeues FROM jobs WHERE batch_id = ? AND status = 'pending' "
            "AND not_before <= ? ORDER BY idx LIMIT ?",
            (batch_id, now, limit),
        ).fetchall()
        for batch_id in chosen
    }
    picked: list[DispatchItem] = []
    # Round-robin across the equal-priority batches, least recently fed first.
    while len(picked) < limit and any(per_batch.values()):
        for batch_id in chosen:
            rows = per_batch[batch_id]
            if rows and len(picked) < limit:
                r = rows.pop(0)
                picked.append(DispatchItem(r["id"], r["batch_id"], r["idx"], json.loads(r["params_json"]), r["attempts"],
                                           requeues=r["requeues"]))
    return picked


def _transaction(aconn: aiosqlite.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """(In the connection thread.) BEGIN IMMEDIATE, run, COMMIT; ROLLBACK on any error."""
    conn: sqlite3.Connection = aconn._connection  # type: ignore[attr-defined]
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT")
        return result
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _encode(key: str, value: Any) -> Any:
    if key == "outputs_json" and not isinstance(value, (str, type(None))):
        return json.dumps([o.as_dict() for o in value], ensure_ascii=False)
    if key == "error_json" and not isinstance(value, (str, type(None))):
        return json.dumps(value.as_dict(), ensure_ascii=False)
    if isinstance(value, JobStatus):
        return value.value
    return value


# -- transaction bodies (run in the connection thread by Store.run_in_transaction) -------------


def _insert_batch_sync(conn: sqlite3.Connection, new: NewBatch, template_json: str, options_json: str,
                       jobs: list[JobSpec], now: float) -> None:
    # Rows are encoded here, in the connection thread, not on the event loop.
    rows = [(new.id, i, JobStatus.PENDING.value, json.dumps(spec.params, ensure_ascii=False), _seed_in(spec.seed), now)
            for i, spec in enumerate(jobs)]
    (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM batches").fetchone()
    conn.execute(
        "INSERT INTO batches (id, seq, name, status, priority, template_id, template_json, options_json, "
        "output_subfolder, total, n_pending, max_attempts, created_at, updated_at, idempotency_key, request_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.id, seq, new.name, BatchStatus.PENDING.value, new.priority, new.template_id, template_json, options_json,
         new.output_subfolder, len(rows), len(rows), new.max_attempts, now, now, new.idempotency_key, new.request_hash),
    )
    conn.executemany("INSERT INTO jobs (batch_id, idx, status, params_json, seed, created_at) VALUES (?, ?, ?, ?, ?, ?)", rows)


def _set_flags_sync(conn: sqlite3.Connection, batch_id: str, flags: dict[str, Any], now: float) -> bool:
    sets = ", ".join(f"{k} = ?" for k in flags)
    cur = conn.execute(f"UPDATE batches SET {sets}, updated_at = ? WHERE id = ?", [*flags.values(), now, batch_id])
    if cur.rowcount == 0:
        return False
    _refresh_batches(conn, [batch_id], now)
    return True


def _delete_batch_sync(conn: sqlite3.Connection, batch_id: str) -> bool:
    conn.execute("DELETE FROM jobs WHERE batch_id = ?", (batch_id,))
    return conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,)).rowcount > 0


def _apply_sync(conn: sqlite3.Connection, updates: list[JobUpdate], fed: list[str], now: float) -> Applied:
    applied: list[tuple[int, str, JobStatus]] = []
    for upd in updates:
        expect = [s.value for s in upd.expect]
        row = conn.execute(
            f"SELECT batch_id, status FROM jobs WHERE id = ? AND status IN ({','.join('?' * len(expect))})", [upd.job_id, *expect]
        ).fetchone()
        if row is None:
            continue
        old = JobStatus(row["status"])
        fields = dict(upd.fields)
        fields["status"] = upd.status.value
        sets = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*(_encode(k, v) for k, v in fields.items()), upd.job_id])
        if old is not upd.status:
            conn.execute(
                f"UPDATE batches SET n_{old.value} = n_{old.value} - 1, n_{upd.status.value} = n_{upd.status.value} + 1, "
                "updated_at = ? WHERE id = ?",
                (now, row["batch_id"]),
            )
        applied.append((upd.job_id, row["batch_id"], old))
    for batch_id in fed:
        conn.execute("UPDATE batches SET last_fed_at = ? WHERE id = ?", (now, batch_id))
    touched = list(dict.fromkeys(b for _, b, _ in applied))
    _refresh_batches(conn, touched, now)
    jobs = []
    for job_id, _, old in applied:
        row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        jobs.append((_row_to_job(row), old))
    batches = [_row_to_batch(conn.execute(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (b,)).fetchone()) for b in touched]
    return Applied(jobs, batches)


def _advance_sync(conn: sqlite3.Connection, updates: list[JobUpdate], need: int, now: float,
                  boot_id: str) -> tuple[Applied, list[DispatchItem]]:
    picked = _pick_sync(conn, need, now) if need > 0 else []
    claims = [
        JobUpdate(item.job_id, (JobStatus.PENDING,), JobStatus.QUEUED, {
            "prompt_id": str(uuid.uuid4()), "attempts": item.attempts + 1, "queued_at": now, "boot_id": boot_id,
            "started_at": None, "finished_at": None, "not_before": 0,
        })
        for item in picked
    ]
    applied = _apply_sync(conn, [*updates, *claims], list(dict.fromkeys(i.batch_id for i in picked)), now)
    claimed = {job.id: job for job, _ in applied.jobs if job.status is JobStatus.QUEUED}
    items = [
        DispatchItem(i.job_id, i.batch_id, i.idx, i.params, claimed[i.job_id].attempts, claimed[i.job_id].prompt_id, i.requeues)
        for i in picked if i.job_id in claimed
    ]
    return applied, items


def _refresh_batches(conn: sqlite3.Connection, batch_ids: Iterable[str], now: float) -> None:
    """Recompute status/started/finished of batches from their counters."""
    for batch_id in batch_ids:
        row = conn.execute(
            "SELECT status, n_pending, n_queued, n_running, n_succeeded, n_failed, n_cancelled, paused, cancelled, "
            "started_at, finished_at FROM batches WHERE id = ?",
            (batch_id,),
        ).fetchone()
        if row is None:
            continue
        counts = JobCounts(row["n_pending"], row["n_queued"], row["n_running"], row["n_succeeded"], row["n_failed"], row["n_cancelled"])
        status = derive_batch_status(counts, paused=bool(row["paused"]), cancelled=bool(row["cancelled"]))
        started = row["started_at"]
        if started is None and counts.pending < counts.total:
            started = now
        if status.terminal:
            finished = row["finished_at"] if row["finished_at"] is not None else now
        else:
            finished = None
        if status.value != row["status"] or started != row["started_at"] or finished != row["finished_at"]:
            conn.execute(
                "UPDATE batches SET status = ?, started_at = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                (status.value, started, finished, now, batch_id),
            )


def _requeue_sync(conn: sqlite3.Connection, batch_id: str, job_id: int | None, now: float) -> int:
    where = "batch_id = ? AND status IN ('failed', 'cancelled')"
    args: list[Any] = [batch_id]
    if job_id is not None:
        where += " AND id = ?"
        args.append(job_id)
    groups = {r["status"]: r["n"] for r in conn.execute(f"SELECT status, COUNT(*) AS n FROM jobs WHERE {where} GROUP BY status", args)}
    moved = sum(groups.values())
    if not moved:
        return 0
    conn.execute(
        f"UPDATE jobs SET status = 'pending', not_before = 0, error_json = NULL, prompt_id = NULL, queued_at = NULL, "
        f"started_at = NULL, finished_at = NULL WHERE {where}",
        args,
    )
    conn.execute(
        "UPDATE batches SET n_failed = n_failed - ?, n_cancelled = n_cancelled - ?, n_pending = n_pending + ?, "
        "cancelled = 0, updated_at = ? WHERE id = ?",
        (groups.get("failed", 0), groups.get("cancelled", 0), moved, now, batch_id),
    )
    _refresh_batches(conn, [batch_id], now)
    return moved


def _cancel_pending_sync(conn: sqlite3.Connection, batch_id: str, now: float) -> int:
    error = json.dumps({"kind": "cancelled", "message": "cancelled by request", "node_id": None, "node_type": None,
                        "exception_type": None, "transient": False})
    n = conn.execute(
        "UPDATE jobs SET status = 'cancelled', finished_at = ?, error_json = ? WHERE batch_id = ? AND status = 'pending'", (now, error, batch_id)
    ).rowcount
    conn.execute(
        "UPDATE batches SET n_pending = n_pending - ?, n_cancelled = n_cancelled + ?, cancelled = 1, updated_at = ? WHERE id = ?",
        (n, n, now, batch_id),
    )
    _refresh_batches(conn, [batch_id], now)
    return n


def _migrate_sync(conn: sqlite3.Connection, version: int, sql: str, now: float) -> None:
    for statement in (s.strip() for s in sql.split(";")):
        if statement:
            conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, now))
