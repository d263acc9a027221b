"""The manifest, verified resumable downloads, and the export zip.

download() reads the manifest (one row per job, with each file's sha256), skips files already in the folder with
the right hash, resumes a partial ``<name>.part`` with a Range request (ComfyUI's /view serves ranges), checks the
sha256 of every file it writes and only then renames it into place; it writes the manifest beside the images.
A killed download run again picks up where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .errors import VerifyError, error_from_response
from .models import ManifestFile, ManifestRow

CHUNK = 1 << 16
FileProgress = Callable[[str, str], None]  # (file name, "downloaded" | "skipped" | "resumed" | "missing")


@dataclass
class DownloadResult:
    """What download() did, file by file."""

    downloaded: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # no file on the server (sha256 null in the manifest)

    @property
    def files(self) -> int:
        """Files now present and verified in the folder."""
        return len(self.downloaded) + len(self.skipped)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_correct(target: Path, f: ManifestFile) -> bool:
    """True if the file is already there with the manifest's size and sha256."""
    return target.is_file() and target.stat().st_size == f.bytes and sha256_of(target) == f.sha256


def _resumable_size(part: Path, expected: int | None) -> int:
    """Bytes of a partial download to resume from (0 when there is none or it is longer than the file)."""
    have = part.stat().st_size if part.is_file() else 0
    if expected is not None and have > expected:
        part.unlink()
        return 0
    return have


def local_name(row: ManifestRow, f: ManifestFile, taken: set[str]) -> str:
    """The file's name in the folder (as images/ in the export zip: the index in front when a name repeats)."""
    name = Path(f.name).name
    if name in taken:
        name = f"{row.index:06d}-{name}"
    taken.add(name)
    return name


class DownloadMixin:
    """manifest(), download() and export() of AsyncClient."""

    base: str
    http: httpx.AsyncClient

    async def manifest(self, batch_id: str) -> AsyncIterator[ManifestRow]:
        """GET /batches/{id}/manifest, row by row as it streams."""
        async for line in self.manifest_lines(batch_id):
            yield ManifestRow.from_dict(json.loads(line))

    async def manifest_lines(self, batch_id: str) -> AsyncIterator[str]:
        """The manifest's NDJSON lines as they stream."""
        url = f"{self.base}/batches/{batch_id}/manifest"
        async with self.http.stream("GET", url, headers=self._auth(url)) as resp:  # type: ignore[attr-defined]
            if resp.status_code != 200:
                await resp.aread()
                raise error_from_response(resp)
            async for line in resp.aiter_lines():
                if line.strip():
                    yield line.strip()

    async def download(self, batch_id: str, dest: str | os.PathLike[str], *, on_file: FileProgress | None = None) -> DownloadResult:
        """Every output of the batch into ``dest``, verified against the manifest's sha256; resumable, skips correct files."""
        folder = Path(dest)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        result = DownloadResult()
        taken: set[str] = set()
        tmp = folder / "manifest.jsonl.part"
        with await asyncio.to_thread(tmp.open, "w", encoding="utf-8") as rows:
            async for line in self.manifest_lines(batch_id):
                rows.write(line + "\n")
                row = ManifestRow.from_dict(json.loads(line))
                for f in row.files:
                    name = local_name(row, f, taken)
                    state = await self._fetch_one(f, folder / name)
                    if state == "skipped":
                        result.skipped.append(name)
                    elif state == "missing":
                        result.missing.append(name)
                    else:
                        result.downloaded.append(name)
                        if state == "resumed":
                            result.resumed.append(name)
                    if on_file:
                        on_file(name, state)
        # Renamed last: a folder with manifest.jsonl holds a complete, verified download of what the server had.
        tmp.replace(folder / "manifest.jsonl")
        return result

    async def _fetch_one(self, f: ManifestFile, target: Path) -> str:
        if f.sha256 is None:
            return "missing"
        if await asyncio.to_thread(_is_correct, target, f):
            return "skipped"
        part = target.with_name(target.name + ".part")
        have = await asyncio.to_thread(_resumable_size, part, f.bytes)
        state = await self._get_file(f.url, part, have)
        if await asyncio.to_thread(sha256_of, part) != f.sha256:
            # A resumed prefix may be stale (the file changed on the server): fetch it whole once more.
            state = await self._get_file(f.url, part, 0)
            if await asyncio.to_thread(sha256_of, part) != f.sha256:
                part.unlink()
                raise VerifyError(f"{f.name}: sha256 of the downloaded file does not match the manifest")
        part.replace(target)
        return state

    async def _get_file(self, url: str, part: Path, have: int) -> str:
        headers = {**self._auth(url), **({"Range": f"bytes={have}-"} if have else {})}  # type: ignore[attr-defined]
        async with self.http.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 416 and have:  # nothing left to fetch: the part is complete (the hash decides)
                return "resumed"
            if resp.status_code not in (200, 206):
                await resp.aread()
                raise error_from_response(resp)
            resumed = resp.status_code == 206 and have > 0
            with await asyncio.to_thread(part.open, "ab" if resumed else "wb") as fh:
                async for chunk in resp.aiter_bytes(CHUNK):
                    fh.write(chunk)
        return "resumed" if resumed else "downloaded"

    async def export(self, batch_id: str, path: str | os.PathLike[str]) -> int:
        """GET /batches/{id}/export into a zip file (written as <path>.part, renamed when complete); returns its size."""
        target = Path(path)
        part = target.with_name(target.name + ".part")
        url = f"{self.base}/batches/{batch_id}/export"
        size = 0
        async with self.http.stream("GET", url, headers=self._auth(url), timeout=httpx.Timeout(30.0, read=300.0)) as resp:  # type: ignore[attr-defined]
            if resp.status_code != 200:
                await resp.aread()
                raise error_from_response(resp)
            with await asyncio.to_thread(part.open, "wb") as fh:
                async for chunk in resp.aiter_bytes(1 << 20):
                    fh.write(chunk)
                    size += len(chunk)
        part.replace(target)
        return size
