"""REST routes under /batchgen/v1 (ComfyUI also serves them under /api/batchgen/v1)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..batchgen.access import AccessPolicy
from ..batchgen.service import BatchService
from ..batchgen.tokens import TOKENS_FILENAME, TokenStore
from .routes import ROUTES
from .stream import StreamHub
from .table import Context, Mounted
from .table import register as _register


def make_context(service: BatchService, user_dir: Path | None) -> Context:
    """The access policy (tokens.json in ``user_dir``; in memory when None) and the stream hub, from the service's config."""
    config = service.config
    tokens = TokenStore(user_dir / TOKENS_FILENAME if user_dir is not None else None)
    access = AccessPolicy(tokens, require_token=config.require_token, trusted_proxies=config.trusted_proxies)
    return Context(access, StreamHub(service.store, config.max_streams))


def register(routes: web.RouteTableDef, service: BatchService, context: Context | None = None) -> Mounted:
    """Add every batchgen route to ``routes`` (PromptServer.instance.routes, or a test table)."""
    return _register(routes, service, ROUTES, context or make_context(service, None))
