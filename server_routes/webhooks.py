"""Webhook handlers: create (the secret is answered once), list, get, delete, ping, list delivery attempts."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.errors import ApiError
from ..batchgen.webhook_ping import ping
from ..batchgen.webhooks import public
from ._http import json_response
from .table import Call


def _manager(call: Call):
    manager = call.context.webhooks
    if manager is None:  # an app without webhook delivery wired (never in ComfyUI)
        raise ApiError(503, "webhooks_unavailable", "webhook delivery is not running in this process", headers={"Retry-After": "5"})
    return manager


async def _create(call: Call, batch_id: str | None) -> web.Response:
    body = call.body
    info, secret = await _manager(call).create(body.url, body.events, batch_id, body.description)
    return json_response({**info, "secret": secret}, 201, {"Cache-Control": "no-store"})


async def create_webhook(call: Call) -> web.Response:
    """POST /webhooks."""
    return await _create(call, call.body.batch)


async def create_batch_webhook(call: Call) -> web.Response:
    """POST /batches/{batch_id}/webhooks."""
    return await _create(call, call.arg("batch_id"))


async def list_webhooks(call: Call) -> web.Response:
    """GET /webhooks."""
    return json_response({"webhooks": [public(h) for h in await _manager(call).list()]})


async def list_batch_webhooks(call: Call) -> web.Response:
    """GET /batches/{batch_id}/webhooks."""
    batch_id = call.arg("batch_id")
    await call.service.get_batch(batch_id)
    return json_response({"webhooks": [public(h) for h in await _manager(call).list(batch_id)]})


async def get_webhook(call: Call) -> web.Response:
    """GET /webhooks/{webhook_id}."""
    return json_response(public(await _manager(call).get(call.arg("webhook_id"))))


async def delete_webhook(call: Call) -> web.Response:
    """DELETE /webhooks/{webhook_id}."""
    return json_response(public(await _manager(call).delete(call.arg("webhook_id"))))


async def enable_webhook(call: Call) -> web.Response:
    """POST /webhooks/{webhook_id}/enable."""
    return json_response(public(await _manager(call).enable(call.arg("webhook_id"))))


async def ping_webhook(call: Call) -> web.Response:
    """POST /webhooks/{webhook_id}/ping."""
    return json_response(await ping(_manager(call), call.arg("webhook_id")))


async def list_deliveries(call: Call) -> web.Response:
    """GET /webhooks/{webhook_id}/deliveries."""
    q = call.query
    return json_response({"deliveries": await _manager(call).deliveries(call.arg("webhook_id"), q.limit, q.before)})
