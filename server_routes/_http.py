"""HTTP plumbing shared by the route modules: JSON bodies, errors, pagination, serialisation."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..batchgen.errors import ApiError, bad_request, too_large
from ..batchgen.models import Batch, Job, OutputFile
from ..batchgen.store import StoreBusy, busy_error

log = logging.getLogger("batchgen.routes")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON_TYPE = "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response that keeps non-ASCII text readable."""
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status, content_type=JSON_TYPE, headers=headers)


def error_response(error: ApiError) -> web.Response:
    """The JSON body of an ApiError."""
    return json_response(error.to_json(), error.status, error.headers or None)


def api(handler: Handler) -> Handler:
    """Turn domain errors into JSON errors; never let a traceback reach the client."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
        except StoreBusy:
            return error_response(busy_error())  # type: ignore[arg-type]
        except web.HTTPException:
            raise
        except Exception:
            log.exception("[batchgen] unexpected error in %s %s", request.method, request.path)
            return json_response({"error": "internal_error", "message": "unexpected server error; see the ComfyUI log"}, 500)

    return wrapper


async def read_json(request: web.Request, max_bytes: int, *, allow_empty: bool = False) -> Any:
    """The request's JSON body: 415 unless application/json, 413 if too large, 400 if malformed or cut off."""
    if request.content_type != JSON_TYPE:
        raise ApiError(415, "unsupported_media_type", f"send the body as {JSON_TYPE} (got {request.content_type or 'none'})")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large("body_too_large", f"request body is {request.content_length} bytes; the limit is {max_bytes}", limit=max_bytes)
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
    except Exception:
        # The client went away or the body was cut off: nothing is written.
        raise bad_request("incomplete_body", "the request body could not be read completely") from None
    raw = b"".join(chunks)
    if request.content_length is not None and len(raw) < request.content_length:
        raise bad_request("incomplete_body", "the request body was cut off before Content-Length bytes arrived")
    if not raw.strip():
        if allow_empty:
            return {}
        raise bad_request("empty_body", "the request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
        # Large bodies are parsed in a thread so the event loop is not held for the whole parse.
        return await asyncio.to_thread(json.loads, text) if len(raw) > 256 * 1024 else json.loads(text)
    except UnicodeDecodeError:
        raise bad_request("invalid_json", "the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise bad_request("invalid_json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def require_json_post(request: web.Request) -> None:
    """State-changing routes take JSON only, so a browser cannot forge them with a plain form."""
    if request.content_type != JSON_TYPE:
        raise ApiError(415, "unsupported_media_type", f"state-changing requests must use Content-Type: {JSON_TYPE}")


def page_args(request: web.Request, default_limit: int = 50, max_limit: int = 500) -> tuple[int, int]:
    """limit and offset query parameters, checked."""
    try:
        limit = int(request.query.get("limit", default_limit))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise bad_request("invalid_pagination", "limit and offset must be integers") from None
    if not 1 <= limit <= max_limit or not 0 <= offset < 2**62:
        raise bad_request("invalid_pagination", f"limit must be 1-{max_limit} and offset ≥ 0")
    return limit, offset


def status_filter(request: web.Request, allowed: set[str]) -> list[str]:
    """?status=a,b checked against the allowed values."""
    raw = request.query.get("status", "")
    values = [v.strip() for v in raw.split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise bad_request("invalid_status", f"unknown status {unknown[0]!r}; use {', '.join(sorted(allowed))}")
    return values


def base_url(request: web.Request) -> str:
    """scheme://host the client used (honours X-Forwarded-* only through aiohttp's own handling)."""
    return f"{request.scheme}://{request.host}"


def output_json(output: OutputFile, base: str) -> dict[str, Any]:
    """An output with a /view path and an absolute URL that works from another host."""
    query = urlencode({"filename": output.filename, "subfolder": output.subfolder, "type": output.type})
    path = f"/api/view?{query}"
    return {**output.as_dict(), "path": path, "url": base + path}


def batch_json(batch: Batch) -> dict[str, Any]:
    """A batch as the API returns it."""
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
    }
