"""sha256 of a job's output files computed once, right after its success is committed, into the output_hashes table.

Fed by the store's committed ``batchgen.job`` events of this process (not other processes': each hashes its own jobs'
files), off the dispatcher's path: files are hashed in a worker thread, up to ``BATCH_FILES`` per trip, and each
trip's hashes are stored in one transaction. A file's hash is stored with its size and mtime_ns (batchgen/manifest.py),
so an export or a manifest uses it only while the file is unchanged; what this never got to (a crash right after the
commit, a full queue) is hashed by the export or the manifest when they first read the file, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from . import ids
from . import manifest as mf
from .events import Event
from .models import JobStatus, OutputFile
from .store import hashes_sql

log = logging.getLogger("batchgen.hashes")

BATCH_FILES = 64
MAX_QUEUED = 100_000  # beyond this (an export would be quicker anyway) files are left to the export's fallback
_SUCCEEDED = JobStatus.SUCCEEDED.value


def hash_outputs(host: Any, outputs: list[OutputFile]) -> list[tuple[hashes_sql.Key, mf.Hashed]]:
    """(In a thread.) The outputs that are on disk, read once and hashed; vanished or changing files are left out."""
    rows = []
    for output in outputs:
        path = host.output_file(output.subfolder, output.filename, output.type)
        hashed = mf.hash_file(path) if path is not None else None
        if hashed is not None:
            rows.append((mf.key_of(output), hashed))
    return rows


class OutputHasher:
    """Hashes the outputs of jobs this process saw succeed; one background task, started lazily on the loop."""

    def __init__(self, store: Any, host: Any) -> None:
        self.store = store
        self.host = host
        self.queue: list[OutputFile] = []
        self.hashed = 0
        self._busy = 0
        self._drained = asyncio.Event()  # set while nothing is queued or being hashed
        self._drained.set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        store.subscribe(self.on_events, foreign=False)

    def on_events(self, events: list[Event]) -> None:
        """(After a commit, on the loop.) Queue the files of every job whose success was just committed."""
        added = False
        for event in events:
            data = event.data
            if event.type == ids.EVENT_JOB and data.get("status") == _SUCCEEDED and data.get("previous_status") != _SUCCEEDED:
                outputs = [OutputFile(**o) for o in data.get("outputs") or [] if o.get("type") == "output"]
                if outputs and len(self.queue) < MAX_QUEUED:
                    self.queue += outputs
                    added = True
        if added:
            self._drained.clear()
            self._ensure_task()
            self._wake.set()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._run())
            except RuntimeError:  # no loop (a synchronous tool): the export hashes these files itself
                self.queue.clear()
                self._drained.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.queue:
                await self.hash_some()

    async def hash_some(self) -> int:
        """Hash the next files of the queue (one thread trip) and store their hashes; returns how many were stored."""
        taken, self.queue = self.queue[:BATCH_FILES], self.queue[BATCH_FILES:]
        if not taken:
            return 0
        self._busy += 1
        try:
            rows = await asyncio.to_thread(hash_outputs, self.host, taken)
            if rows:
                await self.store.run_in_transaction(hashes_sql.upsert_sync, [(k, h.size, h.mtime_ns, h.sha256) for k, h in rows],
                                                    time.time())
        except Exception:  # the export hashes what is missing; a failure here costs time there, nothing else
            log.warning("[batchgen] could not store the sha256 of %d output file(s)", len(taken), exc_info=True)
            return 0
        finally:
            self._busy -= 1
            if not self.queue and not self._busy:
                self._drained.set()
        self.hashed += len(rows)
        return len(rows)

    async def idle(self) -> None:
        """Wait until every queued file is hashed (tests)."""
        await self._drained.wait()

    async def stop(self) -> None:
        """Stop the task (what is still queued is left to the export's fallback)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
