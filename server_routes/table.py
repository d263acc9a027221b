"""The route table's machinery: one ``Route`` per operation → an aiohttp handler (and, in openapi.py, the document).

A route says its method, path, body and query models, response models per status, error codes
and access scope; ``register`` mounts every route and a catch-all that answers unknown
paths and wrong methods under /batchgen/ with our JSON 404/405.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from ..batchgen.access import AccessPolicy
from ..batchgen.api_models import ApiModel
from ..batchgen.api_parse import parse_query, parse_request
from ..batchgen.breather import bulk_work
from ..batchgen.errors import ApiError, not_found
from ..batchgen.ids import API_PREFIX
from ..batchgen.service import BatchService
from ..batchgen.store import StoreBusy, busy_error
from ._http import base_url, error_response, internal_error, log, parse_json, read_body
from .guards import require_store

Scope = Literal["read", "submit", "admin"]
CONTROL_BODY_LIMIT = 64 * 1024

# Errors every route of a kind can answer, with their codes (the per-route ones are added to these).
BODY_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_json", "empty_body", "incomplete_body", "invalid_body", "unknown_field", "invalid_field"),
    408: ("request_timeout",),
    413: ("body_too_large",),
    415: ("unsupported_media_type",),
}
# Every route: the access check (access.py) runs first, whatever the scope.
ACCESS_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("token_in_query",),
    401: ("token_required", "token_invalid"),
    403: ("insufficient_scope", "origin_not_allowed"),
}
QUERY_ERRORS: dict[int, tuple[str, ...]] = {400: ("unknown_field", "invalid_field")}
STORE_ERRORS: dict[int, tuple[str, ...]] = {503: ("store_unavailable", "store_busy")}
# Submission routes: the per-token bucket (batchgen/ratelimit.py).
RATE_ERRORS: dict[int, tuple[str, ...]] = {429: ("rate_limited",)}


@dataclass
class Call:
    """What a handler gets: the request, the service, the typed body and query, and the base URL for links."""

    request: web.Request
    service: BatchService
    body: Any = None
    query: Any = None
    raw: Any = None
    context: Any = None  # the Context of register(): token store, stream hub
    caller: Any = None  # access.Caller

    def arg(self, name: str) -> str:
        """A path parameter."""
        return self.request.match_info[name]

    @property
    def base(self) -> str:
        """Where output URLs point (BATCHGEN_PUBLIC_URL or the request's scheme://host)."""
        return base_url(self.request, self.service.config.public_url)


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, eq=False)
class Route:
    """One operation of the API."""

    method: str
    path: str  # below API_PREFIX, with {name} path parameters
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    scope: Scope
    responses: dict[int, type[BaseModel]]
    errors: dict[int, tuple[str, ...]] = field(default_factory=dict)
    body: type[ApiModel] | None = None
    body_required: bool = True
    query: type[ApiModel] | None = None
    description: str = ""
    needs_store: bool = True
    idempotency_key: bool = False
    body_limit: int | None = None  # None: config.max_body_bytes
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    stream: bool = False  # 200 is streamed as media_type, not JSON
    media_type: str = "text/event-stream"
    form: type[ApiModel] | None = None  # a multipart/form-data body the handler reads itself (uploads); documented from this model
    rate_limited: bool = False  # a submission: counted against the caller's token bucket
    bulk: bool = False  # builds a whole batch in memory: collection paused, GIL switches every 1 ms while handled (gcpause, breather)

    def all_errors(self) -> dict[int, tuple[str, ...]]:
        """Every error status → codes this route can answer."""
        merged: dict[int, list[str]] = {}
        parts = [self.errors, ACCESS_ERRORS]
        if self.body is not None or self.form is not None:
            parts.append(BODY_ERRORS)
        if self.query is not None:
            parts.append(QUERY_ERRORS)
        if self.needs_store:
            parts.append(STORE_ERRORS)
        if self.rate_limited:
            parts.append(RATE_ERRORS)
        for part in parts:
            for status, codes in part.items():
                merged.setdefault(status, [])
                merged[status] += [c for c in codes if c not in merged[status]]
        return {s: tuple(c) for s, c in sorted(merged.items())}

    def pattern(self) -> re.Pattern[str]:
        """A regex matching this route's path below the prefix (for the 405 Allow header)."""
        return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(self.path)) + "$")


def template_params(service: BatchService, data: Any) -> Callable[[], set[str]]:
    """The parameter names of the request's template, for "put `width` in `params`" hints (empty if unresolvable)."""

    def names() -> set[str]:
        try:
            ref = data.get("template") or data.get("workflow_type")
            return set(service.resolve_template(ref).bindings) if isinstance(ref, str) else set()
        except Exception:
            return set()

    return names


@dataclass
class Context:
    """What routes share beyond the service: the access policy (tokens) and the SSE stream hub."""

    access: AccessPolicy
    streams: Any = None
    webhooks: Any = None  # batchgen.webhooks.WebhookManager
    limiter: Any = None  # batchgen.ratelimit.RateLimiter
    settings: Any = None  # batchgen.server_settings.ServerSettings


@dataclass
class Mounted:
    """What register() mounted: our handler objects (the CORS middleware's test) and the table, for preflight methods."""

    handlers: set[Any]
    table: list[Route]
    context: Context

    def methods_for(self, path: str) -> list[str]:
        """The methods our table has for a request path (with or without ComfyUI's /api in front)."""
        path = path[len("/api"):] if path.startswith("/api/") else path
        if not path.startswith(API_PREFIX + "/"):
            return []
        tail = path[len(API_PREFIX):]
        return sorted({r.method for r in self.table if r.pattern().match(tail)})


def _rate_check(limiter: Any, caller: Any, peer: str | None, loopback_too: bool) -> None:
    """Count a submission against its token's bucket (or the peer IP's, for loopback callers when configured)."""
    if caller.token is not None:
        limiter.check(f"token:{caller.token.id}")
    elif loopback_too:
        limiter.check(f"ip:{peer}")


def make_handler(route: Route, service: BatchService, context: Context) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one route: access, guards, query and body parsing, the domain call, errors as JSON."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            # The one access check, with the scope from the route table (also for requests our CORS middleware lets past ComfyUI's).
            caller = context.access.decide(request.remote, request.headers, set(request.query.keys()), route.scope)
            if route.rate_limited and context.limiter is not None:
                _rate_check(context.limiter, caller, request.remote, service.config.rate_limit_loopback)
            if route.needs_store:
                require_store(service)
            call = Call(request, service, context=context, caller=caller)
            if route.query is not None:
                call.query = parse_query(route.query, request.query)
            raw = None
            if route.body is not None:
                raw = await read_body(request, route.body_limit or service.config.max_body_bytes, service.config.read_timeout_seconds)
            # Bulk routes build up to max_jobs objects: the collector is paused from the parse to the answer (batchgen/gcpause.py),
            # never while the client is still sending, and the event loop waits at most 1 ms for the GIL (batchgen/breather.py).
            with bulk_work() if route.bulk else contextlib.nullcontext():
                if raw is not None:
                    call.raw = await parse_json(raw, allow_empty=not route.body_required)
                    call.body = parse_request(route.body, call.raw, template_params(service, call.raw) if isinstance(call.raw, dict) else None)
                return await route.handler(call)
        except ApiError as exc:
            return error_response(exc)
        except StoreBusy:
            return error_response(busy_error())  # type: ignore[arg-type]
        except web.HTTPException:
            raise
        except Exception:
            log.exception("[batchgen] unexpected error in %s %s", request.method, request.path)
            return internal_error()

    handle.__name__ = route.operation_id
    return handle


def register(routes: web.RouteTableDef, service: BatchService, table: list[Route], context: Context) -> Mounted:
    """Mount every route of the table, then the catch-all for everything else under the prefix."""
    handlers: set[Any] = set()
    for route in table:
        # routes.get also answers HEAD (aiohttp's allow_head), as the hand-written routes did.
        add = routes.get if route.method == "GET" else functools.partial(routes.route, route.method)
        handler = make_handler(route, service, context)
        handlers.add(handler)
        add(API_PREFIX + route.path)(handler)
    patterns = [(route.pattern(), route.method) for route in table]

    async def unknown(request: web.Request) -> web.StreamResponse:
        path = request.path[len("/api"):] if request.path.startswith("/api/") else request.path
        tail = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else None
        allowed = sorted({m for p, m in patterns if tail is not None and p.match(tail)})
        if allowed:
            allow = ", ".join(allowed + (["HEAD"] if "GET" in allowed else []))
            error = ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}; use {allow}",
                             {"allowed": allowed}, {"Allow": allow})
        else:
            error = not_found("no_such_route", f"no route {request.path}; see {API_PREFIX}/openapi.json for the API", path=request.path)
        return error_response(error)

    # Only our own prefix: ComfyUI mounts this also under /api/batchgen/, which shadows nothing of its own.
    routes.route("*", "/batchgen/{tail:.*}")(unknown)
    handlers.add(unknown)
    return Mounted(handlers, table, context)
