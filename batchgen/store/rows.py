"""Records passed to and from the store, and the mapping of rows to domain objects."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ..models import Batch, BatchStatus, Job, JobCounts, JobError, JobStatus, OutputFile

BATCH_COLUMNS = (
    "id, seq, name, status, priority, template_id, output_subfolder, total, n_pending, n_queued, n_running, "
    "n_succeeded, n_failed, n_cancelled, paused, cancelled, max_attempts, created_at, started_at, finished_at, "
    "updated_at, options_json"
)
JOB_COLUMNS = (
    "id, batch_id, idx, status, params_json, seed, attempts, prompt_id, created_at, queued_at, started_at, "
    "finished_at, outputs_json, error_json, requeues, owner_id, coords_json, cached"
)
IN_FLIGHT_SQL = "('queued', 'running')"


@dataclass(slots=True)
class NewBatch:
    """Everything needed to insert a batch."""

    id: str
    name: str
    template_id: str | None
    template: dict[str, Any]
    output_subfolder: str
    priority: int = 0
    max_attempts: int = 3
    options: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    request_hash: str | None = None
    request: dict[str, Any] | None = None  # the request body as parsed, for re-running the batch


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """One job status change: a compare-and-set on the job's status and, when given, its attempt and owner.

    Applied only if the job is still in one of ``expect``, its prompt id is ``prompt_id``
    (when not None: the attempt the outcome belongs to) and its owner is ``owner_id`` (when not
    None): a stale outcome never lands on a newer attempt or on a job another process adopted.
    """

    job_id: int
    expect: tuple[JobStatus, ...]
    status: JobStatus
    fields: dict[str, Any] = field(default_factory=dict)
    prompt_id: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """What a store write changed: jobs with their previous status, the touched batches, the skipped updates."""

    jobs: list[tuple[Job, JobStatus]]
    batches: list[Batch]
    skipped: list[JobUpdate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DispatchItem:
    """A pending job chosen to be fed, with what is needed to build its prompt."""

    job_id: int
    batch_id: str
    idx: int
    params: dict[str, Any]
    attempts: int
    prompt_id: str | None = None
    requeues: int = 0


def seed_out(value: Any) -> int | None:
    """A stored seed as an int (big seeds are stored as text)."""
    return None if value is None else int(value)


def seed_in(value: int | None) -> Any:
    """A seed as stored: seeds may exceed SQLite's signed 64-bit range (ComfyUI allows up to 2**64-1)."""
    if value is None:
        return None
    return value if -(2**63) <= value < 2**63 else str(value)


def row_to_batch(row: sqlite3.Row) -> Batch:
    """A batches row as a Batch."""
    counts = JobCounts(row["n_pending"], row["n_queued"], row["n_running"], row["n_succeeded"], row["n_failed"], row["n_cancelled"])
    return Batch(
        id=row["id"], name=row["name"], status=BatchStatus(row["status"]), template_id=row["template_id"], total=row["total"],
        counts=counts, priority=row["priority"], created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], updated_at=row["updated_at"], output_subfolder=row["output_subfolder"],
        paused=bool(row["paused"]), cancelled=bool(row["cancelled"]), max_attempts=row["max_attempts"],
    )


def row_to_job(row: sqlite3.Row) -> Job:
    """A jobs row as a Job."""
    outputs = [OutputFile(**o) for o in json.loads(row["outputs_json"])] if row["outputs_json"] else []
    error = JobError(**json.loads(row["error_json"])) if row["error_json"] else None
    return Job(
        id=row["id"], batch_id=row["batch_id"], idx=row["idx"], status=JobStatus(row["status"]), params=json.loads(row["params_json"]),
        seed=seed_out(row["seed"]), attempts=row["attempts"], requeues=row["requeues"], prompt_id=row["prompt_id"],
        created_at=row["created_at"], queued_at=row["queued_at"], started_at=row["started_at"], finished_at=row["finished_at"],
        outputs=outputs, error=error, owner_id=row["owner_id"], coords=json.loads(row["coords_json"]) if row["coords_json"] else {},
        cached=None if row["cached"] is None else bool(row["cached"]),
    )


def encode(key: str, value: Any) -> Any:
    """A field value as stored (outputs and errors as JSON, statuses as text)."""
    if key == "outputs_json" and not isinstance(value, (str, type(None))):
        return json.dumps([o.as_dict() for o in value], ensure_ascii=False)
    if key == "error_json" and not isinstance(value, (str, type(None))):
        return json.dumps(value.as_dict(), ensure_ascii=False)
    if isinstance(value, JobStatus):
        return value.value
    return value
