"""REST routes under /batchgen/v1 (ComfyUI also serves them under /api/batchgen/v1)."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.service import BatchService
from .batches import add_batch_routes
from .health import add_health_routes
from .templates import add_template_routes


def register(routes: web.RouteTableDef, service: BatchService) -> None:
    """Add every batchgen route to ``routes`` (PromptServer.instance.routes, or a test table)."""
    add_health_routes(routes, service)
    add_template_routes(routes, service)
    add_batch_routes(routes, service)
