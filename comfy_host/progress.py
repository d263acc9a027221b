"""Per-job progress: ComfyUI's ``progress`` events of our prompts relayed as ``batchgen.progress``.

Our prompts run with a client id no socket holds, so ComfyUI sends their per-node progress to
nobody. There is no supported global progress hook on v0.8.0 or v0.33.0
(``comfy_execution.progress`` handlers are reset per prompt; ``comfy.utils``'s global hook is set
by ComfyUI after custom nodes load and sees unresolved node ids), so we use a pass-through
wrapper around ``PromptServer.send_sync``, where every progress event goes with its prompt id
and node already resolved. The wrapper calls the original first and never raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..batchgen import ids

log = logging.getLogger("batchgen.host")

MIN_INTERVAL_SECONDS = 0.25  # at most 4 events per second per job
_MAX_TRACKED = 10_000


@dataclass(slots=True)
class _Tracked:
    job_id: Any
    batch_id: Any
    last_sent: float = 0.0
    held: dict[str, Any] | None = None  # the newest event not sent yet (throttled)


def job_of(client_id: str, extra: Mapping[str, Any]) -> tuple[Any, Any]:
    """(job_id, batch_id) from what the dispatcher put in a prompt's extra data."""
    meta = ((extra.get("extra_pnginfo") or {}).get("batchgen") or {}) if isinstance(extra, Mapping) else {}
    batch_id = meta.get("batch_id")
    if batch_id is None and client_id.startswith("batchgen-"):
        batch_id = client_id[len("batchgen-"):]
    return meta.get("job_id"), batch_id


class ProgressRelay:
    """Throttled relay of ComfyUI progress events for the prompts it was told about."""

    def __init__(self, send: Callable[[str, dict[str, Any]], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send  # broadcasts one event (ComfyUI's original send_sync)
        self._clock = clock
        self._tracked: OrderedDict[str, _Tracked] = OrderedDict()
        self._lock = threading.Lock()

    def track(self, prompt_id: str, job_id: Any, batch_id: Any) -> None:
        """Relay this prompt's progress from now on."""
        with self._lock:
            self._tracked[prompt_id] = _Tracked(job_id, batch_id)
            while len(self._tracked) > _MAX_TRACKED:
                self._tracked.popitem(last=False)

    def forget(self, prompt_id: str) -> None:
        """Stop relaying (the prompt is finished or gone)."""
        with self._lock:
            self._tracked.pop(prompt_id, None)

    def tracked(self) -> int:
        """How many prompts are tracked (for tests and /health)."""
        return len(self._tracked)

    def observe(self, event: Any, data: Any) -> None:
        """Look at one event ComfyUI sent; relay progress of tracked prompts (throttled)."""
        if event == "progress" and isinstance(data, dict):
            self._on_progress(data)
        elif event == "executing" and isinstance(data, dict) and data.get("node") is None:
            self._finish(data.get("prompt_id"))  # ComfyUI's "prompt done" signal

    def _payload(self, tracked: _Tracked, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"job_id": tracked.job_id, "batch_id": tracked.batch_id, "prompt_id": data.get("prompt_id"),
                "node": data.get("node"), "value": data.get("value"), "max": data.get("max")}

    def _on_progress(self, data: Mapping[str, Any]) -> None:
        out: list[dict[str, Any]] = []
        with self._lock:
            tracked = self._tracked.get(data.get("prompt_id"))  # type: ignore[arg-type]
            if tracked is None:
                return
            payload = self._payload(tracked, data)
            held = tracked.held
            if held is not None and held["node"] != payload["node"]:
                out.append(held)  # the last event of the previous node always goes out
                tracked.held = None
            now = self._clock()
            final = isinstance(payload["value"], (int, float)) and isinstance(payload["max"], (int, float)) \
                and payload["value"] >= payload["max"]
            if final or now - tracked.last_sent >= MIN_INTERVAL_SECONDS:
                out.append(payload)
                tracked.last_sent = now
                tracked.held = None
            else:
                tracked.held = payload
        for item in out:
            self._send(ids.EVENT_PROGRESS, item)

    def _finish(self, prompt_id: Any) -> None:
        with self._lock:
            tracked = self._tracked.pop(prompt_id, None) if isinstance(prompt_id, str) else None
            held = tracked.held if tracked is not None else None
        if held is not None:
            self._send(ids.EVENT_PROGRESS, held)


def install_send_hook(server: Any, relay_factory: Callable[[Callable[[str, dict[str, Any]], None]], ProgressRelay]) -> ProgressRelay:
    """Wrap ``server.send_sync`` so the relay sees every event; returns the relay."""
    original = server.send_sync
    relay = relay_factory(lambda event, data: original(event, data))

    def send_sync(event: Any, data: Any, sid: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(event, data, sid, *args, **kwargs)
        finally:
            try:
                relay.observe(event, data)
            except Exception:  # called from ComfyUI's worker thread: never let ours break it
                log.debug("[batchgen] progress relay failed", exc_info=True)

    server.send_sync = send_sync
    return relay
