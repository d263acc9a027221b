"""Typed bodies of the manifest and export routes (GET /batches/{id}/manifest and /export)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api_models import JobStatusName
from .api_responses import JobError, Reply


class ManifestFile(Reply):
    """One output file of a job, with its sha256 as read from disk now."""

    name: str = Field(description="File name in ComfyUI's output folder (and under images/ in the export zip).")
    subfolder: str
    type: str = Field(description="ComfyUI's folder type: output (or temp).")
    url: str = Field(description="Absolute /api/view URL of the file.")
    sha256: str | None = Field(description="Hex sha256 of the file's bytes; null when the file is missing.")
    bytes: int | None = Field(description="Size in bytes; null when the file is missing.")


class ManifestRow(Reply):
    """One job of a batch in the manifest: one line of manifest.jsonl and of GET /manifest."""

    job_id: int
    index: int = Field(description="Position in the batch, from 0.")
    status: JobStatusName
    params: dict[str, Any] = Field(description="The resolved values the job ran (or will run) with.")
    seed: int | None
    template: str | None = Field(description="Template id of the batch (null for an inline workflow).")
    template_hash: str = Field(description="sha256 of the batch's stored template snapshot (canonical JSON).")
    coords: dict[str, Any]
    files: list[ManifestFile]
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    duration_s: float | None = Field(description="finished_at - started_at (ComfyUI's execution time) in seconds.")
    cached: bool | None = Field(description="True when ComfyUI served every node that produced the job's files from its cache "
                                "(execution_cached), false when one of them ran; null: ComfyUI did not say.")
    error: JobError | None


class ManifestStream(Reply):
    """application/x-ndjson: one ManifestRow JSON object per line, one line per job in index order."""


class ExportZip(Reply):
    """application/zip, streamed: images/<file>, manifest.jsonl, manifest.csv (UTF-8 with BOM) and contact_sheets/<file>."""


class Thumbnail(Reply):
    """image/webp (image/jpeg where Pillow has no WEBP): the job's image scaled to fit size×size, with an ETag."""
