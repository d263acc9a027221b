"""ComfyUI's native prompt queue: validate, enqueue like ``POST /prompt``, look up, remove, interrupt.

Learns about queue changes through one pass-through hook on ``PromptServer.queue_updated``.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..batchgen.host import HostInfo, HostValidationError, PromptLookup, PromptState
from .outcomes import parse_history_entry

log = logging.getLogger("batchgen.host")

_VALIDATION_CACHE_SIZE = 256
OUR_CLIENT_PREFIX = "batchgen-"


def _as_is(entry: Any) -> Any:
    return entry


def on_loop(loop: Any) -> bool:
    """True when called on ``loop``'s own thread while it runs."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class NativeQueue:
    """Our side of ComfyUI's PromptQueue (the same hooks, numbering and item layout as POST /prompt)."""

    def __init__(self, server: Any) -> None:
        import execution  # ComfyUI's

        self.server = server
        self.queue = server.prompt_queue
        self.loop = server.loop
        self._listener: Callable[[], None] | None = None
        self._notify_pending = False
        self._validated: OrderedDict[str, list[str]] = OrderedDict()
        # Queue items became 6-tuples (…, sensitive) in v0.3.68, together with task_done's process_item.
        self._six_tuple = "process_item" in inspect.signature(execution.PromptQueue.task_done).parameters
        self._install_queue_hook()

    # -- change notification -----------------------------------------------------------------

    def _install_queue_hook(self) -> None:
        """Wrap the server's queue_updated (called after every put/get/task_done/delete/wipe).

        The wrapper passes every argument through, calls the original first and never raises:
        ComfyUI's prompt worker has no try/except around these calls, so an exception here
        would kill it (the trap that broke task_done wrappers in v0.3.68).
        """
        original = self.server.queue_updated

        def queue_updated(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            finally:
                if self._listener is not None and not self._notify_pending:
                    # One notification in flight at a time: the listener reads the queue when it runs, so
                    # it sees every change made before then (the worker makes two per prompt; each
                    # self-pipe write wakes the loop thread, which then contends with the worker for the GIL).
                    self._notify_pending = True
                    try:
                        if on_loop(self.loop):  # our own enqueue: no self-pipe write (a GIL hand-off to the worker)
                            self.loop.call_soon(self._notify)
                        else:
                            self.loop.call_soon_threadsafe(self._notify)
                    except Exception:  # loop closed at shutdown
                        self._notify_pending = False

        self.server.queue_updated = queue_updated

    def _notify(self) -> None:
        """(On the loop.) Hand the queue change to the listener; later changes schedule a new call."""
        self._notify_pending = False
        listener = self._listener
        if listener is not None:
            listener()

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the server loop after every native queue change."""
        self._listener = callback

    # -- submit ----------------------------------------------------------------------------

    def _apply_replacements(self, prompt: dict[str, Any]) -> None:
        manager = getattr(self.server, "node_replace_manager", None)
        if manager is not None:
            manager.apply_replacements(prompt)

    async def prepare(self, prompt: dict[str, Any], shape_key: str, *, cached: bool = True) -> list[str]:
        """Validate as POST /prompt would and return the outputs to execute.

        ``cached=True`` (feeding) reuses an earlier success for the same shape; ``cached=False``
        (intake) always validates and leaves the cache as it was, so every request is checked.
        """
        if cached:
            hit = self._validated.get(shape_key)
            if hit is not None:
                self._validated.move_to_end(shape_key)
                return hit
        import execution

        candidate = copy.deepcopy(prompt)  # validation coerces values in place
        self._apply_replacements(candidate)
        valid = await execution.validate_prompt(str(uuid.uuid4()), candidate, None)
        if not valid[0] or valid[3]:
            # ComfyUI would run the valid outputs of a partly invalid prompt; a batch rejects it, so
            # a template error is seen once at submission rather than as hundreds of incomplete jobs.
            error = valid[1] or {"type": "prompt_outputs_failed_validation", "message": "some outputs failed validation"}
            raise HostValidationError(error, valid[3] or {})
        outputs = list(valid[2])
        if cached:
            self._validated[shape_key] = outputs
            while len(self._validated) > _VALIDATION_CACHE_SIZE:
                self._validated.popitem(last=False)
        return outputs

    def enqueue(self, prompt_id: str, prompt: dict[str, Any], outputs: list[str], client_id: str, extra: Mapping[str, Any]) -> None:
        """Put one prompt in the native queue, like POST /prompt (same hooks, numbering and item layout)."""
        body = self.server.trigger_on_prompt({"prompt": prompt, "client_id": client_id, "extra_data": dict(extra)})
        prompt = body.get("prompt", prompt)
        self._apply_replacements(prompt)
        extra_data = dict(body.get("extra_data") or extra)
        extra_data["client_id"] = client_id
        extra_data["create_time"] = int(time.time() * 1000)
        number = self.server.number
        self.server.number += 1
        if self._six_tuple:
            self.queue.put((number, prompt_id, prompt, extra_data, outputs, {}))
        else:
            self.queue.put((number, prompt_id, prompt, extra_data, outputs))

    # -- observe ---------------------------------------------------------------------------

    def _state_in_queue(self, pid: str) -> PromptState | None:
        running, pending = self.queue.get_current_queue_volatile()
        if any(item[1] == pid for item in running):
            return PromptState.RUNNING
        if any(item[1] == pid for item in pending):
            return PromptState.PENDING
        return None

    def lookup(self, prompt_ids: Iterable[str]) -> dict[str, PromptLookup]:
        """Pending, running, done (with its outcome) or unknown, per prompt id."""
        running, pending = self.queue.get_current_queue_volatile()
        running_ids = {item[1] for item in running}
        pending_ids = {item[1] for item in pending}
        result: dict[str, PromptLookup] = {}
        for pid in prompt_ids:
            if pid in running_ids:
                result[pid] = PromptLookup(PromptState.RUNNING)
                continue
            if pid in pending_ids:
                result[pid] = PromptLookup(PromptState.PENDING)
                continue
            entry = self._history_entry(pid)
            if entry is None:
                # It may have moved from pending to done since the snapshot: look once more.
                state = self._state_in_queue(pid)
                if state is not None:
                    result[pid] = PromptLookup(state)
                    continue
                entry = self._history_entry(pid)
            if entry is None:
                result[pid] = PromptLookup(PromptState.UNKNOWN)
            else:
                result[pid] = PromptLookup(PromptState.DONE, parse_history_entry(entry))
        return result

    def _history_entry(self, pid: str) -> Any:
        """ComfyUI's history entry of one prompt, read in place (we only read it, at once)."""
        # map_function: without one, get_history deep-copies the entry (prompt graph, outputs, status messages)
        # under the queue's mutex, on the loop thread, once per job.
        return self.queue.get_history(prompt_id=pid, map_function=_as_is).get(pid)

    def remove_pending(self, prompt_ids: Iterable[str]) -> set[str]:
        """Delete those of our prompts that have not started yet."""
        removed = set()
        for pid in prompt_ids:
            if self.queue.delete_queue_item(lambda item, pid=pid: item[1] == pid):
                removed.add(pid)
        return removed

    def interrupt(self, prompt_id: str) -> bool:
        """Interrupt only if this prompt is the one running (interrupts are global in ComfyUI)."""
        if hasattr(self.queue, "interrupt_if_running"):
            return bool(self.queue.interrupt_if_running(prompt_id))
        import nodes as comfy_nodes  # ComfyUI's nodes module (v0.8.0 path)

        running, _ = self.queue.get_current_queue_volatile()
        if any(item[1] == prompt_id for item in running):
            comfy_nodes.interrupt_processing()
            return True
        return False

    def info(self) -> HostInfo:
        """ComfyUI version, native queue depth, prompt-worker liveness."""
        try:
            import comfyui_version

            version = comfyui_version.__version__
        except Exception:
            version = "unknown"
        running, pending = self.queue.get_current_queue_volatile()
        worker = any("prompt_worker" in t.name for t in threading.enumerate())
        ours = sum(1 for item in list(running) + list(pending)
                   if str((item[3] or {}).get("client_id", "")).startswith(OUR_CLIENT_PREFIX))
        details = {"ours_in_queue": ours, "queue_item_size": 6 if self._six_tuple else 5}
        return HostInfo("ComfyUI", version, len(running), len(pending), worker, details)
