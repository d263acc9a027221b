"""The contact_sheets table (migration 6) and the reads a grid batch's sheets need; free functions over a Store."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .. import ids
from .events_sql import Tx

ETA_BATCHES = 20  # the template's most recent batches looked at
ETA_SAMPLES_PER_BATCH = 50  # the latest succeeded jobs of each (an index range read: cheap whatever the batch size)


def claim_sync(tx: Tx, batch_id: str, seq: int, now: float, owner_id: str | None = None) -> bool:
    """Take the rendering of the batch's finish logged as event ``seq``: False if this or a later finish is taken."""
    cur = tx.execute(
        "INSERT INTO contact_sheets (batch_id, finished_seq, updated_at, owner_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(batch_id) DO UPDATE SET finished_seq = excluded.finished_seq, updated_at = excluded.updated_at, "
        "owner_id = excluded.owner_id WHERE contact_sheets.finished_seq < excluded.finished_seq", (batch_id, seq, now, owner_id))
    return cur.rowcount > 0


_UNSAVED = "(rendered_seq IS NULL OR rendered_seq < finished_seq)"


def unsaved_sync(conn: sqlite3.Connection) -> list[tuple[str, int, str | None]]:
    """(batch id, finish seq, claiming owner) of every claimed render whose pages were not saved (yet, or ever)."""
    rows = conn.execute(f"SELECT batch_id, finished_seq, owner_id FROM contact_sheets WHERE {_UNSAVED}")
    return [(r["batch_id"], int(r["finished_seq"]), r["owner_id"]) for r in rows]


def take_over_sync(tx: Tx, batch_id: str, seq: int, old_owner: str | None, owner_id: str, now: float) -> bool:
    """Claim an abandoned render from ``old_owner`` (a compare-and-set); False if it was saved or taken over meanwhile."""
    cur = tx.execute(f"UPDATE contact_sheets SET owner_id = ?, updated_at = ? WHERE batch_id = ? AND finished_seq = ? AND {_UNSAVED} "
                     "AND owner_id IS ?", (owner_id, now, batch_id, seq, old_owner))
    return cur.rowcount > 0


def save_sync(tx: Tx, batch_id: str, seq: int, pages: list[dict[str, Any]], now: float, error: str | None) -> bool:
    """Store the pages made for finish ``seq`` and log a batchgen.contact_sheet event; False if a later finish took over."""
    cur = tx.execute("UPDATE contact_sheets SET pages_json = ?, updated_at = ?, rendered_seq = finished_seq "
                     "WHERE batch_id = ? AND finished_seq = ?",
                     (json.dumps(pages, ensure_ascii=False), now, batch_id, seq))
    if cur.rowcount == 0:
        return False
    tx.event(ids.EVENT_CONTACT_SHEET, batch_id, None, {"batch_id": batch_id, "pages": pages, "error": error})
    return True


def grid_sync(conn: sqlite3.Connection, batch_id: str) -> tuple[str, str, dict[str, Any] | None] | None:
    """(batch name, output subfolder, the grid stored with the batch or None); None if the batch is gone."""
    row = conn.execute("SELECT name, output_subfolder, options_json FROM batches WHERE id = ?", (batch_id,)).fetchone()
    if row is None:
        return None
    options = json.loads(row["options_json"] or "{}")
    return row["name"], row["output_subfolder"], options.get("grid")


def pages_sync(conn: sqlite3.Connection, batch_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """batch id → its contact sheet pages (batches without sheets are left out)."""
    if not batch_ids:
        return {}
    marks = ",".join("?" * len(batch_ids))
    rows = conn.execute(f"SELECT batch_id, pages_json FROM contact_sheets WHERE batch_id IN ({marks})", batch_ids)
    return {r["batch_id"]: json.loads(r["pages_json"]) for r in rows}


def durations_sync(conn: sqlite3.Connection, template_id: str) -> list[float]:
    """Run times (s) of the latest succeeded jobs of the template's most recent batches, newest batch first."""
    batches = [r[0] for r in conn.execute("SELECT id FROM batches WHERE template_id = ? ORDER BY seq DESC LIMIT ?",
                                           (template_id, ETA_BATCHES))]
    out: list[float] = []
    for batch_id in batches:
        rows = conn.execute("SELECT started_at, finished_at FROM jobs WHERE batch_id = ? AND status = 'succeeded' "
                            "ORDER BY idx DESC LIMIT ?", (batch_id, ETA_SAMPLES_PER_BATCH))
        out += [f - s for s, f in rows if s is not None and f is not None and f >= s]
    return out


def active_batches_sync(conn: sqlite3.Connection) -> list[tuple[str | None, int, int, int]]:
    """(template id, priority, pending, queued + running) of every batch with work left that is not paused or cancelled."""
    rows = conn.execute("SELECT template_id, priority, n_pending, n_queued + n_running AS in_flight FROM batches "
                        "WHERE n_pending + n_queued + n_running > 0 AND paused = 0 AND cancelled = 0")
    return [(r["template_id"], int(r["priority"]), int(r["n_pending"]), int(r["in_flight"])) for r in rows]


def live_owners_sync(conn: sqlite3.Connection, lease_seconds: float) -> int:
    """Processes that renewed their job lease recently (each feeds its own ComfyUI)."""
    cutoff = time.time() - lease_seconds
    return int(conn.execute("SELECT COUNT(*) FROM owners WHERE heartbeat_at >= ?", (cutoff,)).fetchone()[0])

