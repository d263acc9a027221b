"""Template handlers: list, show, create."""

from __future__ import annotations

from aiohttp import web

from ._http import json_response
from .table import Call


async def list_templates(call: Call) -> web.Response:
    """GET /templates."""
    return json_response({"templates": [t.summary() for t in call.service.registry.list()]})


async def get_template(call: Call) -> web.Response:
    """GET /templates/{template_id}."""
    return json_response(call.service.registry.get(call.arg("template_id")).detail())


async def create_template(call: Call) -> web.Response:
    """POST /templates."""
    template = await call.service.create_template(call.body)
    return json_response(template.detail(), status=201)
