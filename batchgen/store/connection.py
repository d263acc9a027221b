"""The store's connections and transactions: one writer, inline (or threaded) reads, the event log hook.

One write connection (writes are serialised by an asyncio lock and each runs in one
``BEGIN IMMEDIATE`` transaction, in one hop to aiosqlite's thread) and one read connection,
WAL, ``synchronous=FULL``. Each transaction body receives a ``Tx``: its ``execute`` is the
connection's, and what it logs with ``tx.event``/``tx.batch_changed`` is inserted into the
``events`` table before the COMMIT, then handed to the subscribers after it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ..errors import unavailable
from ..events import Event
from ..schema import MIGRATIONS
from . import events_sql

log = logging.getLogger("batchgen.store")
T = TypeVar("T")


class StoreBusy(Exception):
    """The database stayed locked by another process past the busy timeout."""


def busy_error() -> Exception:
    """The API error for a locked database."""
    return unavailable("store_busy", "the batch database is locked by another process; retry shortly", retry_after=2)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class Connections:
    """Lifecycle, transactions and reads; the Store's SQL methods build on these."""

    def __init__(self, path: Path | str, busy_timeout_ms: int = 5000, inline_reads: bool = True,
                 event_retention: int = 100_000) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self.busy_timeout_ms = busy_timeout_ms
        self._write: aiosqlite.Connection | None = None
        self._read: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self.inline_reads = inline_reads
        self._lock = asyncio.Lock()
        self.last_error: str | None = None
        self.log_state = events_sql.LogState(retention=event_retention)
        self._subscribers: list[tuple[Callable[[list[Event]], None], bool]] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the write connection and the read connection, set pragmas and apply migrations."""
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = await self._connect()
        await self._prepare_file()
        await self._migrate()
        if not self.inline_reads or not isinstance(self.path, Path):
            self._read = await self._connect()
        else:
            # A short busy timeout: this connection runs on the event loop and must never block it long.
            self._inline = sqlite3.connect(str(self.path), isolation_level=None, timeout=0.2, check_same_thread=False)
            self._inline.row_factory = sqlite3.Row
            self._inline.execute("PRAGMA foreign_keys=ON")
        self.log_state.last_published = await self.run_read(events_sql.max_seq_sync)
        self.log_state.enabled = True

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
        conn = await aiosqlite.connect(str(self.path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in (f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"):
            await _run(conn, pragma)
        return conn

    async def close(self) -> None:
        """Close the connections."""
        self.log_state.enabled = False
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        for conn in (self._read, self._write):
            if conn is not None:
                await conn.close()
        self._read = self._write = None

    async def _prepare_file(self) -> None:
        """WAL mode and the migrations table; retried, since another process may be creating the same file right now."""
        assert self._write is not None
        for attempt in range(100):
            try:
                # SQLite answers "locked" at once (no busy wait) while another connection switches a new file to WAL.
                await _run(self._write, "PRAGMA journal_mode=WAL")
                await _run(self._write, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == 99:
                    raise
                await asyncio.sleep(0.05)

    async def _migrate(self) -> None:
        assert self._write is not None
        async with self._write.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
            (current,) = await cur.fetchone()
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            if await self.run_in_transaction(_migrate_sync, version, sql, time.time()):
                log.info("[batchgen] database migrated to version %d", version)

    @property
    def ready(self) -> bool:
        """True once open() succeeded."""
        return self._write is not None and (self._read is not None or self._inline is not None)

    def subscribe(self, callback: Callable[[list[Event]], None], *, foreign: bool = True) -> None:
        """Call ``callback(events)`` with committed events, in seq order, after every commit that logged some.

        ``foreign=False``: only this process's own commits, not the events other processes committed (poll_events).
        """
        self._subscribers.append((callback, foreign))

    def _deliver(self, events: list[Event], foreign: bool = False) -> None:
        if events:
            for callback, wants_foreign in self._subscribers:
                if wants_foreign or not foreign:
                    callback(events)

    # -- transactions and reads ------------------------------------------------------------

    async def run_in_transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(tx, *args)`` as one BEGIN IMMEDIATE transaction in one hop to the connection thread.

        Why: every awaited aiosqlite call is a thread hop (~0.1 ms plus GIL contention with
        ComfyUI's worker); a state change is 5-8 statements, so one hop per transaction keeps
        our per-job overhead small. aiosqlite has no public call for this; ``_execute`` is its
        queue-a-function primitive (tests/unit/test_store.py pins that it exists).
        """
        assert self._write is not None, "store not open"
        async with self._lock:
            try:
                result, events = await self._write._execute(_transaction, self._write, fn, args, self.log_state)
            except sqlite3.OperationalError as exc:
                self.last_error = str(exc)
                if _is_busy(exc):
                    raise StoreBusy(str(exc)) from exc
                raise
            self._deliver(events)
            return result

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the read connection (several reads, one snapshot).

        Inline reads run right here on the event loop: in WAL mode a read never waits for the
        writer and our reads take 0.1-0.5 ms, whereas a hop to a reader thread has to win the
        GIL back from ComfyUI's busy worker twice, which measured 300 ms p99 under 32 pollers
        (docs/benchmarks.md). BATCHGEN_READS=thread selects the aiosqlite thread instead.
        """
        try:
            if self._inline is not None:
                if getattr(fn, "single_statement", False):
                    # One SELECT is its own snapshot. GET /batches/{id} is what clients poll, and each sqlite3 call
                    # on the loop releases the GIL and must win it back from ComfyUI's busy worker: one call, not three.
                    return fn(self._inline, *args)
                return _run_snapshot(self._inline, fn, args)
            if self._read is not None:
                return await self._read._execute(_read_snapshot, self._read, fn, args)
            assert self._write is not None, "store not open"
            return await self._write._execute(_read_snapshot, self._write, fn, args)  # during open()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy(str(exc)) from exc
            raise

    async def poll_events(self) -> None:
        """Hand events committed by other processes to the subscribers (websocket of this process)."""
        if not self.log_state.enabled or not self._subscribers:
            return
        async with self._lock:
            events = await self.run_read(events_sql.read_after_sync, self.log_state.last_published, events_sql.FOREIGN_LIMIT)
            if events:
                self.log_state.last_published = events[-1].seq
            self._deliver(events, foreign=True)


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """Execute one statement to its end: an unread result keeps the statement, and its lock on the file, open."""
    async with conn.execute(sql) as cursor:
        await cursor.fetchall()


def _read_snapshot(aconn: aiosqlite.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """(In the read connection's thread.) Several reads inside one read transaction."""
    return _run_snapshot(aconn._connection, fn, args)  # type: ignore[attr-defined]


def _run_snapshot(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    """Several reads inside one read transaction."""
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("COMMIT")


def _transaction(aconn: aiosqlite.Connection, fn: Callable[..., T], args: tuple[Any, ...],
                 state: events_sql.LogState) -> tuple[T, list[Event]]:
    """(In the connection thread.) BEGIN IMMEDIATE, run, log the events, COMMIT; ROLLBACK on any error."""
    conn: sqlite3.Connection = aconn._connection  # type: ignore[attr-defined]
    conn.execute("BEGIN IMMEDIATE")
    try:
        tx = events_sql.Tx(conn, state)
        result = fn(tx, *args)
        pending = events_sql.finish(tx) if state.enabled else None
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    # The throttle and publication marks change only once the commit succeeded.
    return result, (events_sql.committed(state, pending) if pending is not None else [])


def _migrate_sync(tx: Any, version: int, sql: str, now: float) -> bool:
    # Re-checked under the write lock: two ComfyUI processes started together on one database
    # would otherwise both apply the same migration (and the second would fail to open).
    if tx.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
        return False
    for statement in (s.strip() for s in sql.split(";")):
        if statement:
            tx.execute(statement)
    tx.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, now))
    return True
