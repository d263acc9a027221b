"""The events table: logging inside a write transaction, batch-event throttling, retention, reads."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from ..events import Event, batch_event, job_event
from ..models import Batch, Job, JobStatus
from .rows import BATCH_COLUMNS, row_to_batch

# Counter-only batch changes are logged at most this often per batch (a status change always).
BATCH_THROTTLE_SECONDS = 0.25
# Retention is enforced every this many inserted events (one cheap range delete on the primary key).
PRUNE_EVERY = 1000
# At most this many events of other processes are relayed to the websocket at once.
FOREIGN_LIMIT = 5000
# Events per INSERT statement (5 parameters each; well under SQLite's limit of variables).
INSERT_CHUNK = 500

_EVENT_COLUMNS = "seq, type, batch_id, job_id, created_at, data_json"


@dataclass(slots=True)
class LogState:
    """Per-store memory of the log; read and changed only under the store's write lock."""

    retention: int = 100_000
    enabled: bool = False
    last_published: int = 0
    logged: dict[str, tuple[str, float]] = field(default_factory=dict)  # batch -> (status, monotonic time) last logged
    dirty: set[str] = field(default_factory=set)  # batches with a change not logged yet (throttled)
    inserted: int = 0

    def flush_due(self) -> bool:
        """True if a throttled batch change is due to be logged."""
        mono = time.monotonic()
        return any(mono - self.logged.get(b, ("", 0.0))[1] >= BATCH_THROTTLE_SECONDS for b in self.dirty)


class Tx:
    """One write transaction: the connection's execute, plus the events it logs."""

    __slots__ = ("conn", "execute", "executemany", "state", "events", "logged", "dirty")

    def __init__(self, conn: sqlite3.Connection, state: LogState) -> None:
        self.conn = conn
        self.execute = conn.execute
        self.executemany = conn.executemany
        self.state = state
        self.events: list[tuple[str, str | None, int | None, dict[str, Any]]] = []
        self.logged: dict[str, tuple[str, float]] = {}
        self.dirty: set[str] = set()

    def event(self, kind: str, batch_id: str | None, job_id: int | None, data: dict[str, Any]) -> None:
        """Log one event in this transaction."""
        self.events.append((kind, batch_id, job_id, data))

    def job_changed(self, job: Job, previous: JobStatus | None) -> None:
        """Log a ``batchgen.job`` event."""
        self.event(ids.EVENT_JOB, job.batch_id, job.id, job_event(job, previous))

    def batch_changed(self, batch: Batch, force: bool = False) -> None:
        """Log a ``batchgen.batch`` event: always on a status change (or when forced), else at most every 0.25 s."""
        last = self.logged.get(batch.id) or self.state.logged.get(batch.id)
        mono = time.monotonic()
        if force or last is None or last[0] != batch.status.value or mono - last[1] >= BATCH_THROTTLE_SECONDS:
            self.event(ids.EVENT_BATCH, batch.id, None, batch_event(batch))
            self.logged[batch.id] = (batch.status.value, mono)
            self.dirty.discard(batch.id)
        else:
            self.dirty.add(batch.id)  # logged later, so a replay always ends with the final counts


@dataclass(slots=True)
class Pending:
    """What a transaction logged, waiting for its COMMIT."""

    events: list[Event]
    tx: Tx
    inserted: int
    pruned: bool


def finish(tx: Tx) -> Pending:
    """(Before COMMIT.) Log throttled batch changes now due, insert the events, prune the oldest."""
    state = tx.state
    mono = time.monotonic()
    for batch_id in sorted(state.dirty - tx.dirty - set(tx.logged)):
        if mono - state.logged.get(batch_id, ("", 0.0))[1] >= BATCH_THROTTLE_SECONDS:
            row = tx.execute(f"SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                tx.logged[batch_id] = ("deleted", mono)
                continue
            tx.batch_changed(row_to_batch(row), force=True)
    if not tx.events:
        return Pending([], tx, 0, False)
    now = time.time()
    rows = [(kind, batch_id, job_id, now, json.dumps(data, ensure_ascii=False)) for kind, batch_id, job_id, data in tx.events]
    seqs: list[int] = []
    for start in range(0, len(rows), INSERT_CHUNK):
        # One multi-row INSERT … RETURNING per chunk: the seqs without a last_insert_rowid() round trip, and one
        # statement instead of one per row (each statement hands the GIL to ComfyUI's worker thread).
        chunk = rows[start:start + INSERT_CHUNK]
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        seqs += [r[0] for r in tx.execute(f"INSERT INTO events (type, batch_id, job_id, created_at, data_json) VALUES {values} "
                                          "RETURNING seq", [v for row in chunk for v in row]).fetchall()]
    # RETURNING's row order is unspecified; we hold the write lock, so the seqs are consecutive in VALUES order.
    seqs.sort()
    first, last = seqs[0], seqs[-1]
    ours = [Event(first + i, kind, batch_id, job_id, now, data) for i, (kind, batch_id, job_id, data) in enumerate(tx.events)]
    # Events other processes committed since we last published (between our last seq and our first) come first,
    # in seq order, for our websocket. Only when there is such a gap: a lone process never reads them back.
    foreign = read_between_sync(tx.conn, state.last_published, first, FOREIGN_LIMIT) if first > state.last_published + 1 else []
    pruned = state.inserted + len(rows) >= PRUNE_EVERY
    if pruned:
        tx.execute("DELETE FROM events WHERE seq <= ?", (last - state.retention,))
    return Pending(foreign + ours, tx, len(rows), pruned)


def committed(state: LogState, pending: Pending) -> list[Event]:
    """(After COMMIT.) Remember what was logged and published; the events to hand to subscribers."""
    tx = pending.tx
    state.logged.update(tx.logged)
    state.dirty = (state.dirty | tx.dirty) - set(tx.logged)
    state.inserted = 0 if pending.pruned else state.inserted + pending.inserted
    if pending.events:
        state.last_published = max(state.last_published, pending.events[-1].seq)
    return pending.events


def _row_to_event(row: sqlite3.Row) -> Event:
    return Event(row["seq"], row["type"], row["batch_id"], row["job_id"], row["created_at"], json.loads(row["data_json"]))


def max_seq_sync(conn: sqlite3.Connection) -> int:
    """The highest seq in the log (0 if empty)."""
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])


def read_after_sync(conn: sqlite3.Connection, after: int, limit: int) -> list[Event]:
    """Events after ``after``, oldest first."""
    rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
    return [_row_to_event(r) for r in rows]


def read_between_sync(conn: sqlite3.Connection, after: int, before: int, limit: int) -> list[Event]:
    """Events with after < seq < before, oldest first."""
    rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?",
                        (after, before, limit)).fetchall()
    return [_row_to_event(r) for r in rows]


def list_events_sync(conn: sqlite3.Connection, after: int, batch_id: str | None, limit: int) -> tuple[list[Event], int, int, bool]:
    """(events, last_seq, oldest_seq, has_more) in one snapshot."""
    if batch_id is None:
        rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit + 1)).fetchall()
    else:
        rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE batch_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                            (batch_id, after, limit + 1)).fetchall()
    last, oldest = conn.execute("SELECT COALESCE(MAX(seq), 0), COALESCE(MIN(seq), 0) FROM events").fetchone()
    return [_row_to_event(r) for r in rows[:limit]], int(last), int(oldest), len(rows) > limit
