"""Transaction bodies and reads of batches: insert, flags, delete."""

from __future__ import annotations

import json
from typing import Any

from .. import ids
from ..breather import Breather
from ..expansion import JobSpec
from ..jsonrows import dumps
from ..models import BatchStatus, JobStatus
from .events_sql import Tx
from .jobs_sql import log_batch, refresh_batches
from .rows import NewBatch, seed_in


def insert_batch_sync(tx: Tx, new: NewBatch, template_json: str, options_json: str, jobs: list[JobSpec], now: float) -> None:
    """Insert a batch and its jobs."""
    # Rows are encoded here, in the connection thread, not on the event loop; with one reused encoder (jsonrows).
    pending = JobStatus.PENDING.value
    breathe = Breather()  # 10,000 rows encode for ~30 ms: the event loop gets the GIL every ~2 ms meanwhile (batchgen/breather.py)
    rows = []
    for i, spec in enumerate(jobs):
        breathe()
        rows.append((new.id, i, pending, dumps(spec.params), seed_in(spec.seed), now, dumps(spec.coords) if spec.coords else None))
    (seq,) = tx.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM batches").fetchone()
    tx.execute(
        "INSERT INTO batches (id, seq, name, status, priority, template_id, template_json, options_json, "
        "output_subfolder, total, n_pending, max_attempts, created_at, updated_at, idempotency_key, request_hash, request_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.id, seq, new.name, BatchStatus.PENDING.value, new.priority, new.template_id, template_json, options_json,
         new.output_subfolder, len(rows), len(rows), new.max_attempts, now, now, new.idempotency_key, new.request_hash,
         None if new.request is None else json.dumps(new.request, ensure_ascii=False)),
    )
    tx.executemany("INSERT INTO jobs (batch_id, idx, status, params_json, seed, created_at, coords_json) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    log_batch(tx, new.id)


def set_flags_sync(tx: Tx, batch_id: str, flags: dict[str, Any], now: float) -> bool:
    """Set paused/cancelled/priority/max_attempts; recompute the status; log the batch."""
    sets = ", ".join(f"{k} = ?" for k in flags)
    cur = tx.execute(f"UPDATE batches SET {sets}, updated_at = ? WHERE id = ?", [*flags.values(), now, batch_id])
    if cur.rowcount == 0:
        return False
    refresh_batches(tx, [batch_id], now)
    log_batch(tx, batch_id)
    return True


def delete_batch_sync(tx: Tx, batch_id: str) -> bool:
    """Delete a batch and its jobs (its events stay until retention drops them)."""
    tx.execute("DELETE FROM jobs WHERE batch_id = ?", (batch_id,))
    deleted = tx.execute("DELETE FROM batches WHERE id = ?", (batch_id,)).rowcount > 0
    if deleted:
        tx.event(ids.EVENT_BATCH_DELETED, batch_id, None, {"id": batch_id})
    return deleted


def batch_flags_sync(conn: Any, batch_ids: list[str]) -> dict[str, tuple[bool, bool]]:
    """batch id -> (paused, cancelled) for the given batches (missing ones are left out)."""
    rows = conn.execute(f"SELECT id, paused, cancelled FROM batches WHERE id IN ({','.join('?' * len(batch_ids))})", batch_ids)
    return {r["id"]: (bool(r["paused"]), bool(r["cancelled"])) for r in rows}
