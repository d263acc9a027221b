"""Server-Sent Events: a line parser (text/event-stream framing) and the event record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One event of /events/stream: its seq (the SSE id), type and the event object of GET /events."""

    seq: int
    type: str
    data: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        """The job or batch object the event carries (``data.data``)."""
        inner = self.data.get("data")
        return inner if isinstance(inner, dict) else {}


class SSEParser:
    """Feed lines, get events: fields id/event/data/retry, comments ignored, a blank line ends an event."""

    def __init__(self) -> None:
        self.retry_ms: int | None = None
        self._id: str | None = None
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> ServerEvent | None:
        """One line (without its newline); returns the event a blank line completes."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # heartbeat or comment
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            self._id = value
        elif name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> ServerEvent | None:
        data, event_id, event_type = "\n".join(self._data), self._id, self._event
        self._data, self._event, self._id = [], "message", None
        if not data or event_id is None or not event_id.isdigit():
            return None
        try:
            parsed = json.loads(data)
        except ValueError:
            return None
        return ServerEvent(int(event_id), event_type, parsed if isinstance(parsed, dict) else {})
