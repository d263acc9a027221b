"""SQLite store (aiosqlite): batches, jobs, owners and the event log, the only source of truth.

Split by concern: ``connection`` (connections, transactions, migrations, event delivery),
``rows`` (records and row mapping), ``jobs_sql``/``batches_sql``/``leases_sql``/``events_sql``
(the SQL of each table). This class is the async API over them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..events import Event
from ..expansion import JobSpec
from ..leases import OwnerIdentity, OwnerRow
from ..models import Batch, Job, JobStatus
from . import batches_sql, events_sql, jobs_sql, leases_sql
from .connection import Connections, StoreBusy, busy_error
from .rows import BATCH_COLUMNS, JOB_COLUMNS, Applied, DispatchItem, JobUpdate, NewBatch, row_to_batch, row_to_job

__all__ = ["Applied", "DispatchItem", "JobUpdate", "NewBatch", "Store", "StoreBusy", "busy_error"]


class Store(Connections):
    """Async access to the batchgen database file (implements batchgen.leases.LeaseStore)."""

    async def _fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return await self.run_read(_fetchall_sync, sql, list(args))

    async def _fetchone(self, sql: str, args: Sequence[Any] = ()) -> Any:
        rows = await self._fetchall(sql, args)
        return rows[0] if rows else None

    # -- batches ---------------------------------------------------------------------------

    async def create_batch(self, new: NewBatch, jobs: Sequence[JobSpec]) -> Batch:
        """Insert a batch and all its jobs in one transaction."""
        template_json = json.dumps(new.template, ensure_ascii=False)
        options_json = json.dumps(new.options, ensure_ascii=False)
        await self.run_in_transaction(batches_sql.insert_batch_sync, new, template_json, options_json, list(jobs), time.time())
        batch = await self.get_batch(new.id)
        assert batch is not None
        return batch

    async def find_batch_by_key(self, key: str) -> tuple[Batch, str | None] | None:
        """The batch created with this idempotency key, and its request hash."""
        row = await self._fetchone(f"SELECT {BATCH_COLUMNS}, request_hash FROM batches WHERE idempotency_key = ?", (key,))
        return None if row is None else (row_to_batch(row), row["request_hash"])

    async def get_batch(self, batch_id: str) -> Batch | None:
        """One batch with its counts."""
        row = await self._fetchone(f"SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,))
        return None if row is None else row_to_batch(row)

    async def get_batch_template(self, batch_id: str) -> dict[str, Any] | None:
        """The template snapshot stored with a batch."""
        row = await self._fetchone("SELECT template_json FROM batches WHERE id = ?", (batch_id,))
        return None if row is None else json.loads(row["template_json"])

    async def list_batches(self, statuses: Sequence[str] = (), limit: int = 50, offset: int = 0,
                           name: str = "") -> tuple[list[Batch], int]:
        """Newest first, optionally filtered by status and by a case-insensitive part of the name; also the total matching."""
        conditions, args = [], []
        if statuses:
            conditions.append(f"status IN ({','.join('?' * len(statuses))})")
            args = list(statuses)
        if name:
            # instr(lower) instead of LIKE: no wildcard characters to escape in what the user typed
            conditions.append("instr(lower(name), ?) > 0")
            args.append(name.lower())
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return await self.run_read(_page_sync, f"SELECT {BATCH_COLUMNS} FROM batches {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                                   f"SELECT COUNT(*) FROM batches {where}", args, limit, offset, row_to_batch)

    async def set_batch_flags(self, batch_id: str, **flags: Any) -> Batch | None:
        """Set paused/cancelled/priority/max_attempts and recompute the status."""
        assert set(flags) <= {"paused", "cancelled", "priority", "max_attempts"}
        if not await self.run_in_transaction(batches_sql.set_flags_sync, batch_id, flags, time.time()):
            return None
        return await self.get_batch(batch_id)

    async def batch_flags(self, batch_ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        """batch id -> (paused, cancelled), for the batches that still exist."""
        return await self.run_read(batches_sql.batch_flags_sync, list(batch_ids)) if batch_ids else {}

    async def delete_batch(self, batch_id: str) -> bool:
        """Delete a batch and its jobs."""
        return await self.run_in_transaction(batches_sql.delete_batch_sync, batch_id)

    # -- jobs ------------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job | None:
        """One job."""
        row = await self._fetchone(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else row_to_job(row)

    async def list_jobs(self, batch_id: str, statuses: Sequence[str] = (), limit: int = 100, offset: int = 0) -> tuple[list[Job], int]:
        """A batch's jobs in order, optionally filtered by status; also the total matching."""
        where, args = "WHERE batch_id = ?", [batch_id]
        if statuses:
            where += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        return await self.run_read(_page_sync, f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY idx LIMIT ? OFFSET ?",
                                   f"SELECT COUNT(*) FROM jobs {where}", args, limit, offset, row_to_job)

    async def jobs_by_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Every job in the given statuses (small sets)."""
        values = [s.value for s in statuses]
        rows = await self._fetchall(f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({','.join('?' * len(values))})", values)
        return [row_to_job(r) for r in rows]

    async def pick_dispatchable(self, limit: int, now: float) -> list[DispatchItem]:
        """Up to ``limit`` due pending jobs in scheduling order (read only; claiming happens in advance())."""
        return await self.run_read(jobs_sql.pick_sync, limit, now) if limit > 0 else []

    async def has_due_work(self, now: float) -> bool:
        """True if some batch that may be fed has a pending job due now (a cheap read before a claim)."""
        return await self.run_read(jobs_sql.has_due_work_sync, now)

    async def apply(self, updates: Sequence[JobUpdate], fed_batches: Iterable[str] = ()) -> Applied:
        """Apply job status changes (each a compare-and-set) in one transaction, keeping counters and status right."""
        if not updates:
            return Applied([], [])
        return await self.run_in_transaction(jobs_sql.apply_sync, list(updates), list(fed_batches), time.time())

    async def advance(self, updates: Sequence[JobUpdate], need: int, now: float, owner_id: str) -> tuple[Applied, list[DispatchItem]]:
        """One dispatcher step in one transaction: apply updates, then claim up to ``need`` jobs for ``owner_id``.

        Claimed jobs are committed as ``queued`` with a fresh prompt id, attempt number and owner
        *before* the caller puts them in ComfyUI's queue, so a crash never loses one.
        """
        return await self.run_in_transaction(jobs_sql.advance_sync, list(updates), need, now, owner_id)

    async def requeue_failed(self, batch_id: str, job_id: int | None = None, unpause: bool = False) -> int:
        """Put failed and cancelled jobs of a batch (or one job) back to pending; returns how many.

        ``unpause``: when some were moved, also clear the batch's pause flag, in the same transaction.
        """
        return await self.run_in_transaction(jobs_sql.requeue_sync, batch_id, job_id, time.time(), unpause)

    async def cancel_pending(self, batch_id: str) -> int:
        """Flag a batch cancelled and cancel its pending jobs; returns how many."""
        return await self.run_in_transaction(jobs_sql.cancel_pending_sync, batch_id, time.time())

    async def queue_stats(self) -> dict[str, int]:
        """Job counts over all batches (for /health)."""
        row = await self._fetchone(
            "SELECT COALESCE(SUM(n_pending),0) AS pending, COALESCE(SUM(n_queued),0) AS queued, COALESCE(SUM(n_running),0) AS running, "
            "COUNT(*) AS batches FROM batches"
        )
        return {k: int(row[k]) for k in ("pending", "queued", "running", "batches")} if row else {}

    # -- leases (batchgen.leases.LeaseStore) --------------------------------------------------

    async def register_owner(self, owner: OwnerIdentity, now: float) -> None:
        """Create (or refresh) the owner's row with a fresh heartbeat."""
        await self.run_in_transaction(leases_sql.register_sync, owner, now)

    async def renew_lease(self, owner: OwnerIdentity, now: float) -> None:
        """Write the owner's heartbeat (re-creating its row if it was removed)."""
        await self.run_in_transaction(leases_sql.register_sync, owner, now)

    async def list_owners(self) -> list[OwnerRow]:
        """Every registered owner with its last heartbeat."""
        return await self.run_read(leases_sql.list_owners_sync)

    async def adopt_expired(self, owner: OwnerIdentity, expired: Sequence[OwnerRow], now: float) -> list[Job]:
        """Move in-flight jobs of expired owners (and of no known owner) to ``owner``; returns them."""
        return await self.run_in_transaction(leases_sql.adopt_sync, owner.owner_id, list(expired), now)

    async def owned_in_flight(self, owner_id: str) -> list[Job]:
        """The in-flight jobs the store says this owner holds."""
        return await self.run_read(leases_sql.owned_sync, owner_id)

    async def release_owner(self, owner_id: str) -> None:
        """Delete the owner's row (clean shutdown): its jobs become adoptable at once."""
        await self.run_in_transaction(leases_sql.release_sync, owner_id)

    # -- events ----------------------------------------------------------------------------

    async def list_events(self, after: int, batch_id: str | None, limit: int) -> tuple[list[Event], int, int, bool]:
        """Events after ``after`` (optionally of one batch), with the log's last and oldest seq and has_more."""
        return await self.run_read(events_sql.list_events_sync, after, batch_id, limit)

    async def flush_events(self) -> None:
        """Log throttled batch changes that are due (so the log always ends with a batch's final counts)."""
        if self.log_state.dirty and self.log_state.flush_due():
            await self.run_in_transaction(_noop_sync)


def _noop_sync(tx: Any) -> None:
    """A transaction whose only work is what events_sql.finish does (due throttled batch events)."""


def _fetchall_sync(conn: Any, sql: str, args: list[Any]) -> list[Any]:
    return conn.execute(sql, args).fetchall()


_fetchall_sync.single_statement = True  # type: ignore[attr-defined]  # its own snapshot: run_read adds no BEGIN/COMMIT


def _page_sync(conn: Any, page_sql: str, count_sql: str, args: list[Any], limit: int, offset: int, convert: Any) -> tuple[list[Any], int]:
    """One page and the total count, read in the same snapshot."""
    rows = conn.execute(page_sql, [*args, limit, offset]).fetchall()
    (total,) = conn.execute(count_sql, args).fetchone()
    return [convert(r) for r in rows], int(total)
