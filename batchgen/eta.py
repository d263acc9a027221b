"""The preview's ETA: this batch's own run time, and when it would be done given the backlog ahead of it.

The backlog is what the scheduler (batchgen/scheduling.py) would run before or alongside the new batch: every job
already in ComfyUI's queue for us (queued or running), every pending job of a batch with a higher priority, and, of each
batch with the same priority, as many pending jobs as the new batch has (equal priorities take turns, one job each, so
a batch of N jobs finishes after at most N turns of each other). Lower priorities wait. Each batch's jobs are timed with
the median of its own template's past runs; jobs of templates without history (inline ones too) use the new batch's
median and are counted in ``unestimated``. Not covered: prompts others put in ComfyUI's queue, paused batches (they may
be resumed), retries not yet due, and jobs that fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Active:
    """A batch with work left, as the backlog sees it."""

    template_id: str | None
    priority: int
    pending: int
    in_flight: int  # queued or running in ComfyUI


def backlog(batches: Iterable[Active], priority: int, jobs: int) -> dict[str | None, int]:
    """template id → jobs of other batches that run before the new batch's last job (see the module docstring)."""
    ahead: dict[str | None, int] = {}
    for b in batches:
        n = b.in_flight + (b.pending if b.priority > priority else min(b.pending, jobs) if b.priority == priority else 0)
        if n:
            ahead[b.template_id] = ahead.get(b.template_id, 0) + n
    return ahead


def backlog_seconds(ahead: dict[str | None, int], median_of: Callable[[str | None], float | None],
                    fallback: float | None) -> tuple[float | None, int]:
    """(their run time in seconds, or None if nothing can be estimated; how many jobs were timed with ``fallback``)."""
    seconds, unestimated = 0.0, 0
    for template_id, n in ahead.items():
        median = median_of(template_id)
        if median is None:
            if fallback is None:
                return None, sum(ahead.values())
            median, unestimated = fallback, unestimated + n
        seconds += median * n
    return seconds, unestimated


def covers(jobs: int, ahead: dict[str | None, int], unestimated: int) -> str:
    """What the ETA's figures cover, in words."""
    others = sum(ahead.values())
    text = (f"seconds: this batch's {jobs} job(s) run alone; finish_seconds: also the {others} job(s) of other batches that "
            "run before or alongside them (already queued in ComfyUI, higher priority, or taking turns at the same priority)")
    if unestimated:
        text += f"; {unestimated} of those have no run history and are timed like this batch's jobs"
    return text + ". Not counted: prompts others queued in ComfyUI directly, paused batches, retries, failures."
