"""Trimming ComfyUI's in-memory history: keep only the most recent of our finished prompts there.

Every prompt stays in ``PromptQueue.history`` (up to 10,000), which is every user's history sidebar;
our own store has every job, so older entries of ours are dropped once their outcome is committed.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("batchgen.host")


class HistoryTrimmer:
    """Deletes our released prompts from ComfyUI's history beyond the ``keep`` most recent."""

    def __init__(self, queue: Any, keep: int) -> None:
        self.queue = queue  # ComfyUI's PromptQueue
        self.keep = max(0, keep)
        self._released: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def release(self, prompt_ids: Iterable[str]) -> int:
        """Note these (committed) prompts as ours and delete the oldest beyond ``keep``; returns how many."""
        with self._lock:
            for pid in prompt_ids:
                self._released.pop(pid, None)
                self._released[pid] = None  # most recent last
            drop = []
            while len(self._released) > self.keep:
                drop.append(self._released.popitem(last=False)[0])
        for pid in drop:
            try:
                # The queue's own API (takes its mutex; a missing id is a no-op): other clients' entries are never touched.
                self.queue.delete_history_item(pid)
            except Exception:
                log.warning("[batchgen] could not drop prompt %s from ComfyUI's history", pid, exc_info=True)
        return len(drop)
