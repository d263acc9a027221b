"""Uploaded tables and images: streamed to disk, checked, stored under server-chosen names, listed, deleted, cleaned up.

Where files live: tables in ``<system user dir>/uploads/<id>.<format>`` (not reachable through ComfyUI's routes);
images, re-encoded, in ``<ComfyUI input dir>/batchgen/<id>.<ext>`` so LoadImage reads them as ``batchgen/<id>.png``.
A file arrives in ``<uploads>/.incoming/<id>.part`` (written in pieces as it is received, never held whole in memory),
is checked there, and only a file that passed is moved to its place (a rename inside the target folder, so nobody ever
sees half a file). A refused upload leaves nothing behind. The original file name is kept only as display text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import imaging, upload_checks, xlsx
from .breather import bulk_work
from .errors import ApiError, conflict, not_found, too_large
from .store.uploads_sql import UploadRecord, UploadRecords

log = logging.getLogger("batchgen.uploads")

IMAGE_SUBFOLDER = "batchgen"  # below ComfyUI's input folder
CLEANUP_EVERY_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class ResolvedUpload:
    """What a batch source needs of an upload: its kind and format, display name, file on disk and LoadImage value."""

    id: str
    kind: str
    format: str
    name: str
    path: Path
    input_name: str | None  # images: the value for LoadImage's image input ("batchgen/<id>.png")


class Incoming:
    """One file being received: written piece by piece to a private .part file, counted against the size limit."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.id = uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{self.id}.part"
        self.limit = limit
        self.size = 0
        self.head = b""
        self._digest = hashlib.sha256()
        self._fh = self.path.open("xb")

    def write(self, chunk: bytes) -> None:
        """Append a piece (64 KiB writes land in the page cache; the event loop is not held up)."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise too_large("upload_too_large", f"the file is over the limit of {self.limit} bytes (BATCHGEN_MAX_UPLOAD_MB)",
                            limit=self.limit)
        if len(self.head) < 64:
            self.head += chunk[: 64 - len(self.head)]
        self._digest.update(chunk)
        self._fh.write(chunk)

    def close(self) -> str:
        """Close the file; its sha256."""
        if not self._fh.closed:
            self._fh.close()
        return self._digest.hexdigest()

    def discard(self) -> None:
        """Close and delete the .part file."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Uploads:
    """The upload use cases over the uploads table and the two folders."""

    def __init__(self, records: UploadRecords, tables_dir: Path, input_dir: Path | None, max_bytes: int, max_pixels: int,
                 ttl_hours: int) -> None:
        self.records = records
        self.tables_dir = tables_dir
        self.input_dir = input_dir
        self.max_bytes, self.max_pixels, self.ttl_hours = max_bytes, max_pixels, ttl_hours
        self._last_cleanup = 0.0
        # Upload ids a batch being accepted right now has read (this process): not deleted until it is committed.
        self._held: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, upload_ids: list[str]) -> Iterator[None]:
        """While a batch naming these uploads is being accepted, delete and cleanup leave them alone."""
        for i in upload_ids:
            self._held[i] = self._held.get(i, 0) + 1
        try:
            yield
        finally:
            for i in upload_ids:
                self._held[i] -= 1
                if not self._held[i]:
                    del self._held[i]

    @property
    def images_dir(self) -> Path | None:
        """Where uploaded images are stored (inside ComfyUI's input folder), or None without one."""
        return self.input_dir / IMAGE_SUBFOLDER if self.input_dir is not None else None

    def incoming(self) -> Incoming:
        """A new file to receive."""
        return Incoming(self.tables_dir / ".incoming", self.max_bytes)

    async def accept(self, incoming: Incoming, name: str, content_type: str, kind: str | None, fmt: str | None) -> UploadRecord:
        """Check a received file and store it; on any refusal nothing is left on disk."""
        final: Path | None = None
        try:
            sha = incoming.close()
            if incoming.size == 0:
                raise ApiError(400, "empty_upload", "the file part is empty; send the file's bytes")
            found_kind, found_fmt = upload_checks.classify(incoming.head, name, content_type, kind, fmt)
            if found_kind == "image" and self.images_dir is None:
                raise ApiError(409, "no_input_dir", "this server has no ComfyUI input folder to store images in")
            # Checking a table reads all its rows: collection paused and quick GIL hand-overs meanwhile, as for a batch.
            with bulk_work():
                record, final = await asyncio.to_thread(self._store, incoming, found_kind, found_fmt, name, sha)
            await self.records.insert(record)
            final = None
            log.info("[batchgen] upload %s stored: %s %s, %d bytes", record.id, record.kind, record.format, record.bytes)
            return record
        finally:
            incoming.discard()
            if final is not None:  # checked and moved, but the row could not be written
                with contextlib.suppress(FileNotFoundError):
                    final.unlink()

    def _store(self, incoming: Incoming, kind: str, fmt: str, name: str, sha: str) -> tuple[UploadRecord, Path]:
        """(In a thread.) Verify and place the file; returns its record and final path."""
        now = time.time()
        if kind == "image":
            folder = self.images_dir
            assert folder is not None
            folder.mkdir(parents=True, exist_ok=True)
            stored = f"{incoming.id}{imaging.EXTENSIONS[fmt]}"
            temp = folder / f".{incoming.id}.tmp"
            try:
                checked = imaging.reencode(incoming.path, temp, self.max_pixels)
                os.replace(temp, folder / stored)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            final = folder / stored
            size = final.stat().st_size
            record = UploadRecord(incoming.id, "image", fmt, name, f"{IMAGE_SUBFOLDER}/{stored}", size, sha, checked.width,
                                  checked.height, {"original_bytes": incoming.size}, now, now)
            return record, final
        info = upload_checks.check_table(incoming.path, fmt, max(xlsx.MAX_UNZIPPED, self.max_bytes))
        stored = f"{incoming.id}.{fmt}"
        final = self.tables_dir / stored
        os.replace(incoming.path, final)
        return UploadRecord(incoming.id, "table", fmt, name, stored, incoming.size, sha, None, None, info, now, now), final

    # -- reading -----------------------------------------------------------------------------

    async def get(self, upload_id: str) -> UploadRecord:
        """One upload, or 404."""
        found = (await self.records.get_many([upload_id])).get(upload_id) if _plausible(upload_id) else None
        if found is None:
            raise not_found("upload_not_found", f"no upload {upload_id[:64]!r}; see GET /batchgen/v1/uploads", upload=upload_id[:64])
        return found

    async def resolve(self, upload_ids: list[str]) -> dict[str, ResolvedUpload]:
        """id → file facts for those of the ids that exist (a batch source says which are missing)."""
        found = await self.records.get_many([i for i in dict.fromkeys(upload_ids) if _plausible(i)])
        return {i: self.resolved(r) for i, r in found.items()}

    def resolved(self, rec: UploadRecord) -> ResolvedUpload:
        """The file facts of one record."""
        if rec.kind == "image":
            assert self.input_dir is not None
            return ResolvedUpload(rec.id, rec.kind, rec.format, rec.name, self.input_dir / rec.stored, rec.stored)
        return ResolvedUpload(rec.id, rec.kind, rec.format, rec.name, self.tables_dir / rec.stored, None)

    async def used(self, upload_ids: list[str]) -> None:
        """A batch was made from these uploads: they count as used now (the cleanup age starts again)."""
        await self.records.touch([i for i in upload_ids if _plausible(i)], time.time())

    # -- deleting ----------------------------------------------------------------------------

    async def delete(self, upload_id: str) -> UploadRecord:
        """Delete an upload and its file; 409 while an unfinished batch uses it."""
        await self.get(upload_id)
        if upload_id in self._held:
            raise conflict("upload_in_use", f"upload {upload_id} is being used by a batch that is being accepted right now; "
                           "try again in a moment", batches=[])
        record, users = await self.records.delete_unused(upload_id)
        if record is None:
            raise not_found("upload_not_found", f"no upload {upload_id!r}", upload=upload_id)
        if users:
            raise conflict("upload_in_use", f"upload {upload_id} is used by {len(users)} unfinished batch(es), e.g. {users[0]}; "
                           "cancel them or wait until they finish", batches=users[:20])
        self._remove_file(record)
        return record

    def _remove_file(self, record: UploadRecord) -> None:
        path = self.resolved(record).path if (record.kind != "image" or self.input_dir is not None) else None
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def cleanup(self, now: float | None = None, force: bool = False) -> int:
        """Delete uploads unused for BATCHGEN_UPLOAD_TTL_HOURS that no unfinished batch uses; returns how many."""
        now = time.time() if now is None else now
        if self.ttl_hours <= 0 or (not force and now - self._last_cleanup < CLEANUP_EVERY_SECONDS):
            return 0
        self._last_cleanup = now
        removed = 0
        for rec in await self.records.stale(now - self.ttl_hours * 3600.0):
            if rec.id in self._held:
                continue
            deleted, users = await self.records.delete_unused(rec.id)
            if deleted is not None and not users:
                self._remove_file(deleted)
                removed += 1
        self._sweep_incoming(now)
        if removed:
            log.info("[batchgen] cleaned up %d unused upload(s)", removed)
        return removed

    def _sweep_incoming(self, now: float) -> None:
        """.part files of a receive that a crash interrupted (older than an hour)."""
        folder = self.tables_dir / ".incoming"
        for part in folder.glob("*.part") if folder.is_dir() else ():
            with contextlib.suppress(OSError):
                if now - part.stat().st_mtime > 3600:
                    part.unlink()


def _plausible(upload_id: Any) -> bool:
    """Ids are 32 lowercase hex characters (anything else cannot exist)."""
    return isinstance(upload_id, str) and len(upload_id) == 32 and all(c in "0123456789abcdef" for c in upload_id)


def upload_json(rec: UploadRecord) -> dict[str, Any]:
    """An upload as the API returns it."""
    out: dict[str, Any] = {"id": rec.id, "kind": rec.kind, "format": rec.format, "name": rec.name, "bytes": rec.bytes,
                           "sha256": rec.sha256, "created_at": rec.created_at, "last_used_at": rec.last_used_at}
    if rec.kind == "image":
        out.update(width=rec.width, height=rec.height, image=rec.stored)
    else:
        out.update(columns=rec.info.get("columns", []), rows=rec.info.get("rows", 0))
    return out
