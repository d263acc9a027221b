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

# One claim: the batch's next due pending job becomes queued with a fresh prompt id, attempt and owner.
_CLAIM_SQL = (
    "UPDATE jobs SET status = 'queued', prompt_id = ?, attempts = attempts + 1, queued_at = ?, owner_id = ?, started_at = NULL, "
    "finished_at = NULL, not_before = 0 WHERE status = 'pending' AND id = (SELECT id FROM jobs WHERE batch_id = ? AND status = 'pending' "
    f"AND +not_before <= ? ORDER BY idx LIMIT 1) RETURNING {JOB_COLUMNS}"
)

# The next ``limit`` due jobs of one batch claimed in one statement (the only batch of its priority level). Each gets a
# prompt id of its own: a fresh UUID-shaped prefix for the statement and the job id (which a claim never repeats).
_CLAIM_MANY_SQL = (
    "UPDATE jobs SET status = 'queued', prompt_id = ? || printf('%012x', id), attempts = attempts + 1, queued_at = ?, owner_id = ?, "
    "started_at = NULL, finished_at = NULL, not_before = 0 WHERE status = 'pending' AND id IN (SELECT id FROM jobs WHERE "
    f"batch_id = ? AND status = 'pending' AND +not_before <= ? ORDER BY idx LIMIT ?) RETURNING {JOB_COLUMNS}"
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


# Targets that depend on the batch's cancel flag (a cancelled batch's job is not re-queued or failed, it ends cancelled).
_FLAG_DEPENDENT = (JobStatus.PENDING, JobStatus.FAILED)


def _cas_where(upd: JobUpdate) -> tuple[str, list[Any]]:
    """The attempt and owner terms of an update's compare-and-set."""
    sql, args = "", []
    if upd.prompt_id is not None:
        sql += " AND prompt_id = ?"
        args.append(upd.prompt_id)
    if upd.owner_id is not None:
        sql += " AND owner_id = ?"
        args.append(upd.owner_id)
    return sql, args


def _set_returning(tx: Tx, fields: dict[str, Any], where: str, args: list[Any]) -> Any:
    """UPDATE one job and return its row as stored (None if the WHERE did not hold)."""
    sets = ", ".join(f"{k} = ?" for k in fields)
    return tx.execute(f"UPDATE jobs SET {sets} WHERE {where} RETURNING {JOB_COLUMNS}",
                      [*(encode(k, v) for k, v in fields.items()), *args]).fetchone()


def _apply_one(tx: Tx, upd: JobUpdate, now: float) -> tuple[Any, JobStatus] | None:
    """Apply one compare-and-set update; the stored row and the status it had, or None if refused."""
    cas, cas_args = _cas_where(upd)
    if upd.status not in _FLAG_DEPENDENT:
        # The compare-and-set is the UPDATE's own WHERE (status, attempt, owner): one statement, no SELECT
        # before it (every statement hands the GIL to ComfyUI's busy worker thread and waits to get it back).
        # The status it had is the one the WHERE named; the expected one (the caller's memory) is tried first.
        fields = {**upd.fields, "status": upd.status.value}
        for old in upd.expect:
            stored = _set_returning(tx, fields, f"id = ? AND status = ?{cas}", [upd.job_id, old.value, *cas_args])
            if stored is not None:
                return stored, old
        return None
    expect = [s.value for s in upd.expect]
    row = tx.execute(f"SELECT status, (SELECT cancelled FROM batches b WHERE b.id = jobs.batch_id) AS cancelled FROM jobs "
                     f"WHERE id = ? AND status IN ({','.join('?' * len(expect))}){cas}", [upd.job_id, *expect, *cas_args]).fetchone()
    if row is None:
        return None
    old = JobStatus(row["status"])
    status, fields = upd.status, dict(upd.fields)
    if row["cancelled"] and old.in_flight:
        # The batch was cancelled (maybe by another process): the job ends cancelled, not re-queued.
        status, fields = JobStatus.CANCELLED, {"error_json": CANCELLED_ERROR, "finished_at": now}
    fields["status"] = status.value
    return _set_returning(tx, fields, "id = ?", [upd.job_id]), old


def apply_sync(tx: Tx, updates: list[JobUpdate], fed: list[str], now: float) -> Applied:
    """Apply each update whose compare-and-set holds; keep counters, batch status and the event log right."""
    applied, skipped = _apply_updates(tx, updates, now)
    return Applied(*_account(tx, applied, fed, now), skipped)


def _apply_updates(tx: Tx, updates: list[JobUpdate], now: float) -> tuple[list[tuple[Job, JobStatus]], list[JobUpdate]]:
    """The updates whose compare-and-set held (each job as stored, with its previous status) and the refused ones.

    Updates of the same shape (target, fields, expected statuses) to distinct jobs go in one statement per expected
    status: a step's outcomes of trivial jobs are one UPDATE, not one per job. Results keep the updates' order.
    """
    results: list[tuple[Any, JobStatus] | None] = [None] * len(updates)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, upd in enumerate(updates):
        if upd.status in _FLAG_DEPENDENT:
            results[i] = _apply_one(tx, upd, now)
        else:
            key = (upd.status, upd.expect, tuple(upd.fields), upd.prompt_id is None, upd.owner_id is None)
            groups.setdefault(key, []).append(i)
    for indices in groups.values():
        if len(indices) == 1 or len({updates[i].job_id for i in indices}) != len(indices):
            for i in indices:
                results[i] = _apply_one(tx, updates[i], now)
        else:
            for start in range(0, len(indices), GROUP_CHUNK):
                chunk = indices[start:start + GROUP_CHUNK]
                for i, result in zip(chunk, _apply_group(tx, [updates[i] for i in chunk]), strict=True):
                    results[i] = result
    applied: list[tuple[Job, JobStatus]] = []
    skipped: list[JobUpdate] = []
    for upd, result in zip(updates, results, strict=True):
        if result is None:
            skipped.append(upd)
        else:
            applied.append((row_to_job(result[0]), result[1]))
    return applied, skipped


# Updates per grouped statement: well under SQLite's 32,766 bound variables with every field set.
GROUP_CHUNK = 200


def _apply_group(tx: Tx, group: list[JobUpdate]) -> list[tuple[Any, JobStatus] | None]:
    """Compare-and-set updates of one shape to distinct jobs, one UPDATE … FROM (VALUES …) per expected status tried."""
    first = group[0]
    names = list(first.fields)
    with_pid, with_owner = first.prompt_id is not None, first.owner_id is not None
    # VALUES columns: column1 = job id, then the prompt id and owner when compared, then the fields.
    extra = [name for name, used in (("prompt_id", with_pid), ("owner_id", with_owner)) if used]
    width = 1 + len(extra) + len(names)
    sets = ", ".join(["status = ?", *(f"{name} = v.column{2 + len(extra) + k}" for k, name in enumerate(names))])
    cas = "".join(f" AND jobs.{name} = v.column{2 + k}" for k, name in enumerate(extra))
    results: dict[int, tuple[Any, JobStatus]] = {}
    remaining = list(group)
    for old in first.expect:
        if not remaining:
            break
        rows = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(remaining))
        args: list[Any] = [first.status.value]
        for upd in remaining:
            args += [upd.job_id, *([upd.prompt_id] if with_pid else []), *([upd.owner_id] if with_owner else []),
                     *(encode(name, upd.fields[name]) for name in names)]
        args.append(old.value)
        stored = tx.execute(f"UPDATE jobs SET {sets} FROM (VALUES {rows}) AS v WHERE jobs.id = v.column1 AND jobs.status = ?{cas} "
                            f"RETURNING {JOB_COLUMNS}", args).fetchall()
        for row in stored:
            results[row["id"]] = (row, old)
        remaining = [upd for upd in remaining if upd.job_id not in results]
    return [results.get(upd.job_id) for upd in group]


def _account(tx: Tx, applied: list[tuple[Job, JobStatus]], fed: list[str], now: float) -> tuple[list[tuple[Job, JobStatus]], list[Batch]]:
    """Counters, feed times and status of the touched batches; the job and batch events. Returns (jobs, batches)."""
    deltas: dict[str, dict[str, int]] = {}
    for job, old in applied:
        if old is not job.status:
            delta = deltas.setdefault(job.batch_id, {})
            delta[old.value] = delta.get(old.value, 0) - 1
            delta[job.status.value] = delta.get(job.status.value, 0) + 1
    touched = list(dict.fromkeys(job.batch_id for job, _ in applied))
    fed_set = set(fed)
    rows: dict[str, Any] = {}
    for batch_id in dict.fromkeys([*touched, *fed]):
        # One statement per batch for all its counter changes (and its feed time), returning the row.
        delta = {k: v for k, v in deltas.get(batch_id, {}).items() if v}
        sets = [f"n_{k} = n_{k} + ?" for k in delta] + (["last_fed_at = ?"] if batch_id in fed_set else [])
        if not sets:
            continue
        args = [*delta.values(), *([now] if batch_id in fed_set else [])]
        if delta:
            sets.append("updated_at = ?")
            args.append(now)
        row = tx.execute(f"UPDATE batches SET {', '.join(sets)} WHERE id = ? RETURNING {BATCH_COLUMNS}", [*args, batch_id]).fetchone()
        if row is not None:
            rows[batch_id] = row
    batches = refresh_and_read(tx, touched, now, rows)
    for job, old in applied:
        tx.job_changed(job, old)
    for batch in batches:
        tx.batch_changed(batch)
    return applied, batches


def advance_sync(tx: Tx, updates: list[JobUpdate], need: int, now: float, owner_id: str) -> tuple[Applied, list[DispatchItem]]:
    """Apply the updates and claim up to ``need`` due jobs for ``owner_id``, in one transaction."""
    applied, skipped = _apply_updates(tx, updates, now)
    claimed = [row_to_job(row) for row in claim_sync(tx, need, now, owner_id)] if need > 0 else []
    jobs, batches = _account(tx, [*applied, *((job, JobStatus.PENDING) for job in claimed)],
                             list(dict.fromkeys(job.batch_id for job in claimed)), now)
    items = [DispatchItem(job.id, job.batch_id, job.idx, job.params, job.attempts, job.prompt_id, job.requeues) for job in claimed]
    return Applied(jobs, batches, skipped), items


def claim_sync(tx: Tx, need: int, now: float, owner_id: str) -> list[Any]:
    """Claim up to ``need`` due pending jobs in scheduling order (as pick_sync orders them); their rows as stored.

    Each claim is one UPDATE that picks the batch's next due job itself (no SELECT of the due jobs first),
    taken one per batch in turn within a priority level (batchgen/scheduling.py), least recently fed first.
    """
    candidates = [Candidate(r["id"], r["priority"], r["last_fed_at"], r["seq"], r["due_at"])
                  for r in tx.execute(_CANDIDATES_SQL).fetchall() if r["due_at"] is not None]
    claimed: list[Any] = []
    for level in levels(candidates, now):
        active = list(level)
        if len(active) == 1:
            # One batch at this level: its next jobs in one statement (each statement is a GIL hand-off with ComfyUI's worker).
            prefix = str(uuid.uuid4())[:24]
            rows = tx.execute(_CLAIM_MANY_SQL, (prefix, now, owner_id, active[0], now, need - len(claimed))).fetchall()
            claimed += sorted(rows, key=lambda r: r["idx"])  # RETURNING gives no order
            active = []
        while active and len(claimed) < need:
            for batch_id in list(active):
                if len(claimed) >= need:
                    break
                row = tx.execute(_CLAIM_SQL, (str(uuid.uuid4()), now, owner_id, batch_id, now)).fetchone()
                if row is None:
                    active.remove(batch_id)  # no due job left in this batch
                else:
                    claimed.append(row)
        if len(claimed) >= need:
            break
    return claimed


def refresh_batches(tx: Tx, batch_ids: Iterable[str], now: float) -> None:
    """Recompute status/started/finished of batches from their counters."""
    refresh_and_read(tx, batch_ids, now)


def refresh_and_read(tx: Tx, batch_ids: Iterable[str], now: float, known: dict[str, Any] | None = None) -> list[Batch]:
    """Recompute status/started/finished of batches from their counters; the batches as stored afterwards.

    ``known``: rows already read in this transaction after their last change (no second SELECT).
    """
    result: list[Batch] = []
    for batch_id in batch_ids:
        row = (known or {}).get(batch_id)
        if row is None:
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


def requeue_sync(tx: Tx, batch_id: str, job_id: int | None, now: float, unpause: bool = False) -> int:
    """Failed and cancelled jobs of a batch (or one job) back to pending (un-paused if asked); one batch event with the new counts."""
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
        f"cancelled = 0,{' paused = 0,' if unpause else ''} updated_at = ? WHERE id = ?",
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
