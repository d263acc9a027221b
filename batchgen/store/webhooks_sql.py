"""The webhooks and webhook_deliveries tables (migration 7): rows, cursor, lease, attempts. Parameterised SQL only."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

# Attempts kept per webhook (the oldest are dropped).
KEEP_DELIVERIES = 2000

_COLUMNS = ("id, url, events_json, batch_id, description, created_at, cursor, delivered, failures, last_status, "
            "last_attempt_at, owner_id, lease_until, streak, streak_since, disabled_at, disabled_reason")


@dataclass(slots=True)
class WebhookRow:
    """One webhook as stored (its secret is not in the database)."""

    id: str
    url: str
    events: list[str]
    batch_id: str | None
    description: str
    created_at: float
    cursor: int
    delivered: int
    failures: int
    last_status: str | None
    last_attempt_at: float | None
    owner_id: str | None = None
    lease_until: float = 0.0
    streak: int = 0  # failed attempts in a row (a 2xx resets it)
    streak_since: float | None = None  # when the first of them started
    disabled_at: float | None = None
    disabled_reason: str | None = None


@dataclass(slots=True)
class Attempt:
    """One delivery attempt of one event to one webhook."""

    event_seq: int
    event_type: str
    attempt: int
    started_at: float
    duration_ms: float
    status_code: int | None
    ok: bool
    error: str | None


def _row(row: sqlite3.Row) -> WebhookRow:
    return WebhookRow(row["id"], row["url"], json.loads(row["events_json"]), row["batch_id"], row["description"],
                      row["created_at"], row["cursor"], row["delivered"], row["failures"], row["last_status"],
                      row["last_attempt_at"], row["owner_id"], row["lease_until"], row["streak"], row["streak_since"],
                      row["disabled_at"], row["disabled_reason"])


def insert_sync(tx: Any, hook: WebhookRow) -> None:
    """Insert a new webhook."""
    tx.execute(f"INSERT INTO webhooks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (hook.id, hook.url, json.dumps(hook.events), hook.batch_id, hook.description, hook.created_at, hook.cursor,
                0, 0, None, None, None, 0.0, 0, None, None, None))


def get_sync(conn: sqlite3.Connection, webhook_id: str) -> WebhookRow | None:
    """One webhook."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
    return None if row is None else _row(row)


def list_sync(conn: sqlite3.Connection, batch_id: str | None) -> list[WebhookRow]:
    """Every webhook (or a batch's), oldest first."""
    if batch_id is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM webhooks ORDER BY created_at, id").fetchall()
    else:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM webhooks WHERE batch_id = ? ORDER BY created_at, id", (batch_id,)).fetchall()
    return [_row(r) for r in rows]


def delete_sync(tx: Any, webhook_id: str) -> bool:
    """Delete a webhook and its attempts."""
    return tx.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)).rowcount > 0


def claim_sync(tx: Any, webhook_id: str, owner_id: str, now: float, until: float) -> bool:
    """Take or renew the delivery lease (one process delivers a webhook); False if another live process holds it."""
    cur = tx.execute("UPDATE webhooks SET owner_id = ?, lease_until = ? WHERE id = ? AND "
                     "(owner_id IS NULL OR owner_id = ? OR lease_until < ?)", (owner_id, until, webhook_id, owner_id, now))
    return cur.rowcount > 0


def record_sync(tx: Any, webhook_id: str, owner_id: str, attempts: list[Attempt], cursor: int, until: float,
                disable_after: int = 0, disable_seconds: float = 0.0) -> bool:
    """Record attempts and advance the cursor (never backwards) in one transaction, if this process still holds the lease.

    Keeps the failure streak (attempts failed in a row, since when) and disables the webhook once it reaches
    ``disable_after`` attempts spanning at least ``disable_seconds`` (``disable_after`` 0: never).
    """
    row = tx.execute("SELECT owner_id, streak, streak_since FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
    if row is None or row[0] != owner_id:
        return False
    streak, since = int(row[1]), row[2]
    for a in attempts:
        streak, since = (0, None) if a.ok else (streak + 1, since if since is not None else a.started_at)
    if attempts:
        tx.execute("UPDATE webhooks SET streak = ?, streak_since = ? WHERE id = ?", (streak, since, webhook_id))
        last = attempts[-1].started_at
        if disable_after and streak >= disable_after and since is not None and last - since >= disable_seconds:
            reason = (f"{streak} deliveries failed in a row over {(last - since) / 3600:.1f} h (last: "
                      f"{attempts[-1].error or attempts[-1].status_code})")[:300]
            tx.execute("UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL",
                       (last, reason, webhook_id))
    if attempts:
        tx.executemany("INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, attempt, started_at, duration_ms, "
                       "status_code, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(webhook_id, a.event_seq, a.event_type, a.attempt, a.started_at, round(a.duration_ms, 3), a.status_code,
                         int(a.ok), a.error) for a in attempts])
        last = attempts[-1]
        ok = sum(1 for a in attempts if a.ok)
        tx.execute("UPDATE webhooks SET delivered = delivered + ?, failures = failures + ?, last_status = ?, last_attempt_at = ? "
                   "WHERE id = ?", (ok, len(attempts) - ok, "ok" if all(a.ok for a in attempts) else "failing",
                                    last.started_at, webhook_id))
        tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ? AND id <= (SELECT id FROM webhook_deliveries "
                   "WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", (webhook_id, webhook_id, KEEP_DELIVERIES))
    tx.execute("UPDATE webhooks SET cursor = MAX(cursor, ?), lease_until = ? WHERE id = ?", (cursor, until, webhook_id))
    return True


def record_ping_sync(tx: Any, webhook_id: str, a: Attempt) -> int:
    """Record a ping's attempt (no cursor, counter or lease change); its delivery id."""
    cur = tx.execute("INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, attempt, started_at, duration_ms, "
                     "status_code, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (webhook_id, a.event_seq, a.event_type, a.attempt, a.started_at, round(a.duration_ms, 3), a.status_code,
                      int(a.ok), a.error))
    return int(cur.lastrowid)


def enable_sync(tx: Any, webhook_id: str) -> bool:
    """Enable a disabled webhook again, with a fresh failure streak (it goes on from its cursor); False if it is gone."""
    return tx.execute("UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL, streak = 0, streak_since = NULL "
                      "WHERE id = ?", (webhook_id,)).rowcount > 0


def release_sync(tx: Any, owner_id: str) -> None:
    """Give up every lease of this process (clean shutdown)."""
    tx.execute("UPDATE webhooks SET owner_id = NULL, lease_until = 0 WHERE owner_id = ?", (owner_id,))


def deliveries_sync(conn: sqlite3.Connection, webhook_id: str, limit: int, before: int | None) -> list[dict[str, Any]]:
    """Attempts, newest first (``before``: only ids below it, for paging)."""
    rows = conn.execute("SELECT id, event_seq, event_type, attempt, started_at, duration_ms, status_code, ok, error "
                        "FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                        (webhook_id, before if before is not None else 2**63 - 1, limit)).fetchall()
    return [{"id": r["id"], "event_seq": r["event_seq"], "event_type": r["event_type"], "message_id": _message_id(r),
             "attempt": r["attempt"], "started_at": r["started_at"], "duration_ms": r["duration_ms"], "status_code": r["status_code"],
             "ok": bool(r["ok"]), "error": r["error"]} for r in rows]


def _message_id(r: sqlite3.Row) -> str:
    """The webhook-id header the attempt carried: evt_<seq> for events, ping_<ms> for pings (webhook_ping.py)."""
    return f"ping_{round(r['started_at'] * 1000)}" if r["event_seq"] == 0 else f"evt_{r['event_seq']}"


def confirmed_after_sync(conn: sqlite3.Connection, webhook_id: str, cursor: int) -> set[int]:
    """Events after the cursor already answered 2xx (confirmed out of order before a restart: not sent again)."""
    rows = conn.execute("SELECT DISTINCT event_seq FROM webhook_deliveries WHERE webhook_id = ? AND ok = 1 AND event_seq > ?",
                        (webhook_id, cursor)).fetchall()
    return {int(r[0]) for r in rows}


def max_seq_sync(conn: sqlite3.Connection) -> int:
    """The newest event's seq (a global webhook starts after it)."""
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
