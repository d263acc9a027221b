"""Pacing of the dispatcher: how deep the window is and how often a step runs, from how fast our jobs finish.

Jobs of real models take seconds: the window stays ``BATCHGEN_WINDOW`` and a step runs as soon as ComfyUI
reports a change. Trivial jobs (a few milliseconds) finish faster than one step can commit, so one step per
completion made our database thread and ComfyUI's worker take turns at the GIL for every job. For those,
the window grows (up to ``BATCHGEN_WINDOW_MAX``) until it holds about ``BUDGET_SECONDS`` of work, and steps
are spaced: each one commits every outcome gathered meanwhile in one transaction and claims as many jobs,
while ComfyUI's worker keeps running the prompts already in its queue. Nothing is reported before its commit,
so a crash inside the pause loses nothing that was reported (see docs/benchmarks.md, "group commit").
"""

from __future__ import annotations

import math

# The window grows until it holds this much of our queued work: a user's own prompt waits at most this much longer.
BUDGET_SECONDS = 0.08
# While the window is grown, a step runs at most this often (each commits what finished meanwhile).
SPACING_SECONDS = 0.02
# Weight of the newest sample in the moving average of seconds per job.
EMA_WEIGHT = 0.2


class Pacing:
    """Seconds per job of our recent completions, and the window depth and step spacing they call for."""

    def __init__(self, window: int, window_max: int) -> None:
        self.window = window
        self.window_max = max(window, window_max)
        self.per_job: float | None = None
        self._last: float | None = None

    def resize(self, window: int, window_max: int) -> None:
        """Take a new window (the feed-window setting changed); what was learnt about job durations is kept."""
        self.window = window
        self.window_max = max(window, window_max)

    def finished(self, now: float, count: int) -> None:
        """A step committed ``count`` outcomes at ``now`` (monotonic seconds) while our work kept ComfyUI busy."""
        if count <= 0:
            return
        if self._last is not None:
            sample = max(now - self._last, 0.0) / count
            self.per_job = sample if self.per_job is None else self.per_job + EMA_WEIGHT * (sample - self.per_job)
        self._last = now

    def idle(self) -> None:
        """Nothing of ours is in flight: the time until the next completion is not a job's duration."""
        self._last = None

    @property
    def depth(self) -> int:
        """How many of our prompts may be in ComfyUI's queue now."""
        if self.window_max <= self.window or self.per_job is None:
            return self.window
        want = math.ceil(BUDGET_SECONDS / max(self.per_job, 1e-4))
        return max(self.window, min(self.window_max, want))

    @property
    def spacing(self) -> float:
        """Seconds between two steps woken by ComfyUI (0: step at once)."""
        depth = self.depth
        if depth <= self.window or self.per_job is None:
            return 0.0
        # Leave the worker at least two thirds of what is queued to run while we wait and commit.
        return min(SPACING_SECONDS, depth * self.per_job / 3)
