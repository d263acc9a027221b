"""Request guards shared by routes."""

from __future__ import annotations

import re

from aiohttp import web

from ..batchgen.errors import ApiError, bad_request, unavailable
from ..batchgen.service import BatchService

_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
_JOB_ID_RE = re.compile(r"^[0-9]{1,18}$")  # ASCII digits only: str.isdigit() accepts "²" and Arabic-Indic digits


def require_store(service: BatchService) -> None:
    """503 while the database is not open (it failed to open, or startup has not finished)."""
    if not service.store.ready:
        raise unavailable("store_unavailable", "the batch database is not open; see /batchgen/v1/health and the ComfyUI log",
                          retry_after=5)


def idempotency_key(request: web.Request) -> str | None:
    """The Idempotency-Key header, checked (1-200 visible ASCII characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY_RE.match(key):
        raise bad_request("invalid_idempotency_key", "Idempotency-Key must be 1-200 visible ASCII characters")
    return key


def job_id_arg(raw: str) -> int:
    """A job id path parameter."""
    if not _JOB_ID_RE.fullmatch(raw):  # beyond SQLite's integer range no job can exist either
        raise ApiError(404, "job_not_found", f"no job with id {raw!r}")
    return int(raw)
