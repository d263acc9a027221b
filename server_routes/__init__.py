"""REST routes under /batchgen/v1 (ComfyUI also serves them under /api/batchgen/v1)."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.service import BatchService
from .routes import ROUTES
from .table import register as _register


def register(routes: web.RouteTableDef, service: BatchService) -> None:
    """Add every batchgen route to ``routes`` (PromptServer.instance.routes, or a test table)."""
    _register(routes, service, ROUTES)
