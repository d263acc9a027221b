"""Health and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.ids import API_PREFIX
from ..batchgen.service import BatchService
from ._http import api, json_response
from .openapi import openapi_document


def add_health_routes(routes: web.RouteTableDef, service: BatchService) -> None:
    """GET /health and GET /openapi.json."""

    @routes.get(f"{API_PREFIX}/health")
    @api
    async def health(request: web.Request) -> web.Response:
        store_status: dict = {"ready": service.store.ready, "path": str(service.store.path), "last_error": service.store.last_error}
        if service.store.ready:
            try:
                store_status["jobs"] = await service.store.queue_stats()
            except Exception as exc:  # a locked database is reported, not raised
                store_status["last_error"] = f"{type(exc).__name__}: {exc}"
        host = service.host.info()
        dispatcher = service.dispatcher.status()
        ok = service.store.ready and dispatcher["state"] == "running" and host.worker_alive is not False
        return json_response({
            "status": "ok" if ok else "degraded",
            "version": service.version,
            "store": store_status,
            "host": {"name": host.name, "version": host.version, "worker_alive": host.worker_alive, **host.details},
            "native_queue": {"running": host.queue_running, "pending": host.queue_pending},
            "dispatcher": dispatcher,
        })

    @routes.get(f"{API_PREFIX}/openapi.json")
    @api
    async def openapi(request: web.Request) -> web.Response:
        return json_response(openapi_document(service.version))
