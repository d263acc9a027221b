"""What the dispatcher remembers about its prompts in ComfyUI's queue and about their batches."""

from __future__ import annotations

from dataclasses import dataclass

from .models import JobStatus
from .outcomes import Attempt
from .templates import Template


@dataclass(slots=True)
class InFlight:
    """One of our prompts currently in the host's native queue (mirrors a committed row)."""

    job_id: int
    batch_id: str
    idx: int
    attempt: int
    status: JobStatus
    prefix: str
    running_since: float | None = None
    requeues: int = 0

    def attempt_info(self) -> Attempt:
        """What the outcome decisions need to know about this attempt."""
        seen = self.status is JobStatus.RUNNING or self.running_since is not None
        return Attempt(self.attempt, seen, self.requeues, self.running_since)


@dataclass(slots=True)
class BatchMeta:
    """What the dispatcher caches per batch to build prompts."""

    template: Template
    subfolder: str
    total: int
    max_attempts: int
    digest: str


def job_prefix(subfolder: str, idx: int, attempt: int, total: int) -> str:
    """Deterministic output prefix of one job attempt (crash recovery looks for these files)."""
    # ComfyUI lists the target folder on every save: big batches get one folder per 1,000 jobs.
    folder = f"{subfolder}/{idx // 1000 * 1000:06d}" if total > 1000 else subfolder
    name = f"{idx:05d}" if attempt <= 1 else f"{idx:05d}-r{attempt}"
    return f"{folder}/{name}"
