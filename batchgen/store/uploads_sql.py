"""The SQL of the ``uploads`` table (migration 5), as an async API over the Store's connections.

Whether a batch still needs an upload is read from the batches themselves: an unfinished batch (pending, running,
paused) whose stored request names the upload's id. Ids are 32 random hex characters, so a match is not a coincidence;
the check and the delete run in one write transaction, so a batch committed before it is always seen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .connection import Connections

UNFINISHED = ("pending", "running", "paused")
_COLUMNS = "id, kind, format, name, stored, bytes, sha256, width, height, info_json, created_at, last_used_at"


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """One upload's metadata row."""

    id: str
    kind: str  # "table" | "image"
    format: str  # csv, tsv, jsonl, xlsx | png, jpeg, webp
    name: str  # the sanitised original file name, for display only
    stored: str  # the stored file's name (tables: in the uploads folder; images: relative to ComfyUI's input folder)
    bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    last_used_at: float = 0.0


def _record(row: Any) -> UploadRecord:
    return UploadRecord(row["id"], row["kind"], row["format"], row["name"], row["stored"], row["bytes"], row["sha256"],
                        row["width"], row["height"], json.loads(row["info_json"]), row["created_at"], row["last_used_at"])


def _users_sync(conn: Any, upload_id: str) -> list[str]:
    """Ids of the unfinished batches whose request names this upload."""
    marks = ",".join("?" * len(UNFINISHED))
    rows = conn.execute(f"SELECT id FROM batches WHERE status IN ({marks}) AND instr(request_json, ?) > 0 ORDER BY seq",
                        [*UNFINISHED, upload_id]).fetchall()
    return [r[0] for r in rows]


def _insert_sync(tx: Any, rec: UploadRecord) -> None:
    tx.execute(f"INSERT INTO uploads ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
               (rec.id, rec.kind, rec.format, rec.name, rec.stored, rec.bytes, rec.sha256, rec.width, rec.height,
                json.dumps(rec.info, ensure_ascii=False), rec.created_at, rec.last_used_at))


def _delete_unused_sync(tx: Any, upload_id: str) -> tuple[UploadRecord | None, list[str]]:
    row = tx.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id = ?", (upload_id,)).fetchone()
    if row is None:
        return None, []
    users = _users_sync(tx, upload_id)
    if not users:
        tx.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
    return _record(row), users


def _stale_sync(conn: Any, before: float, limit: int) -> list[UploadRecord]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM uploads WHERE last_used_at < ? ORDER BY last_used_at LIMIT ?", (before, limit)).fetchall()
    return [_record(r) for r in rows]


def _touch_sync(tx: Any, upload_ids: list[str], now: float) -> None:
    tx.executemany("UPDATE uploads SET last_used_at = ? WHERE id = ?", [(now, i) for i in upload_ids])


def _get_many_sync(conn: Any, upload_ids: list[str]) -> dict[str, UploadRecord]:
    out: dict[str, UploadRecord] = {}
    for start in range(0, len(upload_ids), 500):  # SQLite's bound-parameter limit
        part = upload_ids[start:start + 500]
        rows = conn.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        out.update((r["id"], _record(r)) for r in rows)
    return out


def _page_sync(conn: Any, kind: str | None, limit: int, offset: int) -> tuple[list[UploadRecord], int]:
    where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
    rows = conn.execute(f"SELECT {_COLUMNS} FROM uploads {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                        [*args, limit, offset]).fetchall()
    (total,) = conn.execute(f"SELECT COUNT(*) FROM uploads {where}", args).fetchone()
    return [_record(r) for r in rows], int(total)


class UploadRecords:
    """Async access to the uploads table through a Store's connections."""

    def __init__(self, store: Connections) -> None:
        self.store = store

    async def insert(self, rec: UploadRecord) -> None:
        """Store one upload's metadata."""
        await self.store.run_in_transaction(_insert_sync, rec)

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, UploadRecord]:
        """id → record for those of the ids that exist."""
        return await self.store.run_read(_get_many_sync, list(upload_ids)) if upload_ids else {}

    async def page(self, kind: str | None, limit: int, offset: int) -> tuple[list[UploadRecord], int]:
        """Newest first, optionally one kind; also the total."""
        return await self.store.run_read(_page_sync, kind, limit, offset)

    async def users(self, upload_id: str) -> list[str]:
        """Unfinished batches that use this upload."""
        return await self.store.run_read(_users_sync, upload_id)

    async def delete_unused(self, upload_id: str) -> tuple[UploadRecord | None, list[str]]:
        """Delete the row unless an unfinished batch uses it: (the record or None, the batches that use it)."""
        return await self.store.run_in_transaction(_delete_unused_sync, upload_id)

    async def stale(self, before: float, limit: int = 200) -> list[UploadRecord]:
        """Uploads not used since ``before``, oldest first."""
        return await self.store.run_read(_stale_sync, before, limit)

    async def touch(self, upload_ids: Sequence[str], now: float) -> None:
        """Mark uploads as used now (a batch was made from them)."""
        if upload_ids:
            await self.store.run_in_transaction(_touch_sync, list(upload_ids), now)
