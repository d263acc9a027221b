"""HTTP plumbing shared by the route modules: JSON bodies, errors, serialisation."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..batchgen.api_parse import loads_strict
from ..batchgen.errors import ApiError, bad_request, too_large
from ..batchgen.models import Batch, Job, OutputFile
from ..batchgen.sheets import sheet_url

log = logging.getLogger("batchgen.routes")

JSON_TYPE = "application/json"
_INTERNAL = {"error": "internal_error", "message": "unexpected server error; see the ComfyUI log"}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response that keeps non-ASCII text readable; a value JSON cannot carry (NaN) is a logged 500, never invalid JSON."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError):
        log.exception("[batchgen] a response could not be encoded as JSON")
        return web.Response(text=json.dumps(_INTERNAL), status=500, content_type=JSON_TYPE)
    return web.Response(text=text, status=status, content_type=JSON_TYPE, headers=headers)


def error_response(error: ApiError) -> web.Response:
    """The JSON body of an ApiError."""
    return json_response(error.to_json(), error.status, error.headers or None)


def internal_error() -> web.Response:
    """The body of an unexpected failure (the traceback goes to the log only)."""
    return web.Response(text=json.dumps(_INTERNAL), status=500, content_type=JSON_TYPE)


def require_json(request: web.Request) -> None:
    """Bodies are JSON only, so a web page cannot make changes with a plain HTML form."""
    if request.content_type != JSON_TYPE:
        got = request.headers.get("Content-Type") or "no Content-Type"
        raise ApiError(415, "unsupported_media_type",
                       f"send Content-Type: {JSON_TYPE} with a JSON body ({{}} when there is nothing to say); got {got}")


async def _read_raw(request: web.Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        # Bodies arrive in pieces (large, chunked or slow clients): read to the end, bounded.
        while True:
            chunk = await request.content.read(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise too_large("body_too_large", f"request body is over the limit of {max_bytes} bytes", limit=max_bytes)
            chunks.append(chunk)
    except ApiError:
        raise
    except web.HTTPRequestEntityTooLarge:
        raise too_large("body_too_large", f"request body is over the limit of {max_bytes} bytes", limit=max_bytes) from None
    except (asyncio.CancelledError, asyncio.TimeoutError):
        raise
    except Exception:
        # The client went away or the body was cut off: nothing is written.
        raise bad_request("incomplete_body", "the request body could not be read completely") from None
    return b"".join(chunks)


async def read_json(request: web.Request, max_bytes: int, timeout: float, *, allow_empty: bool = False) -> Any:
    """The request's JSON body: 415 unless application/json, 413 if too large, 408 if it does not arrive in time, 400 if malformed."""
    return await parse_json(await read_body(request, max_bytes, timeout), allow_empty=allow_empty)


async def read_body(request: web.Request, max_bytes: int, timeout: float) -> bytes:
    """The request's JSON body as bytes, received completely: 415 unless application/json, 413 if too large, 408 if late."""
    require_json(request)
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large("body_too_large", f"request body is {request.content_length} bytes; the limit is {max_bytes}", limit=max_bytes)
    try:
        raw = await asyncio.wait_for(_read_raw(request, max_bytes), timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, "request_timeout", f"the request body did not arrive completely within {timeout:g} s",
                       headers={"Connection": "close"}) from None
    if request.content_length is not None and len(raw) < request.content_length:
        raise bad_request("incomplete_body", "the request body was cut off before Content-Length bytes arrived")
    return raw


async def parse_json(raw: bytes, *, allow_empty: bool = False) -> Any:
    """A received body parsed as strict JSON (400 if malformed; ``{}`` for an empty body when allowed)."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise bad_request("empty_body", "the request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("invalid_json", "the body is not valid UTF-8") from None
    # Large bodies are parsed in a thread so the event loop is not held for the whole parse.
    return await asyncio.to_thread(loads_strict, text) if len(raw) > 256 * 1024 else loads_strict(text)


def base_url(request: web.Request, public_url: str | None) -> str:
    """BATCHGEN_PUBLIC_URL when set (behind a reverse proxy), else the scheme://host the client used."""
    return public_url or f"{request.scheme}://{request.host}"


def output_json(output: OutputFile, base: str) -> dict[str, Any]:
    """An output with a /view path and an absolute URL that works from another host."""
    query = urlencode({"filename": output.filename, "subfolder": output.subfolder, "type": output.type})
    path = f"/api/view?{query}"
    return {**output.as_dict(), "path": path, "url": base + path}


def batch_json(batch: Batch, sheets: list[dict[str, Any]] | None = None, base: str = "") -> dict[str, Any]:
    """A batch as the API returns it (``sheets``: its contact sheet pages, listed with /view URLs)."""
    counts = batch.counts
    elapsed = None
    if batch.started_at is not None:
        elapsed = (batch.finished_at or batch.updated_at) - batch.started_at
    return {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status.value,
        "template_id": batch.template_id,
        "total": batch.total,
        "counts": counts.as_dict(),
        "done": counts.done,
        "progress": round(counts.done / batch.total, 4) if batch.total else 1.0,
        "priority": batch.priority,
        "paused": batch.paused,
        "max_attempts": batch.max_attempts,
        "output_subfolder": batch.output_subfolder,
        "created_at": batch.created_at,
        "started_at": batch.started_at,
        "finished_at": batch.finished_at,
        "updated_at": batch.updated_at,
        "elapsed_seconds": round(elapsed, 3) if elapsed is not None else None,
        "contact_sheets": [{**page, "url": sheet_url(page, base)} for page in sheets or ()],
    }


def job_json(job: Job, base: str) -> dict[str, Any]:
    """A job as the API returns it."""
    return {
        "id": job.id,
        "batch_id": job.batch_id,
        "idx": job.idx,
        "status": job.status.value,
        "params": job.params,
        "seed": job.seed,
        "attempts": job.attempts,
        "prompt_id": job.prompt_id,
        "created_at": job.created_at,
        "queued_at": job.queued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "outputs": [output_json(o, base) for o in job.outputs],
        "error": job.error.as_dict() if job.error else None,
        "coords": job.coords,
    }
