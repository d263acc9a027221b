"""The dispatcher: trickle-feeds pending jobs into the host's native queue and records outcomes.

Only a small window of our jobs is ever in ComfyUI's queue (the backlog stays in SQLite),
so ComfyUI's queue panel stays light while the worker never idles between our jobs. Every
state change is committed before it is acted on: a job is marked ``queued`` (with its
prompt id) before it is put in the native queue, so a crash at any moment leaves a row
that recovery can resolve.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ids
from .config import Config
from .host import Host, HostValidationError, PromptState
from .models import Batch, Job, JobError, JobOutcome, JobStatus
from .store import Applied, DispatchItem, JobUpdate, Store, StoreBusy
from .templates import Template, materialise, output_prefixes

log = logging.getLogger("batchgen.dispatcher")

_IN_FLIGHT = (JobStatus.QUEUED, JobStatus.RUNNING)
# Seconds a job must run before "running" is written (see _observe).
RUNNING_WRITE_DELAY = 0.1
# Seconds between two watchdog looks at ComfyUI's worker.
HEALTH_CHECK_INTERVAL = 0.5
# A job that vanishes this often without being seen running is failed (poison pill).
MAX_REQUEUES = 10


@dataclass(slots=True)
class InFlight:
    """One of our prompts currently in the host's native queue."""

    job_id: int
    batch_id: str
    idx: int
    attempt: int
    status: JobStatus
    prefix: str
    running_since: float | None = None
    requeues: int = 0


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


def job_event(job: Job, previous: JobStatus | None = None) -> dict[str, Any]:
    """The payload of a ``batchgen.job`` event."""
    return {
        "id": job.id,
        "batch_id": job.batch_id,
        "idx": job.idx,
        "status": job.status.value,
        "previous_status": previous.value if previous else None,
        "attempts": job.attempts,
        "prompt_id": job.prompt_id,
        "seed": job.seed,
        "outputs": [o.as_dict() for o in job.outputs],
        "error": job.error.as_dict() if job.error else None,
    }


def batch_event(batch: Batch) -> dict[str, Any]:
    """The payload of a ``batchgen.batch`` event."""
    return {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status.value,
        "total": batch.total,
        "counts": batch.counts.as_dict(),
        "priority": batch.priority,
        "paused": batch.paused,
        "updated_at": batch.updated_at,
    }


class Dispatcher:
    """Feeds the native queue from the store and resolves outcomes, on the server loop."""

    def __init__(self, store: Store, host: Host, config: Config, boot_id: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.host = host
        self.config = config
        self.boot_id = boot_id or uuid.uuid4().hex
        self.clock = clock
        self.in_flight: dict[str, InFlight] = {}
        self._cancelling: set[str] = set()
        self._meta: dict[str, BatchMeta] = {}
        self._batch_sent: dict[str, tuple[str | None, float]] = {}
        self._stopped: set[str] = set()
        self._idle_since: float | None = None
        self._last_health_check = float("-inf")
        self.host_problem: str | None = None
        self.host_problem_detail: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.state = "stopped"
        self.last_error: str | None = None
        self.max_in_flight_seen = 0
        self.jobs_fed = 0
        self.jobs_finished = 0
        self.recovered: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt jobs left in flight by an earlier run, hook the host, start the feed loop."""
        for job in await self.store.jobs_by_status(_IN_FLIGHT):
            if job.prompt_id:
                meta = await self._batch_meta(job.batch_id)
                prefix = job_prefix(meta.subfolder, job.idx, job.attempts, meta.total) if meta else ""
                self.in_flight[job.prompt_id] = InFlight(job.id, job.batch_id, job.idx, job.attempts, job.status, prefix,
                                                         requeues=job.requeues)
        if self.in_flight:
            log.info("[batchgen] resuming: %d job(s) were in flight when ComfyUI last stopped", len(self.in_flight))
        self.host.set_listener(self.wake)
        self._stopping = False
        self.state = "running"
        self._task = asyncio.create_task(self._run(), name="batchgen-dispatcher")
        self.wake()  # resume the backlog at once, not at the first tick

    async def stop(self) -> None:
        """Stop the feed loop (jobs in flight stay recorded as such)."""
        self._stopping = True
        self.wake()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self.state = "stopped"

    def wake(self) -> None:
        """Ask the loop to reconcile and feed soon (safe to call often)."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.tick_seconds)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.step()
                new_state = self.host_problem or "running"
                if new_state != self.state:
                    self._announce_state(new_state)
                self.state, self.last_error = new_state, self.host_problem_detail
            except StoreBusy as exc:
                if self.state != "store_unavailable":
                    self._announce_state("store_unavailable", str(exc))
                self.state, self.last_error = "store_unavailable", str(exc)
                log.warning("[batchgen] database busy, feeding paused: %s", exc)
                await asyncio.sleep(self.config.tick_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the loop alive whatever one step hits
                if self.state != "error":
                    self._announce_state("error", f"{type(exc).__name__}: {exc}")
                self.state, self.last_error = "error", f"{type(exc).__name__}: {exc}"
                log.exception("[batchgen] dispatcher step failed")
                await asyncio.sleep(self.config.tick_seconds)

    async def step(self) -> None:
        """One pass: read the host's state of our prompts, commit the changes and claim new jobs in one
        transaction, then put the claimed jobs into ComfyUI's queue."""
        now = self.clock()
        updates = await self._observe(now)
        # Feed nothing while ComfyUI's worker is dead or stalled: new prompts would only pile up.
        need = 0 if self._check_host(now) else self.config.window - len(self.in_flight)
        if not updates and need <= 0:
            return
        applied, claimed = await self.store.advance(updates, need, now, self.boot_id)
        await self._emit(applied)
        if claimed:
            await self._feed(claimed, now)
        elif applied.jobs:
            self.wake()

    # -- watchdog --------------------------------------------------------------------------

    def _check_host(self, now: float) -> str | None:
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

    def _announce_state(self, state: str, detail: str | None = None) -> None:
        detail = detail or self.host_problem_detail
        if state == "running":
            log.info("[batchgen] dispatcher healthy again; feeding resumes")
        else:
            log.warning("[batchgen] dispatcher %s: %s", state, detail)
        self.host.send_event(ids.EVENT_HEALTH, {"state": state, "detail": detail})

    # -- batch metadata --------------------------------------------------------------------

    async def _batch_meta(self, batch_id: str) -> BatchMeta | None:
        meta = self._meta.get(batch_id)
        if meta is None:
            batch = await self.store.get_batch(batch_id)
            snapshot = await self.store.get_batch_template(batch_id)
            if batch is None or snapshot is None:
                return None
            template = Template.from_snapshot(snapshot)
            meta = BatchMeta(template, batch.output_subfolder, batch.total, batch.max_attempts, template.digest())
            self._meta[batch_id] = meta
        return meta

    def forget(self, batch_id: str) -> None:
        """Drop cached metadata and the cancelled mark (after the batch's settings changed or a retry)."""
        self._meta.pop(batch_id, None)
        self._stopped.discard(batch_id)

    # -- observe ---------------------------------------------------------------------------

    async def _observe(self, now: float) -> list[JobUpdate]:
        """Job updates implied by what the host reports about our in-flight prompts."""
        if not self.in_flight:
            return []
        updates: list[JobUpdate] = []
        started: list[InFlight] = []
        for pid, found in self.host.lookup(list(self.in_flight)).items():
            flight = self.in_flight.get(pid)
            if flight is None:
                continue
            if found.state is PromptState.RUNNING and flight.status is JobStatus.QUEUED:
                if flight.running_since is None:
                    flight.running_since = now
                started.append(flight)
            elif found.state is PromptState.DONE and found.outcome is not None:
                updates.append(await self._finished(pid, flight, found.outcome, now))
            elif found.state is PromptState.UNKNOWN:
                updates.append(await self._vanished(pid, flight, now))
        for flight in started:
            # "running" rides along with a transaction we write anyway (usually the previous job's
            # finish); alone, it is written only once the job has run a little while, so trivial
            # jobs cost one write less.
            assert flight.running_since is not None
            if updates or now - flight.running_since >= RUNNING_WRITE_DELAY:
                flight.status = JobStatus.RUNNING
                updates.append(JobUpdate(flight.job_id, (JobStatus.QUEUED,), JobStatus.RUNNING, {"started_at": flight.running_since}))
            else:
                asyncio.get_running_loop().call_later(RUNNING_WRITE_DELAY, self.wake)
        return updates

    async def _finished(self, pid: str, flight: InFlight, outcome: JobOutcome, now: float) -> JobUpdate:
        del self.in_flight[pid]
        self.jobs_finished += 1
        started = outcome.started_at or flight.running_since or now
        finished = outcome.finished_at or now
        if outcome.status is JobStatus.SUCCEEDED:
            return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.SUCCEEDED,
                             {"outputs_json": list(outcome.outputs), "error_json": None, "started_at": started, "finished_at": finished})
        error = outcome.error or JobError("unknown", "ComfyUI reported an error without details")
        if pid in self._cancelling:
            self._cancelling.discard(pid)
            return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.CANCELLED,
                             {"error_json": JobError("cancelled", "cancelled by request"), "finished_at": finished})
        meta = await self._batch_meta(flight.batch_id)
        max_attempts = meta.max_attempts if meta else self.config.default_max_attempts
        if error.transient and flight.attempt < max_attempts:
            return self._retry_later(flight, error, now)
        return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.FAILED,
                         {"error_json": error, "started_at": started, "finished_at": finished})

    async def _vanished(self, pid: str, flight: InFlight, now: float) -> JobUpdate:
        """Our prompt is in neither queue nor history: ComfyUI restarted, or someone cleared it."""
        del self.in_flight[pid]
        meta = await self._batch_meta(flight.batch_id)
        if meta is not None:
            prefixes = output_prefixes(meta.template, flight.prefix)
            files = self.host.find_outputs(prefixes) if prefixes else None
            if files:
                # Its outputs were completely written before it vanished: done, no re-run.
                self.recovered["from_disk"] = self.recovered.get("from_disk", 0) + 1
                return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.SUCCEEDED,
                                 {"outputs_json": files, "error_json": None, "finished_at": now})
            if prefixes and self.host.remove_incomplete(prefixes):
                log.info("[batchgen] removed truncated output files of job %s (attempt %d)", flight.job_id, flight.attempt)
        max_attempts = meta.max_attempts if meta else self.config.default_max_attempts
        error = JobError("vanished", "the prompt left ComfyUI's queue without finishing (restart, crash or queue cleared)",
                         transient=True)
        if flight.status is JobStatus.QUEUED and flight.running_since is None:
            # Not seen running: this attempt does not count. Still, a job that keeps vanishing
            # (it may crash ComfyUI the instant it starts) is stopped after MAX_REQUEUES.
            if flight.requeues + 1 >= MAX_REQUEUES:
                error = JobError("vanished", f"the prompt left ComfyUI's queue {MAX_REQUEUES} times without finishing; "
                                 "it may crash ComfyUI", transient=False)
                return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.FAILED,
                                 {"error_json": error, "finished_at": now, "requeues": flight.requeues + 1})
            self.recovered["requeued"] = self.recovered.get("requeued", 0) + 1
            return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.PENDING, {
                "error_json": error, "prompt_id": None, "not_before": 0, "attempts": max(flight.attempt - 1, 0),
                "requeues": flight.requeues + 1})
        # A crash is not the job's fault: allow two extra attempts before calling it a poison pill.
        if flight.attempt < max_attempts + 2:
            self.recovered["requeued"] = self.recovered.get("requeued", 0) + 1
            return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.PENDING,
                             {"error_json": error, "prompt_id": None, "not_before": 0})
        return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.FAILED, {"error_json": error, "finished_at": now})

    def _retry_later(self, flight: InFlight, error: JobError, now: float) -> JobUpdate:
        delay = min(self.config.retry_backoff_seconds * 2 ** max(flight.attempt - 1, 0), self.config.retry_backoff_max_seconds)
        return JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.PENDING,
                         {"error_json": error, "prompt_id": None, "not_before": now + delay})

    # -- feed ------------------------------------------------------------------------------

    async def _feed(self, claimed: list[DispatchItem], now: float) -> None:
        """Build and enqueue the prompts of jobs already committed as queued."""
        failed: list[JobUpdate] = []
        for item in claimed:
            assert item.prompt_id is not None
            meta = await self._batch_meta(item.batch_id)
            if meta is None or item.batch_id in self._stopped:
                failed.append(JobUpdate(item.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED,
                                        {"error_json": JobError("cancelled", "cancelled by request"), "finished_at": now}))
                continue
            prefix = job_prefix(meta.subfolder, item.idx, item.attempts, meta.total)
            prompt = materialise(meta.template, item.params, prefix)
            try:
                outputs = await self.host.prepare(prompt, meta.template.shape_key(item.params, meta.digest))
            except HostValidationError as exc:
                error = JobError("validation", exc.error.get("message", "prompt failed validation"))
                failed.append(JobUpdate(item.job_id, (JobStatus.QUEUED,), JobStatus.FAILED, {"error_json": error, "finished_at": now}))
                continue
            extra = {"extra_pnginfo": {"batchgen": {"batch_id": item.batch_id, "job_id": item.job_id, "idx": item.idx}}}
            self.in_flight[item.prompt_id] = InFlight(item.job_id, item.batch_id, item.idx, item.attempts, JobStatus.QUEUED, prefix,
                                                      requeues=item.requeues)
            try:
                self.host.enqueue(item.prompt_id, prompt, outputs, f"batchgen-{item.batch_id}", extra)
            except Exception:
                # Left recorded as queued: the next pass sees it missing and requeues it.
                log.exception("[batchgen] could not put job %s into ComfyUI's queue", item.job_id)
            self.jobs_fed += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, len(self.in_flight))
        if failed:
            await self._apply(failed)

    async def _apply(self, updates: list[JobUpdate]) -> None:
        applied = await self.store.apply(updates)
        await self._emit(applied)
        if applied.jobs:
            self.wake()

    async def _emit(self, applied: Applied) -> None:
        for job, old in applied.jobs:
            self.host.send_event(ids.EVENT_JOB, job_event(job, old))
        now = self.clock()
        for batch in applied.batches:
            # Counters change with every job: send a batch event on a status change, else at most 4 per second.
            last_status, last_time = self._batch_sent.get(batch.id, (None, 0.0))
            if batch.status.value != last_status or now - last_time >= 0.25:
                self._batch_sent[batch.id] = (batch.status.value, now)
                self.host.send_event(ids.EVENT_BATCH, batch_event(batch))

    # -- control ---------------------------------------------------------------------------

    async def cancel_batch(self, batch_id: str) -> None:
        """Cancel pending jobs, pull ours out of the native queue, interrupt ours if running."""
        self._stopped.add(batch_id)
        await self.store.cancel_pending(batch_id)
        ours = [pid for pid, f in self.in_flight.items() if f.batch_id == batch_id]
        removed = self.host.remove_pending(ours)
        now = self.clock()
        updates = []
        for pid in removed:
            flight = self.in_flight.pop(pid)
            updates.append(JobUpdate(flight.job_id, _IN_FLIGHT, JobStatus.CANCELLED,
                                     {"error_json": JobError("cancelled", "cancelled by request"), "finished_at": now}))
        for pid in ours:
            if pid not in removed:
                self._cancelling.add(pid)
                self.host.interrupt(pid)
        await self._apply(updates)
        batch = await self.store.get_batch(batch_id)
        if batch is not None:
            self.host.send_event(ids.EVENT_BATCH, batch_event(batch))

    async def pull_back(self, batch_id: str) -> int:
        """Take a batch's not-yet-running prompts out of the native queue, back to pending (pause)."""
        ours = [pid for pid, f in self.in_flight.items() if f.batch_id == batch_id and f.status is JobStatus.QUEUED]
        removed = self.host.remove_pending(ours)
        updates = []
        for pid in removed:
            flight = self.in_flight.pop(pid)
            updates.append(JobUpdate(flight.job_id, (JobStatus.QUEUED,), JobStatus.PENDING,
                                     {"prompt_id": None, "attempts": max(flight.attempt - 1, 0), "queued_at": None}))
        await self._apply(updates)
        return len(removed)

    def status(self) -> dict[str, Any]:
        """Dispatcher state for /health."""
        return {
            "state": self.state,
            "host_problem": self.host_problem,
            "last_error": self.last_error,
            "window": self.config.window,
            "in_flight": len(self.in_flight),
            "max_in_flight_seen": self.max_in_flight_seen,
            "jobs_fed": self.jobs_fed,
            "jobs_finished": self.jobs_finished,
            "recovered": dict(self.recovered),
            "boot_id": self.boot_id,
        }
