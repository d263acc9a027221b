"""The dispatcher's watchdog: a dead or stalled ComfyUI prompt worker stops feeding and is reported."""

from __future__ import annotations

import logging
from typing import Any

from . import ids

log = logging.getLogger("batchgen.dispatcher")

# Seconds between two watchdog looks at ComfyUI's worker.
HEALTH_CHECK_INTERVAL = 0.5


class WatchdogMixin:
    """Mixed into Dispatcher (which provides host, config and the host_problem fields)."""

    def _check_host(self: Any, now: float) -> str | None:
        """Detect a dead prompt worker, or one that stopped taking prompts (pending, none running)."""
        # Checked at most every HEALTH_CHECK_INTERVAL: steps run after every queue change, and this is not free.
        if now - self._last_health_check < HEALTH_CHECK_INTERVAL:
            return self.host_problem
        self._last_health_check = now
        info = self.host.info()
        problem = detail = None
        if info.worker_alive is False:
            problem, detail = "worker_dead", "ComfyUI's prompt worker thread is not running; restart ComfyUI"
        elif info.queue_pending > 0 and info.queue_running == 0:
            if self._idle_since is None:
                self._idle_since = now
            elif now - self._idle_since >= self.config.stall_seconds:
                problem = "worker_stalled"
                detail = f"ComfyUI has {info.queue_pending} pending prompt(s) and none has started for {now - self._idle_since:.0f} s"
        else:
            self._idle_since = None
        self.host_problem, self.host_problem_detail = problem, detail
        return problem

    def _announce_state(self: Any, state: str, detail: str | None = None) -> None:
        detail = detail or self.host_problem_detail
        if state == "running":
            log.info("[batchgen] dispatcher healthy again; feeding resumes")
        else:
            log.warning("[batchgen] dispatcher %s: %s", state, detail)
        self.host.send_event(ids.EVENT_HEALTH, {"state": state, "detail": detail})  # not logged: about this process only
