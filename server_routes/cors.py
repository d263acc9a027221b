"""CORS for our routes only: an outermost aiohttp middleware with an exact-origin allow-list (pure aiohttp, no ComfyUI).

Installed first in ComfyUI's middleware list (comfy_host/bootstrap.py), it sees every request
with its route already resolved. It acts only when the resolved handler is one of ours — by
handler object, never by path, so `/api/...` remounts and path tricks cannot earn anything:

- a preflight from an allowed origin is answered here (204); a request from an allowed origin
  is handed to our handler directly, past ComfyUI's origin check, with ACAO added. The token
  check inside our handler still applies (a cross-origin page always needs a token);
- a foreign Origin, or an Origin-less request a browser marks same-site/cross-site, is a 403;
- same-origin requests and Origin-less scripts go down ComfyUI's chain unchanged.
Every other handler (ComfyUI's own routes) goes down ComfyUI's chain untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..batchgen.access import origin_netloc
from ..batchgen.config import normalise_origin
from ..batchgen.errors import ApiError, not_found
from ._http import error_response
from .stream import CORS_HEADERS_KEY
from .table import Mounted

ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
EXPOSE_HEADERS = "Retry-After, WWW-Authenticate, Allow"
MAX_AGE = "600"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refuse(origin: str | None, why: str) -> web.Response:
    return error_response(ApiError(403, "origin_not_allowed", why, {"origin": origin} if origin else {}))


def cors_middleware(mounted: Mounted, origins: tuple[str, ...] | Callable[[], frozenset[str]]) -> Any:
    """The middleware: ``origins`` are normalised exact origins (config.normalise_origin), or a function giving the ones
    allowed now (the settings: an origin added through PATCH /settings is answered without a restart); empty = none."""
    allowed = origins if callable(origins) else (lambda fixed=frozenset(origins): fixed)
    ours = mounted.handlers

    @web.middleware
    async def batchgen_cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        route_handler = request.match_info.handler
        if route_handler not in ours:
            return await handler(request)  # ComfyUI's routes: its chain, exactly as without us
        origin = request.headers.get("Origin")
        if origin is None:
            # Chrome sends no Origin on <img>/no-cors GETs; Fetch Metadata still says a foreign page asked.
            if request.headers.get("Sec-Fetch-Site", "").lower() in ("same-site", "cross-site"):
                return _refuse(None, "cross-site requests without an Origin header are refused on batchgen routes")
            return await handler(request)
        if origin_netloc(origin) == (request.host or "").lower() and origin.strip().lower() != "null":
            return await handler(request)  # same origin (ComfyUI's own frontend): ComfyUI's chain
        normalised = normalise_origin(origin) if origin.strip().lower() != "null" else None
        if normalised is None or normalised not in allowed():
            return _refuse(origin, "this origin may not call batchgen; the ComfyUI admin allows origins in Settings → BatchGen "
                                   "→ Remote access or in BATCHGEN_CORS_ORIGINS (exact scheme://host[:port])")
        cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": EXPOSE_HEADERS}
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            methods = mounted.methods_for(request.path)
            if not methods:
                response = error_response(not_found("no_such_route", f"no route {request.path}", path=request.path))
                response.headers.update(cors)
                return response
            allow = ", ".join(methods + (["HEAD"] if "GET" in methods else []))
            # No Allow-Credentials: tokens are bearer headers, never cookies.
            return web.Response(status=204, headers={**cors, "Access-Control-Allow-Methods": allow,
                                                     "Access-Control-Allow-Headers": ALLOW_HEADERS,
                                                     "Access-Control-Max-Age": MAX_AGE})
        request[CORS_HEADERS_KEY] = cors  # a streaming handler sets them before prepare()
        try:
            response = await route_handler(request)  # past ComfyUI's origin check: our handler checks the token itself
        except web.HTTPException as exc:
            exc.headers.update(cors)
            raise
        if not response.prepared:
            response.headers.update(cors)
        return response

    return batchgen_cors
