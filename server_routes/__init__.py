"""REST routes under /batchgen/v1 (ComfyUI also serves them under /api/batchgen/v1)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..batchgen.access import AccessPolicy
from ..batchgen.ratelimit import RateLimiter
from ..batchgen.server_settings import SETTINGS_FILENAME, ServerSettings
from ..batchgen.service import BatchService
from ..batchgen.tokens import TOKENS_FILENAME, TokenStore
from ..batchgen.webhook_delivery import DeliverySettings
from ..batchgen.webhook_secrets import SECRETS_FILENAME, SecretStore
from ..batchgen.webhook_targets import TargetPolicy
from ..batchgen.webhooks import WebhookManager
from .routes import ROUTES
from .stream import StreamHub
from .table import Context, Mounted
from .table import register as _register


def make_context(service: BatchService, user_dir: Path | None) -> Context:
    """Access policy (tokens.json in ``user_dir``; in memory when None), stream hub, webhooks, rate limiter and settings."""
    config = service.config
    tokens = TokenStore(user_dir / TOKENS_FILENAME if user_dir is not None else None)
    access = AccessPolicy(tokens, require_token=config.require_token, trusted_proxies=config.trusted_proxies)
    settings = DeliverySettings(config.webhook_timeout_seconds, config.webhook_backoff_seconds, config.webhook_backoff_max_seconds,
                                config.webhook_concurrency, config.lease_seconds, config.webhook_disable_after,
                                config.webhook_disable_hours * 3600.0)
    webhooks = WebhookManager(service.store, SecretStore(user_dir / SECRETS_FILENAME if user_dir is not None else None),
                              TargetPolicy.parse(config.webhook_allow_private, config.webhook_allow),
                              service.dispatcher.owner.owner_id, settings)
    settings = ServerSettings(config, user_dir / SETTINGS_FILENAME if user_dir is not None else None)
    service.dispatcher.window_source = settings.window  # the dispatcher follows the feed-window setting live
    return Context(access, StreamHub(service.store, config.max_streams), webhooks,
                   RateLimiter(config.rate_per_minute, config.rate_burst), settings)


def register(routes: web.RouteTableDef, service: BatchService, context: Context | None = None) -> Mounted:
    """Add every batchgen route to ``routes`` (PromptServer.instance.routes, or a test table)."""
    return _register(routes, service, ROUTES, context or make_context(service, None))
