"""Outcome decisions of one attempt: pure functions, no store, no host.

Given what is known about an attempt (its number, whether it was seen running, how often it
vanished) and what happened (ComfyUI's outcome, or that it vanished and which complete files
are on disk), decide the job's next status and the fields to write. The dispatcher turns a
decision into a compare-and-set update on (status, prompt_id, owner).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .models import JobError, JobOutcome, JobStatus, OutputFile

# A job that vanishes this often without being seen running is failed (poison pill).
MAX_REQUEUES = 10
# A crash is not the job's fault: this many extra attempts before a running job that keeps vanishing fails.
CRASH_ALLOWANCE = 2

CANCELLED_ERROR = JobError("cancelled", "cancelled by request")
VANISHED_ERROR = JobError("vanished", "the prompt left ComfyUI's queue without finishing (restart, crash or queue cleared)",
                          transient=True)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What is known about one in-flight attempt of a job."""

    attempt: int
    seen_running: bool
    requeues: int = 0
    running_since: float | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Retry limits of the job's batch."""

    max_attempts: int = 3
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    """The job's next status, the fields to write, and what to count once committed."""

    status: JobStatus
    fields: dict[str, Any] = field(default_factory=dict)
    counter: str | None = None


def cancelled(now: float) -> Decision:
    """The job ends cancelled."""
    return Decision(JobStatus.CANCELLED, {"error_json": CANCELLED_ERROR, "finished_at": now})


def retry_delay(attempt: int, policy: Policy) -> float:
    """Exponential backoff before the next attempt."""
    return min(policy.backoff_seconds * 2 ** max(attempt - 1, 0), policy.backoff_max_seconds)


def finished(att: Attempt, outcome: JobOutcome, now: float, policy: Policy, *, cancelling: bool = False,
             batch_cancelled: bool = False) -> Decision:
    """ComfyUI finished the prompt: succeeded, retried later (transient), cancelled or failed."""
    started = outcome.started_at or att.running_since or now
    ended = outcome.finished_at or now
    if outcome.status is JobStatus.SUCCEEDED:
        return Decision(JobStatus.SUCCEEDED, {"outputs_json": list(outcome.outputs), "error_json": None,
                                              "started_at": started, "finished_at": ended, "cached": outcome.outputs_cached()})
    if cancelling or batch_cancelled:
        return cancelled(ended)
    error = outcome.error or JobError("unknown", "ComfyUI reported an error without details")
    if error.transient and att.attempt < policy.max_attempts:
        return Decision(JobStatus.PENDING, {"error_json": error, "prompt_id": None, "not_before": now + retry_delay(att.attempt, policy)})
    return Decision(JobStatus.FAILED, {"error_json": error, "started_at": started, "finished_at": ended})


def vanished(att: Attempt, files: Sequence[OutputFile] | None, now: float, policy: Policy, *,
             batch_cancelled: bool = False) -> Decision:
    """The prompt is in neither queue nor history (restart, crash, queue cleared, owner died)."""
    if files:
        # Its outputs were completely written before it vanished: done, no re-run.
        return Decision(JobStatus.SUCCEEDED, {"outputs_json": list(files), "error_json": None, "finished_at": now}, "from_disk")
    if batch_cancelled:
        return cancelled(now)
    if not att.seen_running:
        # Not seen running: this attempt does not count. Still, a job that keeps vanishing
        # (it may crash ComfyUI the instant it starts) is stopped after MAX_REQUEUES.
        if att.requeues + 1 >= MAX_REQUEUES:
            error = JobError("vanished", f"the prompt left ComfyUI's queue {MAX_REQUEUES} times without finishing; "
                             "it may crash ComfyUI", transient=False)
            return Decision(JobStatus.FAILED, {"error_json": error, "finished_at": now, "requeues": att.requeues + 1})
        return Decision(JobStatus.PENDING, {"error_json": VANISHED_ERROR, "prompt_id": None, "not_before": 0,
                                            "attempts": max(att.attempt - 1, 0), "requeues": att.requeues + 1}, "requeued")
    if att.attempt < policy.max_attempts + CRASH_ALLOWANCE:
        return Decision(JobStatus.PENDING, {"error_json": VANISHED_ERROR, "prompt_id": None, "not_before": 0}, "requeued")
    return Decision(JobStatus.FAILED, {"error_json": VANISHED_ERROR, "finished_at": now})


def pulled_back(att: Attempt) -> Decision:
    """Taken out of ComfyUI's queue before it started (pause): back to pending, the attempt not counted."""
    return Decision(JobStatus.PENDING, {"prompt_id": None, "attempts": max(att.attempt - 1, 0), "queued_at": None})
