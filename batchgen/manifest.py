"""Manifest rows of a batch (GET /batches/{id}/manifest, manifest.jsonl/.csv of the export) and the sha256 cache.

A file's sha256 is computed the first time a manifest or an export reads it and kept in the
output_hashes table with the file's size and mtime_ns; it is served again only while both are
unchanged, so a file changed on disk after the job is hashed anew (and a warning logged), never
answered with a stale hash. Jobs are read from the store page by page: a batch is never in memory.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .models import Batch, Job, OutputFile
from .store import hashes_sql

log = logging.getLogger("batchgen.manifest")
PAGE = 200
CHUNK = 1 << 20
FIXED_COLUMNS = ("job_id", "index", "status", "template", "template_hash", "seed")
TAIL_COLUMNS = ("coords", "files", "sha256", "bytes", "queued_at", "started_at", "finished_at", "duration_s", "cached", "error")


@dataclass(frozen=True, slots=True)
class Hashed:
    """A file's size, mtime_ns and sha256 as read in one pass."""

    size: int
    mtime_ns: int
    sha256: str


def key_of(output: OutputFile) -> hashes_sql.Key:
    """The output_hashes key of an output."""
    return (output.type, output.subfolder, output.filename)


def view_url(output: OutputFile, base: str) -> str:
    """The absolute /api/view URL of an output."""
    return f"{base}/api/view?" + urlencode({"filename": output.filename, "subfolder": output.subfolder, "type": output.type})


def template_hash(template: Any) -> str:
    """sha256 of a template snapshot as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_file(path: Path) -> Hashed | None:
    """Read a file once and hash it; None if it vanished or changed while being read (its hash would be wrong)."""
    try:
        with path.open("rb") as fh:
            before = os.fstat(fh.fileno())
            digest = hashlib.sha256()
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        after = path.stat()
    except OSError:
        return None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return None
    return Hashed(before.st_size, before.st_mtime_ns, digest.hexdigest())


async def job_pages(store: Any, batch_id: str, page: int = PAGE) -> AsyncIterator[list[Job]]:
    """A batch's jobs in index order, one page at a time."""
    offset = 0
    while True:
        jobs, _total = await store.list_jobs(batch_id, (), page, offset)
        if not jobs:
            return
        yield jobs
        offset += len(jobs)


class HashCache:
    """sha256 of output files, from the output_hashes table while size and mtime_ns match, else read from disk."""

    def __init__(self, store: Any, host: Any) -> None:
        self.store = store
        self.host = host

    async def known(self, outputs: Iterable[OutputFile]) -> dict[hashes_sql.Key, tuple[int, int, str]]:
        """Cached (bytes, mtime_ns, sha256) of these outputs."""
        keys = list(dict.fromkeys(key_of(o) for o in outputs))
        return await self.store.run_read(hashes_sql.lookup_sync, keys) if keys else {}

    async def remember(self, rows: list[tuple[hashes_sql.Key, Hashed]]) -> None:
        """Store freshly computed hashes."""
        if rows:
            await self.store.run_in_transaction(hashes_sql.upsert_sync, [(k, h.size, h.mtime_ns, h.sha256) for k, h in rows], time.time())

    async def page_files(self, jobs: list[Job], base: str) -> dict[int, list[dict[str, Any]]]:
        """job id → its manifest files (hashing what the cache does not hold, or holds for an older version of the file)."""
        outputs = [o for j in jobs for o in j.outputs]
        known = await self.known(outputs)
        fresh: list[tuple[hashes_sql.Key, Hashed]] = []
        result: dict[int, list[dict[str, Any]]] = {}
        for job in jobs:
            files = []
            for output in job.outputs:
                hashed = await asyncio.to_thread(self._current, output, known.get(key_of(output)))
                if hashed is not None and hashed[1]:
                    fresh.append((key_of(output), hashed[0]))
                files.append(file_entry(output, base, hashed[0] if hashed else None))
            result[job.id] = files
        await self.remember(fresh)
        return result

    def _current(self, output: OutputFile, cached: tuple[int, int, str] | None) -> tuple[Hashed, bool] | None:
        """(hash, newly computed) of the file as it is now; None when it is missing."""
        path = self.host.output_file(output.subfolder, output.filename, output.type)
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        if cached is not None:
            if cached[:2] == (stat.st_size, stat.st_mtime_ns):
                return Hashed(cached[0], cached[1], cached[2]), False
            log.warning("[batchgen] %s/%s changed on disk since it was hashed: hashing it again", output.subfolder, output.filename)
        hashed = hash_file(path)
        return (hashed, True) if hashed is not None else None


def file_entry(output: OutputFile, base: str, hashed: Hashed | None) -> dict[str, Any]:
    """One entry of a manifest row's files."""
    return {"name": output.filename, "subfolder": output.subfolder, "type": output.type, "url": view_url(output, base),
            "sha256": hashed.sha256 if hashed else None, "bytes": hashed.size if hashed else None}


def manifest_row(job: Job, batch: Batch, tpl_hash: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    """One job as a manifest row."""
    duration = job.finished_at - job.started_at if job.finished_at is not None and job.started_at is not None else None
    return {
        "job_id": job.id, "index": job.idx, "status": job.status.value, "params": job.params, "seed": job.seed,
        "template": batch.template_id, "template_hash": tpl_hash, "coords": job.coords, "files": files,
        "queued_at": job.queued_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "duration_s": round(duration, 3) if duration is not None else None,
        # From ComfyUI's execution_cached message: true when its outputs were an earlier run's (null: not reported).
        "cached": job.cached,
        "error": job.error.as_dict() if job.error else None,
    }


def row_line(row: dict[str, Any]) -> str:
    """A row as one NDJSON line."""
    return json.dumps(row, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in manifest.jsonl, not Python's True/False
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def csv_header(param_names: Iterable[str]) -> list[str]:
    """Columns of manifest.csv: fixed ones, one params.<name> per parameter, then files and timings."""
    return [*FIXED_COLUMNS, *(f"params.{n}" for n in param_names), *TAIL_COLUMNS]


def csv_line(row: dict[str, Any], param_names: list[str]) -> str:
    """One manifest row as a CSV line (params flattened; several files joined with ';')."""
    files = row["files"]
    values = [row[c] for c in ("job_id", "index", "status", "template", "template_hash", "seed")]
    values += [row["params"].get(n) for n in param_names]
    values += [row["coords"] or None, ";".join(f["name"] for f in files), ";".join(f["sha256"] or "" for f in files),
               ";".join("" if f["bytes"] is None else str(f["bytes"]) for f in files)]
    values += [row[c] for c in ("queued_at", "started_at", "finished_at", "duration_s", "cached")]
    values.append(row["error"]["message"] if row["error"] else None)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return out.getvalue()
