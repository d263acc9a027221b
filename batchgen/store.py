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
from collections.abc import Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from .errors import unavailable
from .expansion import JobSpec
from .models import Batch, BatchStatus, Job, JobCounts, JobError, JobStatus, OutputFile, derive_batch_status
from .schema import MIGRATIONS

log = logging.getLogger("batchgen.store")

_BATCH_COLUMNS = (
    "id, seq, name, status, priority, template_id, output_subfolder, total, n_pending, n_queued, n_running, "
    "n_succeeded, n_failed, n_cancelled, paused, cancelled, max_attempts, created_at, started_at, finished_at, "
    "updated_at, options_json"
)
_JOB_COLUMNS = (
    "id, batch_id, idx, status, params_json, seed, attempts, prompt_id, created_at, queued_at, started_at, "
    "finished_at, outputs_json, error_json"
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
class DispatchItem:
    """A pending job chosen to be fed, with what is needed to build its prompt."""

    job_id: int
    batch_id: str
    idx: int
    params: dict[str, Any]
    attempts: int


def _seed_out(value: Any) -> int | None:
    return None if value is None else int(value)


def _seed_in(value: int | None) -> Any:
    # Seeds may exceed SQLite's signed 64-bit range (ComfyUI allows up to 2**64-1).
    if value is None:
        return None
    return value if -(2**63) <= value < 2**63 else str(value)


def _row_to_batch(row: sqlite3.Row) -> Batch:
    counts = JobCounts(row["n_pending"], row["n_queued"], row["n_running"], row["n_succeeded"], row["n_failed"], row["n_cancelled"])
    options = json.loads(row["options_json"] or "{}")
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
        seed_policy=options.get("seed_policy", "random"),
        window=options.get("window"),
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

    def __init__(self, path: Path | str, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self.busy_timeout_ms = busy_timeout_ms
        self._write: aiosqlite.Connection | None = None
        self._read: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Open both connections, set pragmas and apply migrations."""
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = await self._connect()
        await self._write.execute("PRAGMA journal_mode=WAL")
        await self._migrate()
        self._read = await self._connect()

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
            async with self.transaction() as db:
                for statement in (s.strip() for s in sql.split(";")):
                    if statement:
                        await db.execute(statement)
                await db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
            log.info("[batchgen] database migrated to version %d", version)

    @property
    def ready(self) -> bool:
        """True once open() succeeded."""
        return self._write is not None and self._read is not None

    @asynccontextmanager
    async def transaction(self):
        """One serialised write transaction (BEGIN IMMEDIATE … COMMIT, rollback on error)."""
        assert self._write is not None, "store not open"
        async with self._lock:
            db = self._write
            try:
                await db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                self.last_error = str(exc)
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusy(str(exc)) from exc
                raise
            try:
                yield db
                await db.execute("COMMIT")
                self.last_error = None
            except BaseException as exc:
                try:
                    await db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(exc, sqlite3.OperationalError):
                    self.last_error = str(exc)
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise StoreBusy(str(exc)) from exc
                raise

    async def _fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        assert self._read is not None, "store not open"
        try:
            async with self._read.execute(sql, args) as cur:
                return list(await cur.fetchall())
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusy(str(exc)) from exc
            raise

    async def _fetchone(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetchall(sql, args)
        return rows[0] if rows else None

    # -- meta ------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A value from the meta table."""
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row["value"]

    async def set_meta(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        async with self.transaction() as db:
            await db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- batches ---------------------------------------------------------------------------

    async def create_batch(self, new: NewBatch, jobs: Sequence[JobSpec]) -> Batch:
        """Insert a batch and all its jobs in one transaction."""
        now = time.time()
        template_json = json.dumps(new.template, ensure_ascii=False)
        options_json = json.dumps(new.options, ensure_ascii=False)
        rows = [
            (new.id, i, JobStatus.PENDING.value, json.dumps(spec.params, ensure_ascii=False), _seed_in(spec.seed), now)
            for i, spec in enumerate(jobs)
        ]
        async with self.transaction() as db:
            async with db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM batches") as cur:
                (seq,) = await cur.fetchone()
            await db.execute(
                "INSERT INTO batches (id, seq, name, status, priority, template_id, template_json, options_json, "
                "output_subfolder, total, n_pending, max_attempts, created_at, updated_at, idempotency_key, request_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new.id, seq, new.name, BatchStatus.PENDING.value, new.priority, new.template_id, template_json, options_json,
                 new.output_subfolder, len(rows), len(rows), new.max_attempts, now, now, new.idempotency_key, new.request_hash),
            )
            await db.executemany(
                "INSERT INTO jobs (batch_id, idx, status, params_json, seed, created_at) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
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
        rows = await self._fetchall(f"SELECT {_BATCH_COLUMNS} FROM batches {where} ORDER BY seq DESC LIMIT ? OFFSET ?", [*args, limit, offset])
        count = await self._fetchone(f"SELECT COUNT(*) AS n FROM batches {where}", args)
        return [_row_to_batch(r) for r in rows], int(count["n"]) if count else 0

    async def set_batch_flags(self, batch_id: str, **flags: Any) -> Batch | None:
        """Set paused/cancelled/priority/max_attempts and recompute the status."""
        allowed = {"paused", "cancelled", "priority", "max_attempts"}
        assert set(flags) <= allowed
        async with self.transaction() as db:
            sets = ", ".join(f"{k} = ?" for k in flags)
            cur = await db.execute(f"UPDATE batches SET {sets}, updated_at = ? WHERE id = ?", [*flags.values(), time.time(), batch_id])
            if cur.rowcount == 0:
                return None
            await self._refresh_batches(db, [batch_id])
        return await self.get_batch(batch_id)

    async def delete_batch(self, batch_id: str) -> bool:
        """Delete a batch and its jobs."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM jobs WHERE batch_id = ?", (batch_id,))
            cur = await db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            return cur.rowcount > 0

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
        rows = await self._fetchall(f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY idx LIMIT ? OFFSET ?", [*args, limit, offset])
        count = await self._fetchone(f"SELECT COUNT(*) AS n FROM jobs {where}", args)
        return [_row_to_job(r) for r in rows], int(count["n"]) if count else 0

    async def jobs_by_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Every job in the given statuses (used for in-flight recovery; small sets)."""
        values = [s.value for s in statuses]
        rows = await self._fetchall(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ({','.join('?' * len(values))})", values)
        return [_row_to_job(r) for r in rows]

    async def pick_dispatchable(self, limit: int, now: float) -> list[DispatchItem]:
        """Up to ``limit`` pending jobs: highest priority first, round-robin between equal-priority batches."""
        if limit <= 0:
            return []
        batches = await self._fetchall(
            "SELECT id, priority, last_fed_at FROM batches WHERE n_pending > 0 AND paused = 0 AND cancelled = 0 "
            "ORDER BY priority DESC, last_fed_at ASC, seq ASC LIMIT 64"
        )
        if not batches:
            return []
        top = batches[0]["priority"]
        chosen = [b["id"] for b in batches if b["priority"] == top]
        picked: list[DispatchItem] = []
        per_batch: dict[str, list[sqlite3.Row]] = {}
        for batch_id in chosen:
            per_batch[batch_id] = await self._fetchall(
                "SELECT id, batch_id, idx, params_json, attempts FROM jobs WHERE batch_id = ? AND status = 'pending' "
                "AND not_before <= ? ORDER BY idx LIMIT ?",
                (batch_id, now, limit),
            )
        # Round-robin across the equal-priority batches, least recently fed first.
        while len(picked) < limit and any(per_batch.values()):
            for batch_id in chosen:
                rows = per_batch[batch_id]
                if rows and len(picked) < limit:
                    r = rows.pop(0)
                    picked.append(DispatchItem(r["id"], r["batch_id"], r["idx"], json.loads(r["params_json"]), r["attempts"]))
        return picked

    async def next_retry_time(self) -> float | None:
        """The earliest not_before among pending jobs waiting for a backoff, if any."""
        row = await self._fetchone(
            "SELECT MIN(j.not_before) AS t FROM jobs j JOIN batches b ON b.id = j.batch_id "
            "WHERE j.status = 'pending' AND j.not_before > 0 AND b.paused = 0 AND b.cancelled = 0"
        )
        return None if row is None or row["t"] is None else float(row["t"])

    async def apply(self, updates: Sequence[JobUpdate], fed_batches: Iterable[str] = ()) -> list[tuple[Job, JobStatus]]:
        """Apply job status changes in one transaction, keep counters and batch status right.

        Returns each applied job (re-read) with its previous status; updates whose job was no
        longer in an expected status are skipped.
        """
        if not updates:
            return []
        now = time.time()
        applied: list[tuple[int, str, JobStatus]] = []
        async with self.transaction() as db:
            for upd in updates:
                expect = [s.value for s in upd.expect]
                async with db.execute(
                    f"SELECT batch_id, status FROM jobs WHERE id = ? AND status IN ({','.join('?' * len(expect))})", [upd.job_id, *expect]
                ) as cur:
                    row = await cur.fetchone()
                if row is None:
                    continue
                old = JobStatus(row["status"])
                fields = dict(upd.fields)
                fields["status"] = upd.status.value
                sets = ", ".join(f"{k} = ?" for k in fields)
                await db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*(_encode(k, v) for k, v in fields.items()), upd.job_id])
                if old is not upd.status:
                    await db.execute(
                        f"UPDATE batches SET n_{old.value} = n_{old.value} - 1, n_{upd.status.value} = n_{upd.status.value} + 1, "
                        "updated_at = ? WHERE id = ?",
                        (now, row["batch_id"]),
                    )
                applied.append((upd.job_id, row["batch_id"], old))
            fed = list(fed_batches)
            for batch_id in fed:
                await db.execute("UPDATE batches SET last_fed_at = ? WHERE id = ?", (now, batch_id))
            await self._refresh_batches(db, {b for _, b, _ in applied})
        result = []
        for job_id, _, old in applied:
            job = await self.get_job(job_id)
            if job is not None:
                result.append((job, old))
        return result

    async def _refresh_batches(self, db: aiosqlite.Connection, batch_ids: Iterable[str]) -> None:
        """Recompute status/started/finished of batches from their counters (inside a transaction)."""
        now = time.time()
        for batch_id in batch_ids:
            async with db.execute(
                "SELECT status, n_pending, n_queued, n_running, n_succeeded, n_failed, n_cancelled, paused, cancelled, "
                "started_at, finished_at FROM batches WHERE id = ?",
                (batch_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                continue
            counts = JobCounts(row["n_pending"], row["n_queued"], row["n_running"], row["n_succeeded"], row["n_failed"], row["n_cancelled"])
            status = derive_batch_status(counts, paused=bool(row["paused"]), cancelled=bool(row["cancelled"]))
            started = row["started_at"]
            if started is None and counts.pending < counts.total:
                started = now
            finished = now if status.terminal else None
            if status.value != row["status"] or started != row["started_at"] or (finished is None) != (row["finished_at"] is None):
                await db.execute(
                    "UPDATE batches SET status = ?, started_at = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                    (status.value, started, finished if finished is None or row["finished_at"] is None else row["finished_at"], now, batch_id),
                )

    async def requeue_failed(self, batch_id: str, job_id: int | None = None) -> int:
        """Put failed and cancelled jobs of a batch (or one job) back to pending; returns how many."""
        async with self.transaction() as db:
            where = "batch_id = ? AND status IN ('failed', 'cancelled')"
            args: list[Any] = [batch_id]
            if job_id is not None:
                where += " AND id = ?"
                args.append(job_id)
            async with db.execute(f"SELECT status, COUNT(*) AS n FROM jobs WHERE {where} GROUP BY status", args) as cur:
                groups = {r["status"]: r["n"] for r in await cur.fetchall()}
            moved = sum(groups.values())
            if not moved:
                return 0
            await db.execute(
                f"UPDATE jobs SET status = 'pending', not_before = 0, error_json = NULL, prompt_id = NULL, queued_at = NULL, "
                f"started_at = NULL, finished_at = NULL WHERE {where}",
                args,
            )
            await db.execute(
                "UPDATE batches SET n_failed = n_failed - ?, n_cancelled = n_cancelled - ?, n_pending = n_pending + ?, "
                "cancelled = 0, updated_at = ? WHERE id = ?",
                (groups.get("failed", 0), groups.get("cancelled", 0), moved, time.time(), batch_id),
            )
            await self._refresh_batches(db, [batch_id])
            return moved

    async def cancel_pending(self, batch_id: str) -> int:
        """Cancel every pending job of a batch in one statement; returns how many."""
        now = time.time()
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE batch_id = ? AND status = 'pending'", (now, batch_id)
            )
            n = cur.rowcount
            await db.execute(
                "UPDATE batches SET n_pending = n_pending - ?, n_cancelled = n_cancelled + ?, cancelled = 1, updated_at = ? WHERE id = ?",
                (n, n, now, batch_id),
            )
            await self._refresh_batches(db, [batch_id])
            return n

    async def queue_stats(self) -> dict[str, int]:
        """Job counts over all batches (for /health)."""
        row = await self._fetchone(
            "SELECT COALESCE(SUM(n_pending),0) AS pending, COALESCE(SUM(n_queued),0) AS queued, COALESCE(SUM(n_running),0) AS running, "
            "COUNT(*) AS batches FROM batches"
        )
        return {k: int(row[k]) for k in ("pending", "queued", "running", "batches")} if row else {}


def _encode(key: str, value: Any) -> Any:
    if key == "outputs_json" and not isinstance(value, (str, type(None))):
        return json.dumps([o.as_dict() for o in value], ensure_ascii=False)
    if key == "error_json" and not isinstance(value, (str, type(None))):
        return json.dumps(value.as_dict(), ensure_ascii=False)
    if isinstance(value, JobStatus):
        return value.value
    return value
