"""Which webhook event an entry of the durable event log is, and the body it is delivered with (pure).

Webhooks read only the event log (store.list_events): a job event becomes ``job.<status>``,
a batch event reaching a final status becomes ``batch.completed`` / ``batch.cancelled``, a
deletion ``batch.deleted``. The message id is ``evt_<seq>``: the same on every retry and
after a restart, so a receiver dedupes by it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from . import ids
from .events import Event

JOB_TYPES = ("job.queued", "job.started", "job.succeeded", "job.failed", "job.cancelled", "job.pending")
BATCH_TYPES = ("batch.completed", "batch.cancelled", "batch.deleted")
EVENT_TYPES = JOB_TYPES + BATCH_TYPES
# What a webhook created without "events" receives: outcomes, not every intermediate step.
DEFAULT_FILTER = ("job.succeeded", "job.failed", "job.cancelled", "batch.completed", "batch.cancelled", "batch.deleted")
FILTER_VALUES = ("*", "job.*", "batch.*", *EVENT_TYPES)

_JOB_STATUS_TYPE = {"queued": "job.queued", "running": "job.started", "succeeded": "job.succeeded", "failed": "job.failed",
                    "cancelled": "job.cancelled", "pending": "job.pending"}
_FINAL_BATCH = {"succeeded": "batch.completed", "partial": "batch.completed", "failed": "batch.completed",
                "cancelled": "batch.cancelled"}


def webhook_type(event: Event) -> str | None:
    """The webhook event type of a log entry (None: not a webhook event, e.g. a batch's progress counts)."""
    if event.type == ids.EVENT_JOB:
        return _JOB_STATUS_TYPE.get(str(event.data.get("status")))
    if event.type == ids.EVENT_BATCH:
        return _FINAL_BATCH.get(str(event.data.get("status")))
    if event.type == ids.EVENT_BATCH_DELETED:
        return "batch.deleted"
    return None


def matches(kind: str, filters: tuple[str, ...] | list[str]) -> bool:
    """True if a webhook with these filters receives ``kind``."""
    family = kind.split(".", 1)[0] + ".*"
    return any(f in ("*", family, kind) for f in filters)


def message_id(event: Event) -> str:
    """The webhook-id header: stable per event (retries and restarts send the same one)."""
    return f"evt_{event.seq}"


def body(event: Event, kind: str) -> str:
    """The JSON body: {type, timestamp, data: the log entry as in GET /events}."""
    stamp = datetime.fromtimestamp(event.created_at, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    payload: dict[str, Any] = {"type": kind, "timestamp": stamp, "data": event.as_dict()}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
