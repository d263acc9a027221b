"""Transaction bodies that change jobs: compare-and-set updates, claims, retry, cancel."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from ..models import Batch, Job, JobCounts, JobStatus, derive_batch_status
from ..outcomes import CANCELLED_ERROR
from ..scheduling import Candidate, levels, round_robin
from .events_sql import Tx
from .rows import BATCH_COLUMNS, JOB_COLUMNS, Applied, DispatchItem, JobUpdate, encode, row_to_batch, row_to_job

# Batches that may be fed, each with the earliest due time of its pending jobs (index jobs_batch_status_due).
_CANDIDATES_SQL = (
    "SELECT b.id, b.priority, b.last_fed_at, b.seq, "
    "(SELECT j.not_before FROM jobs j WHERE j.batch_id = b.id AND j.status = 'pending' ORDER BY j.not_before LIMIT 1) AS due_at "
    "FROM batches b WHERE b.n_pending > 0 AND b.paused = 0 AND b.cancelled = 0"
)
# "+not_before": not an index term, so the (batch_id, status, idx) index serves the ORDER BY without a sort.
_DUE_JOBS_SQL = (
    "SELECT id, batch_id, idx, params_json, attempts, requeues FROM jobs WHERE batch_id = ? AND status = 'pending' "
    "AND +not_before <= ? ORDER BY idx LIMIT ?"
)


def has_due_work_sync(conn: Any, now: float) -> bool:
    """True if a batch that may be fed has a due pending job."""
    return conn.execute(
        "SELECT 1 FROM batches b WHERE b.n_pending > 0 AND b.paused = 0 AND b.cancelled = 0 AND EXISTS "
        "(SELECT 1 FROM jobs j WHERE j.batch_id = b.id AND j.status = 'pending' AND j.not_before <= ? LIMIT 1) LIMIT 1", (now,)
    ).fetchone() is not None


def pick_sync(conn: Any, limit: int, now: float) -> list[DispatchItem]:
    """Up to ``limit`` due pending jobs in scheduling order (batchgen/scheduling.py decides the order)."""
    if limit <= 0:
        return []
    candidates = [Candidate(r["id"], r["priority"], r["last_fed_at"], r["seq"], r["due_at"])
                  for r in conn.execute(_CANDIDATES_SQL).fetchall() if r["due_at"] is not None]
    picked: list[DispatchItem] = []
    for level in levels(candidates, now):
        need = limit - len(picked)
        if need <= 0:
            break
        queues = [conn.execute(_DUE_JOBS_SQL, (batch_id, now, need)).fetchall() for batch_id in level]
        picked += [DispatchItem(r["id"], r["batch_id"], r["idx"], json.loads(r["params_json"]), r["attempts"], requeues=r["requeues"])
                   for r in round_robin(queues, need)]
    return picked


def apply_sync(tx: Tx, updates: list[JobUpdate], fed: list[str], now: float) -> Applied:
    """Apply each update whose compare-and-set holds; keep counters, batch status and the event log right."""
    applied: list[tuple[Job, str, JobStatus]] = []
    skipped: list[JobUpdate] = []
    deltas: dict[str, dict[str, int]] = {}
    for upd in updates:
        expect = [s.value for s in upd.expect]
        sql = (f"SELECT j.batch_id, j.status, b.cancelled FROM jobs j JOIN batches b ON b.id = j.batch_id "
               f"WHERE j.id = ? AND j.status IN ({','.join('?' * len(expect))})")
        args: list[Any] = [upd.job_id, *expect]
        if upd.prompt_id is not None:
            sql += " AND j.prompt_id = ?"
            args.append(upd.prompt_id)
        if upd.owner_id is not None:
            sql += " AND j.owner_id = ?"
            args.append(upd.owner_id)
        row = tx.execute(sql, args).fetchone()
        if row is None:
            skipped.append(upd)
            continue
        old = JobStatus(row["status"])
        status, fields = upd.status, dict(upd.fields)
        if row["cancelled"] and old.in_flight and status in (JobStatus.PENDING, JobStatus.FAILED):
            # The batch was cancelled (maybe by another process): the job ends cancelled, not re-queued.
            status, fields = JobStatus.CANCELLED, {"error_json": CANCELLED_ERROR, "finished_at": now}
        fields["status"] = status.value
        sets = ", ".join(f"{k} = ?" for k in fields)
        # RETURNING: the row as stored, without a second SELECT (every statement here hands the GIL to
        # ComfyUI's busy worker thread and waits to get it back; fewer statements, less overhead per job).
        (stored,) = tx.execute(f"UPDATE jobs SET {sets} WHERE id = ? RETURNING {JOB_COLUMNS}",
                               [*(encode(k, v) for k, v in fields.items()), upd.job_id]).fetchall()
        if old is not status:
            delta = deltas.setdefault(row["batch_id"], {})
            delta[old.value] = delta.get(old.value, 0) - 1
            delta[status.value] = delta.get(status.value, 0) + 1
        applied.append((row_to_job(stored), row["batch_id"], old))
    touched = list(dict.fromkeys(b for _, b, _ in applied))
    fed_set = set(fed)
    for batch_id in dict.fromkeys([*touched, *fed]):
        # One statement per batch for all its counter changes (and its feed time).
        delta = {k: v for k, v in deltas.get(batch_id, {}).items() if v}
        sets = [f"n_{k} = n_{k} + ?" for k in delta] + (["last_fed_at = ?"] if batch_id in fed_set else [])
        if not sets:
            continue
        args = [*delta.values(), *([now] if batch_id in fed_set else [])]
        if delta:
            sets.append("updated_at = ?")
            args.append(now)
        tx.execute(f"UPDATE batches SET {', '.join(sets)} WHERE id = ?", [*args, batch_id])
    batches = refresh_and_read(tx, touched, now)
    jobs = []
    for job, _, old in applied:
        jobs.append((job, old))
        tx.job_changed(job, old)
    for batch in batches:
        tx.batch_changed(batch)
    return Applied(jobs, batches, skipped)


def advance_sync(tx: Tx, updates: list[JobUpdate], need: int, now: float, owner_id: str) -> tuple[Applied, list[DispatchItem]]:
    """Apply the updates and claim up to ``need`` due jobs for ``owner_id``, in one transaction."""
    picked = pick_sync(tx, need, now) if need > 0 else []
    claims = [
        JobUpdate(item.job_id, (JobStatus.PENDING,), JobStatus.QUEUED, {
            "prompt_id": str(uuid.uuid4()), "attempts": item.attempts + 1, "queued_at": now, "owner_id": owner_id,
            "started_at": None, "finished_at": None, "not_before": 0,
        })
        for item in picked
    ]
    applied = apply_sync(tx, [*updates, *claims], list(dict.fromkeys(i.batch_id for i in picked)), now)
    claimed = {job.id: job for job, old in applied.jobs if job.status is JobStatus.QUEUED and old is JobStatus.PENDING}
    items = [
        DispatchItem(i.job_id, i.batch_id, i.idx, i.params, claimed[i.job_id].attempts, claimed[i.job_id].prompt_id, i.requeues)
        for i in picked if i.job_id in claimed
    ]
    return applied, items


def refresh_batches(tx: Tx, batch_ids: Iterable[str], now: float) -> None:
    """Recompute status/started/finished of batches from their counters."""
    refresh_and_read(tx, batch_ids, now)


def refresh_and_read(tx: Tx, batch_ids: Iterable[str], now: float) -> list[Batch]:
    """Recompute status/started/finished of batches from their counters; the batches as stored afterwards."""
    result: list[Batch] = []
    for batch_id in batch_ids:
        row = tx.execute(f"SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)).fetchone()
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
            (row,) = tx.execute(
                f"UPDATE batches SET status = ?, started_at = ?, finished_at = ?, updated_at = ? WHERE id = ? RETURNING {BATCH_COLUMNS}",
                (status.value, started, finished, now, batch_id),
            ).fetchall()
        result.append(row_to_batch(row))
    return result


def log_batch(tx: Tx, batch_id: str) -> None:
    """Log the batch's state now (after a control action)."""
    row = tx.execute(f"SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)).fetchone()
    if row is not None:
        tx.batch_changed(row_to_batch(row), force=True)


def requeue_sync(tx: Tx, batch_id: str, job_id: int | None, now: float) -> int:
    """Failed and cancelled jobs of a batch (or one job) back to pending; one batch event with the new counts."""
    where = "batch_id = ? AND status IN ('failed', 'cancelled')"
    args: list[Any] = [batch_id]
    if job_id is not None:
        where += " AND id = ?"
        args.append(job_id)
    groups = {r["status"]: r["n"] for r in tx.execute(f"SELECT status, COUNT(*) AS n FROM jobs WHERE {where} GROUP BY status", args)}
    moved = sum(groups.values())
    if not moved:
        return 0
    tx.execute(
        f"UPDATE jobs SET status = 'pending', not_before = 0, error_json = NULL, prompt_id = NULL, queued_at = NULL, "
        f"started_at = NULL, finished_at = NULL WHERE {where}",
        args,
    )
    tx.execute(
        "UPDATE batches SET n_failed = n_failed - ?, n_cancelled = n_cancelled - ?, n_pending = n_pending + ?, "
        "cancelled = 0, updated_at = ? WHERE id = ?",
        (groups.get("failed", 0), groups.get("cancelled", 0), moved, now, batch_id),
    )
    refresh_batches(tx, [batch_id], now)
    log_batch(tx, batch_id)
    return moved


def cancel_pending_sync(tx: Tx, batch_id: str, now: float) -> int:
    """Flag the batch cancelled (durably: every process honours it) and cancel its pending jobs."""
    error = json.dumps(CANCELLED_ERROR.as_dict())
    n = tx.execute(
        "UPDATE jobs SET status = 'cancelled', finished_at = ?, error_json = ? WHERE batch_id = ? AND status = 'pending'",
        (now, error, batch_id),
    ).rowcount
    tx.execute(
        "UPDATE batches SET n_pending = n_pending - ?, n_cancelled = n_cancelled + ?, cancelled = 1, updated_at = ? WHERE id = ?",
        (n, n, now, batch_id),
    )
    refresh_batches(tx, [batch_id], now)
    log_batch(tx, batch_id)
    return n
