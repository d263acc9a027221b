"""Template routes: list, show, create."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.ids import API_PREFIX
from ..batchgen.service import BatchService
from ._http import api, json_response, read_json
from .guards import require_store


def add_template_routes(routes: web.RouteTableDef, service: BatchService) -> None:
    """GET/POST /templates, GET /templates/{id}."""

    @routes.get(f"{API_PREFIX}/templates")
    @api
    async def list_templates(request: web.Request) -> web.Response:
        return json_response({"templates": [t.summary() for t in service.registry.list()]})

    @routes.get(f"{API_PREFIX}/templates/{{template_id}}")
    @api
    async def get_template(request: web.Request) -> web.Response:
        return json_response(service.registry.get(request.match_info["template_id"]).detail())

    @routes.post(f"{API_PREFIX}/templates")
    @api
    async def create_template(request: web.Request) -> web.Response:
        body = await read_json(request, service.config.max_body_bytes)
        template = await service.create_template(body)
        return json_response(template.detail(), status=201)

    _ = require_store  # templates live in files, not in the store
