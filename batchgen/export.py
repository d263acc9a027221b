"""A batch as a zip streamed to the client: images/, manifest.jsonl, manifest.csv (UTF-8 BOM), contact_sheets/.

Written with zipfile onto a non-seekable sink (sizes and CRCs go in data descriptors; ZIP64
when a file or the archive needs it) and flushed to the response every ~1 MiB, so memory stays
flat whatever the batch's size: jobs are read page by page, manifest rows are spooled to a
temporary file (the CSV header needs every parameter name), images are stored uncompressed (PNGs
are compressed already). A file's sha256 is the one stored when its job succeeded
(batchgen/output_hasher.py) while the file keeps the size and mtime it was hashed with; any other file is
hashed while it is copied, and that hash is stored for the next export.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import manifest as mf
from .models import Batch, Job, OutputFile

Write = Callable[[bytes], Awaitable[None]]
FLUSH = 1 << 20
CONTACT_SHEETS = "_contact_sheets"


class _Sink:
    """What zipfile writes to: a buffer with no tell/seek (so zipfile streams), drained by the async side."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        """Nothing: the async side drains the buffer."""

    def take(self) -> bytes:
        """The bytes written since the last take."""
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _read(fh: IO[bytes], digest: Any) -> bytes:
    chunk = fh.read(mf.CHUNK)
    if digest is not None:  # None: the file's stored hash is used
        digest.update(chunk)
    return chunk


def _open_first(path: Path, stored: Callable[[os.stat_result], str | None]) -> tuple[IO[bytes], os.stat_result, bytes, Any, str | None]:
    """Open a file and read (and, unless its hash is stored, hash) its first chunk, in one trip to a worker thread."""
    fh = path.open("rb")
    try:
        stat = os.fstat(fh.fileno())
        known = stored(stat)
        digest = hashlib.sha256() if known is None else None
        head = _read(fh, digest)
    except BaseException:
        fh.close()
        raise
    return fh, stat, head, digest, known


SMALL = mf.CHUNK  # files up to this size are read whole in a batch (most images); bigger ones are copied in chunks
BATCH_BYTES = 4 * mf.CHUNK  # what one trip to the worker thread may read: the memory bound of the batching


@dataclass(frozen=True, slots=True)
class Loaded:
    """One output as read in a worker thread: its path, and its bytes when small (None: copy it in chunks)."""

    path: Path | None
    data: bytes | None = None
    stat: os.stat_result | None = None
    sha256: str = ""
    stable: bool = False  # size and mtime unchanged across the read: safe to cache its hash
    reused: bool = False  # sha256 is the one stored when the job succeeded (not computed again)


Known = dict[Any, tuple[int, int, str]]  # output_hashes key → (bytes, mtime_ns, sha256) stored when the job succeeded


def _stored(known: Known, output: OutputFile, stat: os.stat_result) -> str | None:
    """The stored sha256 of an output if the file still has the size and mtime it was hashed with."""
    found = known.get(mf.key_of(output))
    return found[2] if found is not None and found[:2] == (stat.st_size, stat.st_mtime_ns) else None


def _load_some(host: Any, outputs: list[OutputFile], known: Known | None = None) -> list[Loaded]:
    """Resolve and read outputs from the front of ``outputs`` until BATCH_BYTES are read (at least one).

    A file whose hash is stored (and still valid) is not hashed again; the others are hashed as they are read.
    """
    loaded: list[Loaded] = []
    budget = BATCH_BYTES
    for output in outputs:
        if budget <= 0 and loaded:
            break
        path = host.output_file(output.subfolder, output.filename, output.type)
        if path is None:
            loaded.append(Loaded(None))
            continue
        try:
            with path.open("rb") as fh:
                stat = os.fstat(fh.fileno())
                if stat.st_size > SMALL:
                    loaded.append(Loaded(path))
                    continue
                data = fh.read()
            after = path.stat()
        except OSError:
            loaded.append(Loaded(None))
            continue
        stable = (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns) == (len(data), stat.st_mtime_ns)
        digest = _stored(known, output, stat) if known and stable else None
        loaded.append(Loaded(path, data, stat, digest or hashlib.sha256(data).hexdigest(), stable, digest is not None))
        budget -= len(data)
    return loaded


async def _loaded(host: Any, outputs: list[OutputFile], known: Known | None = None) -> AsyncIterator[Loaded]:
    """The outputs in order, read in batches (one worker-thread trip per ~4 MiB, not per file), the next batch on demand."""
    done = 0
    while done < len(outputs):
        batch = await asyncio.to_thread(_load_some, host, outputs[done:], known)
        done += len(batch)
        for item in batch:
            yield item


def _info(name: str, path_stat: os.stat_result, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, time.localtime(max(path_stat.st_mtime, 315532800))[:6])
    info.compress_type = compress
    info.file_size = path_stat.st_size  # lets zipfile choose ZIP64 up front for a file near 4 GiB
    info.external_attr = 0o644 << 16
    return info


class ZipStream:
    """One export being written: entries are added in order, bytes go to ``write``."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self.sink = _Sink()
        self.zip = zipfile.ZipFile(self.sink, "w", zipfile.ZIP_STORED, allowZip64=True)

    async def drain(self, force: bool = False) -> None:
        """Send what zipfile has written (at least FLUSH bytes, unless forced)."""
        if self.sink.buffer and (force or len(self.sink.buffer) >= FLUSH):
            await self.write(self.sink.take())

    async def add_file(self, name: str, path: Path, stored: Callable[[os.stat_result], str | None] = lambda _stat: None) -> mf.Hashed | None:
        """Copy a file into the zip stored, hashing it on the way unless ``stored`` knows its hash; None if it could not be opened."""
        try:
            fh, stat, head, digest, known = await asyncio.to_thread(_open_first, path, stored)
        except OSError:
            return None
        try:
            size = len(head)
            with self.zip.open(_info(name, stat, zipfile.ZIP_STORED), "w") as dst:
                dst.write(head)
                await self.drain()
                # A typical image fits in the first read (one thread hop per file); bigger ones go on in chunks.
                while len(head) == mf.CHUNK and (chunk := await asyncio.to_thread(_read, fh, digest)):
                    dst.write(chunk)
                    size += len(chunk)
                    await self.drain()
                    head = chunk
        finally:
            fh.close()
        return mf.Hashed(size, stat.st_mtime_ns, known if known is not None else digest.hexdigest())

    async def add_loaded(self, name: str, item: Loaded) -> mf.Hashed:
        """A small file already read (and hashed) in a worker thread."""
        assert item.data is not None and item.stat is not None
        with self.zip.open(_info(name, item.stat, zipfile.ZIP_STORED), "w") as dst:
            dst.write(item.data)
        await self.drain()
        return mf.Hashed(len(item.data), item.stat.st_mtime_ns, item.sha256)

    async def add_text(self, name: str, lines: Any) -> None:
        """A deflated text entry from an iterable of str pieces."""
        info = zipfile.ZipInfo(name, time.localtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with self.zip.open(info, "w", force_zip64=True) as dst:
            for piece in lines:
                dst.write(piece.encode("utf-8"))
                await self.drain()

    async def close(self) -> None:
        """Write the central directory and send the rest."""
        self.zip.close()
        await self.drain(force=True)


def _unique(name: str, taken: set[str], job: Job) -> str:
    """images/<file>; two outputs with one name (different subfolders) get the job index in front."""
    arc = f"images/{name}"
    if arc in taken:
        arc = f"images/{job.idx:06d}-{name}"
    taken.add(arc)
    return arc


async def write_export(write: Write, store: Any, host: Any, batch: Batch, base: str) -> int:
    """Stream the whole export of ``batch`` to ``write``; returns the number of images written."""
    out = ZipStream(write)
    cache = mf.HashCache(store, host)
    tpl_hash = mf.template_hash(await store.get_batch_template(batch.id))
    params: dict[str, None] = {}
    taken: set[str] = set()
    images = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as rows:
        async for jobs in mf.job_pages(store, batch.id):
            known = await cache.known(o for j in jobs for o in j.outputs)
            outputs = [o for j in jobs for o in j.outputs]
            items = _loaded(host, outputs, known)
            fresh = []
            for job in jobs:
                files = []
                for output in job.outputs:
                    item = await anext(items)
                    name = _unique(output.filename, taken, job) if item.path is not None else ""
                    if item.path is None:
                        hashed = None
                    elif item.data is not None:
                        hashed = await out.add_loaded(name, item)
                    else:
                        hashed = await out.add_file(name, item.path, functools.partial(_stored, known, output))
                    if hashed is not None:
                        images += 1
                        old = known.get(mf.key_of(output))
                        if old is not None and old != (hashed.size, hashed.mtime_ns, hashed.sha256):
                            mf.log.warning("[batchgen] %s/%s changed on disk since it was hashed", output.subfolder, output.filename)
                        stable = item.stable if item.data is not None else await asyncio.to_thread(_unchanged, item.path, hashed)
                        if stable and not item.reused:  # a file rewritten during the copy is not cached
                            fresh.append((mf.key_of(output), hashed))
                    files.append(mf.file_entry(output, base, hashed))
                params.update(dict.fromkeys(job.params))
                rows.write(mf.row_line(mf.manifest_row(job, batch, tpl_hash, files)))
            await cache.remember(fresh)
        for path in host.folder_files(f"{batch.output_subfolder}/{CONTACT_SHEETS}") if batch.output_subfolder else []:
            await out.add_file(f"contact_sheets/{path.name}", path)
        rows.seek(0)
        await out.add_text("manifest.jsonl", rows)
        rows.seek(0)
        names = list(params)
        header = ",".join(_csv_quote(c) for c in mf.csv_header(names)) + "\r\n"
        # The BOM makes Excel read the file as UTF-8 (CJK prompts); every other reader skips it.
        await out.add_text("manifest.csv", _chain(["\ufeff" + header], (mf.csv_line(json.loads(line), names) for line in rows)))
    await out.close()
    return images


def _unchanged(path: Path, hashed: mf.Hashed) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    return (stat.st_size, stat.st_mtime_ns) == (hashed.size, hashed.mtime_ns)


def _csv_quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


def _chain(*parts: Any) -> Any:
    for part in parts:
        yield from part
