"""POST /webhooks/{id}/ping: one signed test message sent now, outside the event log, recorded as a delivery attempt.

The message is ``{"type": "webhook.ping", "timestamp": …, "data": {"webhook_id": …, "message": …}}`` with the same
Standard Webhooks headers as events (its webhook-id is ``ping_<ms since the epoch>``), sent to the webhook's URL after
the same target check. It does not touch the cursor, the counters or the failure streak: it answers "can the receiver
be reached, and does it verify our signature", and the attempt is listed with the webhook's deliveries (event_seq 0).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

import aiohttp
from standardwebhooks import Webhook

from .errors import ApiError
from .store import webhooks_sql as sql
from .webhook_delivery import MAX_ERROR, post_signed
from .webhook_targets import CheckedResolver, TargetRefused, check_target, parse_url

PING_TYPE = "webhook.ping"


def ping_message_id(started: float) -> str:
    """The webhook-id of a ping sent at ``started`` (s, rounded to ms as stored): the listing derives the same."""
    return f"ping_{round(started * 1000)}"


def ping_body(webhook_id: str, started: float) -> str:
    """The JSON body of a ping."""
    stamp = datetime.fromtimestamp(started, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": PING_TYPE, "timestamp": stamp, "data": {"webhook_id": webhook_id, "message":
                       "a test message from comfyui-batchgen: verify its signature with this webhook's secret"}},
                      ensure_ascii=False, separators=(",", ":"))


async def ping(manager: Any, webhook_id: str) -> dict[str, Any]:
    """Send a ping to the webhook now and record the attempt; the attempt as GET /deliveries lists it."""
    hook = await manager.get(webhook_id)
    secret = manager.secrets.get(webhook_id)
    if secret is None:
        raise ApiError(409, "webhook_secret_missing", f"webhook {webhook_id} has no signing secret (webhook_secrets.json lost?); "
                       "delete it and create it again")
    started = round(time.time(), 3)
    msg_id = ping_message_id(started)
    try:
        _scheme, host, _port = parse_url(hook.url)
        pinned = {host: await check_target(manager.policy, hook.url, manager.resolver)}
    except (TargetRefused, Exception) as exc:  # a URL that became invalid is a failed attempt too
        attempt = sql.Attempt(0, PING_TYPE, 1, started, 0.0, None, False, str(exc)[:MAX_ERROR] or type(exc).__name__)
    else:
        connector = aiohttp.TCPConnector(resolver=CheckedResolver(pinned), use_dns_cache=False, limit=1)
        async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": "comfyui-batchgen-webhooks"}) as session:
            _sent, ms, status, ok, error = await post_signed(session, hook.url, Webhook(secret), msg_id,
                                                             ping_body(webhook_id, started), manager.settings.timeout)
        attempt = sql.Attempt(0, PING_TYPE, 1, started, ms, status, ok, error)
    delivery_id = await manager.store.run_in_transaction(sql.record_ping_sync, webhook_id, attempt)
    return {"id": delivery_id, "event_seq": 0, "event_type": PING_TYPE, "message_id": msg_id, "attempt": 1,
            "started_at": started, "duration_ms": round(attempt.duration_ms, 3), "status_code": attempt.status_code,
            "ok": attempt.ok, "error": attempt.error}
