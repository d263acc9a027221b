"""Typed records and statuses of batches and jobs.

Job lifecycle (one row per job, never duplicated)::

    pending ──feed──▶ queued ──worker picks it──▶ running ──▶ succeeded
       ▲                │                            │   └──▶ failed     (node error, validation)
       │                │                            └─────▶ cancelled  (we cancelled it)
       └── retry ───────┴── vanished / interrupted by someone else / crash (transient) ──┘

    pending ──cancel──▶ cancelled          failed|cancelled ──POST …/retry──▶ pending

``pending`` jobs live only in our SQLite backlog; ``queued`` and ``running`` jobs are in
ComfyUI's native queue (at most the dispatcher window of them at a time).

Batch status is derived from its job counts so partial failure shows at a glance:
``pending`` (nothing fed yet), ``running``, ``paused``, then one terminal status:
``succeeded`` (every job), ``partial`` (some succeeded, some failed/cancelled),
``failed`` (none succeeded), ``cancelled`` (cancelled by a user before finishing).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class JobStatus(str, enum.Enum):
    """Where one job is in its life."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once the job will not change without an explicit retry."""
        return self in TERMINAL_JOB_STATUSES

    @property
    def in_flight(self) -> bool:
        """True while the job sits in ComfyUI's native queue."""
        return self in (JobStatus.QUEUED, JobStatus.RUNNING)


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class BatchStatus(str, enum.Enum):
    """A batch's overall state, derived from its job counts and flags."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True when every job of the batch is terminal."""
        return self in (BatchStatus.SUCCEEDED, BatchStatus.PARTIAL, BatchStatus.FAILED, BatchStatus.CANCELLED)


class SeedPolicy(str, enum.Enum):
    """How a job's seed is chosen when the job does not give one."""

    FIXED = "fixed"
    INCREMENT = "increment"
    RANDOM = "random"


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Number of a batch's jobs in each status."""

    pending: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """All jobs."""
        return self.pending + self.queued + self.running + self.succeeded + self.failed + self.cancelled

    @property
    def done(self) -> int:
        """Jobs in a terminal status."""
        return self.succeeded + self.failed + self.cancelled

    def as_dict(self) -> dict[str, int]:
        """Counts keyed by status name."""
        return {s.value: getattr(self, s.value) for s in JobStatus}


def derive_batch_status(counts: JobCounts, *, paused: bool, cancelled: bool) -> BatchStatus:
    """The batch status implied by its counts and its paused/cancelled flags."""
    if counts.done < counts.total:
        if paused:
            return BatchStatus.PAUSED
        if counts.pending == counts.total:
            return BatchStatus.PENDING
        return BatchStatus.RUNNING
    if cancelled and counts.succeeded < counts.total:
        return BatchStatus.CANCELLED
    if counts.succeeded == counts.total:
        return BatchStatus.SUCCEEDED
    if counts.succeeded == 0:
        return BatchStatus.FAILED
    return BatchStatus.PARTIAL


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file a job produced, as ComfyUI's /view addresses it."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    kind: str = "images"

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {
            "node_id": self.node_id,
            "filename": self.filename,
            "subfolder": self.subfolder,
            "type": self.type,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a job failed: the node, the exception type and its message."""

    kind: str
    message: str
    node_id: str | None = None
    node_type: str | None = None
    exception_type: str | None = None
    transient: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind,
            "message": self.message,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "exception_type": self.exception_type,
            "transient": self.transient,
        }


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What ComfyUI reported for one finished prompt."""

    status: JobStatus
    outputs: tuple[OutputFile, ...] = ()
    error: JobError | None = None
    started_at: float | None = None
    finished_at: float | None = None
    # Node ids ComfyUI served from its cache (its execution_cached message); None when it reported none at all.
    cached_nodes: tuple[str, ...] | None = None

    def outputs_cached(self) -> bool | None:
        """True when every node that produced an output was served from ComfyUI's cache (the files are an earlier run's)."""
        if self.cached_nodes is None or not self.outputs:
            return None
        cached = set(self.cached_nodes)
        return all(o.node_id in cached for o in self.outputs)


@dataclass(slots=True)
class Job:
    """One job row."""

    id: int
    batch_id: str
    idx: int
    status: JobStatus
    params: dict[str, Any]
    seed: int | None
    attempts: int = 0
    prompt_id: str | None = None
    created_at: float = 0.0
    requeues: int = 0
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    outputs: list[OutputFile] = field(default_factory=list)
    error: JobError | None = None
    # The dispatcher process (owner id) that last claimed it; see batchgen/leases.py.
    owner_id: str | None = None
    # Where it came from: {"source": "table", "row": 17}, {"axes": {...}}, {"wildcard": k} (batchgen/sources.py).
    coords: dict[str, Any] = field(default_factory=dict)
    # Whether ComfyUI served the job's outputs from its cache (JobOutcome.outputs_cached); None: not known.
    cached: bool | None = None


@dataclass(slots=True)
class Batch:
    """One batch row with its live counts."""

    id: str
    name: str
    status: BatchStatus
    template_id: str | None
    total: int
    counts: JobCounts
    priority: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    output_subfolder: str = ""
    paused: bool = False
    cancelled: bool = False
    max_attempts: int = 3
