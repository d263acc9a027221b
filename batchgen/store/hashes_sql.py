"""SQL of the output_hashes table (migration 8): sha256 of output files, valid while size and mtime_ns match."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Key = tuple[str, str, str]  # (type, subfolder, filename)


def lookup_sync(conn: Any, keys: Sequence[Key]) -> dict[Key, tuple[int, int, str]]:
    """key → (bytes, mtime_ns, sha256) for the keys that have a row."""
    found: dict[Key, tuple[int, int, str]] = {}
    for key in keys:
        row = conn.execute("SELECT bytes, mtime_ns, sha256 FROM output_hashes WHERE type = ? AND subfolder = ? AND filename = ?",
                           key).fetchone()
        if row is not None:
            found[key] = (int(row[0]), int(row[1]), str(row[2]))
    return found


def upsert_sync(tx: Any, rows: Sequence[tuple[Key, int, int, str]], now: float) -> None:
    """Record (key, bytes, mtime_ns, sha256) rows, replacing older hashes of the same files."""
    tx.executemany(
        "INSERT INTO output_hashes (type, subfolder, filename, bytes, mtime_ns, sha256, hashed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (type, subfolder, filename) DO UPDATE SET bytes = excluded.bytes, mtime_ns = excluded.mtime_ns, "
        "sha256 = excluded.sha256, hashed_at = excluded.hashed_at",
        [(k[0], k[1], k[2], size, mtime, digest, now) for k, size, mtime, digest in rows])
