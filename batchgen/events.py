"""The durable event log's payloads and its one publisher to ComfyUI's websocket.

Every state change writes its event into the store in the same transaction as the change
(see store/events_sql.py); after the commit the store hands the committed events, in ``seq``
order, to one ``EventPublisher``, which is the only sender of job and batch events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from .models import Batch, Job, JobStatus

log = logging.getLogger("batchgen.events")


@dataclass(frozen=True, slots=True)
class Event:
    """One committed entry of the event log."""

    seq: int
    type: str
    batch_id: str | None
    job_id: int | None
    created_at: float
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The websocket payload: the event's data with its sequence number."""
        return {**self.data, "seq": self.seq}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form served by GET /events."""
        return {"seq": self.seq, "type": self.type, "batch_id": self.batch_id, "job_id": self.job_id,
                "created_at": self.created_at, "data": self.payload()}


def job_event(job: Job, previous: JobStatus | None = None) -> dict[str, Any]:
    """The payload of a ``batchgen.job`` event."""
    return {
        "id": job.id,
        "batch_id": job.batch_id,
        "idx": job.idx,
        "status": job.status.value,
        "previous_status": previous.value if previous else None,
        "attempts": job.attempts,
        "prompt_id": job.prompt_id,
        "seed": job.seed,
        "outputs": [o.as_dict() for o in job.outputs],
        "error": job.error.as_dict() if job.error else None,
    }


def batch_event(batch: Batch) -> dict[str, Any]:
    """The payload of a ``batchgen.batch`` event."""
    return {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status.value,
        "total": batch.total,
        "counts": batch.counts.as_dict(),
        "priority": batch.priority,
        "paused": batch.paused,
        "cancelled": batch.cancelled,
        "updated_at": batch.updated_at,
    }


class EventSender(Protocol):
    """What the publisher needs from the host: its websocket broadcast."""

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Broadcast one event."""


class EventPublisher:
    """Sends committed events to the websocket, each once and in seq order."""

    def __init__(self, sender: EventSender) -> None:
        self.sender = sender
        self.last_seq = 0

    def publish(self, events: list[Event]) -> None:
        """Send the events not sent yet (a websocket failure never undoes a commit)."""
        for event in events:
            if event.seq <= self.last_seq:
                continue
            self.last_seq = event.seq
            try:
                self.sender.send_event(event.type, event.payload())
            except Exception:  # the log is the truth; a client catches up through GET /events
                log.exception("[batchgen] could not send event %s", event.seq)
