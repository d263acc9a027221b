"""Which pending jobs to feed next: a pure policy over candidate batches, no SQL.

Highest priority first among batches that have a job due *now* (a batch whose pending jobs
all wait for a retry backoff does not block lower levels); within a level, round-robin,
least recently fed batch first. When a level has fewer due jobs than the window needs, the
next level fills the rest, so the worker never idles while work is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A batch with pending jobs that may be fed (not paused, not cancelled)."""

    batch_id: str
    priority: int
    last_fed_at: float
    seq: int
    due_at: float  # earliest not_before of its pending jobs


def levels(candidates: Sequence[Candidate], now: float) -> list[list[str]]:
    """Batch ids with a job due now, grouped by priority (highest first), each group in feed order."""
    due = [c for c in candidates if c.due_at <= now]
    groups: dict[int, list[Candidate]] = {}
    for c in due:
        groups.setdefault(c.priority, []).append(c)
    return [[c.batch_id for c in sorted(groups[p], key=lambda c: (c.last_fed_at, c.seq))] for p in sorted(groups, reverse=True)]


def round_robin(queues: Sequence[Sequence[T]], limit: int) -> list[T]:
    """Up to ``limit`` items taken one per queue in turn, in queue order."""
    picked: list[T] = []
    positions = [0] * len(queues)
    while len(picked) < limit:
        progressed = False
        for i, queue in enumerate(queues):
            if positions[i] < len(queue) and len(picked) < limit:
                picked.append(queue[positions[i]])
                positions[i] += 1
                progressed = True
        if not progressed:
            break
    return picked
