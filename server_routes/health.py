"""Health and the OpenAPI document handlers. /health says what is wrong in words: no paths, no exception text."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._http import json_response, log
from .table import Call

# Words for what a database or dispatcher error means to a user (the exception itself goes to the log).
_PROBLEMS = (
    (("locked", "busy"), "database locked by another process"),
    (("readonly", "read-only", "permission"), "database file is read-only or not writable"),
    (("unable to open", "no such file", "cannot open"), "database file cannot be opened"),
    (("malformed", "corrupt", "not a database"), "database file is damaged"),
    (("disk", "full"), "disk full or disk I/O error"),
)


def in_words(error: str | None, fallback: str) -> str | None:
    """A raw error as a short phrase without paths or exception text (None stays None)."""
    if not error:
        return None
    lowered = error.lower()
    for needles, words in _PROBLEMS:
        if any(n in lowered for n in needles):
            return words
    return fallback


def _dispatcher(status: dict[str, Any]) -> dict[str, Any]:
    state = status.get("state")
    raw = status.get("last_error")
    if raw and state not in ("worker_dead", "worker_stalled"):  # those details are ours, already in words
        status = {**status, "last_error": in_words(raw, "the dispatcher hit an unexpected error; see the ComfyUI log")}
    return status


async def health(call: Call) -> web.Response:
    """GET /health."""
    service = call.service
    store = service.store
    problem = in_words(store.last_error, "database error; see the ComfyUI log")
    store_status: dict[str, Any] = {"ready": store.ready, "file": getattr(store.path, "name", str(store.path)), "problem": problem}
    if store.ready:
        try:
            store_status["jobs"] = await store.queue_stats()
        except Exception as exc:  # a locked database is reported, not raised
            log.warning("[batchgen] health: reading queue counts failed: %s", exc)
            store_status["problem"] = in_words(str(exc), "database error; see the ComfyUI log")
    elif problem is None:
        store_status["problem"] = "database is not open; see the ComfyUI log"
    host = service.host.info()
    dispatcher = _dispatcher(service.dispatcher.status())
    ok = store.ready and dispatcher["state"] == "running" and host.worker_alive is not False
    return json_response({
        "status": "ok" if ok else "degraded",
        "version": service.version,
        "store": store_status,
        "host": {**host.details, "name": host.name, "version": host.version, "worker_alive": host.worker_alive},
        "native_queue": {"running": host.queue_running, "pending": host.queue_pending},
        "dispatcher": dispatcher,
    })


async def openapi(call: Call) -> web.Response:
    """GET /openapi.json."""
    from .openapi import openapi_document
    from .routes import ROUTES

    return json_response(openapi_document(ROUTES, call.service.version))
