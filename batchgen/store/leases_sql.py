"""SQLite side of the ownership protocol (batchgen/leases.py): owners, heartbeats, adoption."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..leases import OwnerIdentity, OwnerRow
from ..models import Job
from .events_sql import Tx
from .rows import IN_FLIGHT_SQL, JOB_COLUMNS, row_to_job

# Owner rows whose heartbeat is older than this are deleted (they hold nothing any more).
OWNER_ROW_TTL_SECONDS = 7 * 86_400


def register_sync(tx: Tx, owner: OwnerIdentity, now: float) -> None:
    """Create or refresh the owner's row."""
    tx.execute(
        "INSERT INTO owners (owner_id, label, hostname, pid, machine, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(owner_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        (owner.owner_id, owner.label, owner.hostname, owner.pid, owner.machine, owner.started_at, now),
    )


def list_owners_sync(conn: Any) -> list[OwnerRow]:
    """Every owner row."""
    return [OwnerRow(r["owner_id"], r["label"], r["pid"], r["machine"], r["heartbeat_at"])
            for r in conn.execute("SELECT owner_id, label, pid, machine, heartbeat_at FROM owners")]


def adopt_sync(tx: Tx, me: str, expired: Sequence[OwnerRow], now: float) -> list[Job]:
    """Move to ``me`` the in-flight jobs of no known owner and of the expired owners whose heartbeat did not change."""
    still_expired = []
    for owner in expired:
        row = tx.execute("SELECT heartbeat_at FROM owners WHERE owner_id = ?", (owner.owner_id,)).fetchone()
        # Compare-and-set on the heartbeat: an owner that renewed since we looked keeps its jobs.
        if row is not None and row["heartbeat_at"] == owner.heartbeat_at:
            still_expired.append(owner.owner_id)
    rows = tx.execute(
        f"SELECT j.id, j.owner_id FROM jobs j LEFT JOIN owners o ON o.owner_id = j.owner_id "
        f"WHERE j.status IN {IN_FLIGHT_SQL} AND (j.owner_id IS NULL OR o.owner_id IS NULL)"
    ).fetchall()
    job_ids = [r["id"] for r in rows if r["owner_id"] != me]
    for owner_id in still_expired:
        job_ids += [r["id"] for r in tx.execute(f"SELECT id FROM jobs WHERE owner_id = ? AND status IN {IN_FLIGHT_SQL}", (owner_id,))]
    tx.executemany("UPDATE jobs SET owner_id = ? WHERE id = ?", [(me, job_id) for job_id in job_ids])
    tx.execute("DELETE FROM owners WHERE heartbeat_at < ? AND owner_id != ?", (now - OWNER_ROW_TTL_SECONDS, me))
    return [row_to_job(r) for r in (tx.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (j,)).fetchone() for j in job_ids)]


def owned_sync(conn: Any, owner_id: str) -> list[Job]:
    """In-flight jobs held by the owner."""
    rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner_id = ? AND status IN {IN_FLIGHT_SQL}", (owner_id,)).fetchall()
    return [row_to_job(r) for r in rows]


def release_sync(tx: Tx, owner_id: str) -> None:
    """Delete the owner's row."""
    tx.execute("DELETE FROM owners WHERE owner_id = ?", (owner_id,))
