"""The dispatcher: trickle-feeds pending jobs into the host's native queue and records outcomes.

Only a small window of our jobs is ever in ComfyUI's queue (the backlog stays in SQLite), so
ComfyUI's queue panel stays light while the worker never idles between our jobs. Every state
change is committed before it is acted on, and memory follows the store, never the reverse:

* a job is claimed (``queued``, with its prompt id and this process as owner) before it is put
  in the native queue, so a crash at any moment leaves a row that recovery can resolve;
* every outcome is a compare-and-set on (status, prompt id, owner): a stale outcome, or one for
  a job another process adopted, is refused, and the prompt is dropped without a write;
* ``in_flight`` changes only after the commit; after any failed step it is rebuilt from the
  store (the in-flight rows this owner holds).

Several processes may share one database: see batchgen/leases.py and docs/multi-gpu.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import outcomes
from .config import Config
from .control_flags import FlagsMixin
from .events import EventPublisher, batch_event, job_event
from .feeding import FeedMixin
from .flights import BatchMeta, InFlight, job_prefix
from .host import Host, PromptState
from .leases import OwnerIdentity, new_owner
from .models import JobStatus
from .ownership import OwnershipMixin
from .pacing import Pacing
from .store import JobUpdate, Store, StoreBusy
from .templates import Template, output_prefixes
from .watchdog import WatchdogMixin

__all__ = ["BatchMeta", "Dispatcher", "InFlight", "batch_event", "job_event", "job_prefix"]

log = logging.getLogger("batchgen.dispatcher")

IN_FLIGHT = (JobStatus.QUEUED, JobStatus.RUNNING)
# Seconds a job must run before "running" is written (see _observe).
RUNNING_WRITE_DELAY = 0.1
# Seconds between two relays of events other processes logged (our own go out at commit).
EVENT_POLL_INTERVAL = 0.25
# While the window has room, look this often for work (a batch posted to another process wakes only that one).
IDLE_POLL_SECONDS = 0.2
# How often a step looks at the feed-window setting another process may have changed (docs: "within about a second").
WINDOW_CHECK_SECONDS = 0.5

# (prompt id, update, counter to bump once committed, whether ComfyUI finished it)
Observed = tuple[str, JobUpdate, str | None, bool]


class Dispatcher(OwnershipMixin, WatchdogMixin, FlagsMixin, FeedMixin):
    """Feeds the native queue from the store and resolves outcomes, on the server loop."""

    def __init__(self, store: Store, host: Host, config: Config, owner: OwnerIdentity | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.host = host
        self.config = config
        self.clock = clock
        self.owner = owner or new_owner(clock)
        self.publisher = EventPublisher(host)
        store.subscribe(self.publisher.publish)  # the one sender of job and batch events
        store.log_state.retention = config.event_retention
        self.in_flight: dict[str, InFlight] = {}
        self._cancelling: set[str] = set()
        self._withdrawn: set[str] = set()  # interrupted prompts no longer ours, maybe still in ComfyUI's queue
        self._timer: asyncio.TimerHandle | None = None
        self._meta: dict[str, BatchMeta] = {}
        self._flags: dict[str, tuple[bool, bool]] = {}  # batch -> (paused, cancelled) as last read
        self._stopped: set[str] = set()
        self._lock = asyncio.Lock()  # one step or control action at a time
        self._needs_resync = True
        self._last_lease = self._last_flags = self._last_poll = float("-inf")
        self._idle_since: float | None = None
        self._last_health_check = float("-inf")
        self.host_problem: str | None = None
        self.host_problem_detail: str | None = None
        self._wake = asyncio.Event()
        self._urgent = False  # a wake from us (control, intake, timers), not from ComfyUI's queue: never delayed
        self._last_step = float("-inf")
        self.pacing = Pacing(config.window, config.window_max)
        # (window, deepest) now, from the feed-window setting (batchgen/server_settings.py); None: the config's, fixed.
        self.window_source: Callable[[], tuple[int, int]] | None = None
        self._window_checked = float("-inf")
        self.gathering = False  # inside a pacing pause (tests kill a process right there)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.state = "stopped"
        self.last_error: str | None = None
        self.max_in_flight_seen = 0
        self.jobs_fed = 0
        self.jobs_finished = 0
        self.adopted = 0
        self.recovered: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Register as an owner, adopt jobs whose owner died, hook the host, start the feed loop."""
        async with self._lock:
            try:
                await self._housekeep(self.clock())
            except Exception as exc:  # the loop retries; a locked database must not keep the dispatcher down
                log.warning("[batchgen] could not take over jobs at startup (%s: %s); retrying", type(exc).__name__, exc)
        if self.in_flight:
            log.info("[batchgen] resuming: %d job(s) were in flight when their process stopped", len(self.in_flight))
        self.host.set_listener(self._queue_changed)
        self._stopping = False
        self.state = "running"
        self._task = asyncio.create_task(self._run(), name="batchgen-dispatcher")
        self.wake()  # resume the backlog at once, not at the first tick

    async def stop(self, release: bool = True) -> None:
        """Stop the feed loop (jobs in flight stay recorded); release the lease unless told not to (a simulated kill)."""
        self._stopping = True
        self.wake()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if release and self.store.ready:
            try:
                await self.store.release_owner(self.owner.owner_id)
            except Exception:  # the lease then simply expires
                log.warning("[batchgen] could not release the job lease at shutdown")
        self.state = "stopped"

    def wake(self) -> None:
        """Ask the loop to reconcile and feed soon (safe to call often)."""
        self._urgent = True
        self._wake.set()

    def _queue_changed(self) -> None:
        """ComfyUI's queue changed (a put, a start, a finish): step soon, paced while jobs are trivial."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self.follow_window()  # before the room test: a wider window must not wait a whole tick
            room = len(self.in_flight) < self.pacing.depth
            timeout = min(self.config.tick_seconds, IDLE_POLL_SECONDS) if room else self.config.tick_seconds
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except asyncio.TimeoutError:
                pass
            spacing = self.pacing.spacing
            if spacing and not self._urgent:
                # Trivial jobs: let more of them finish first, so one transaction commits them all (the worker
                # runs the prompts already queued meanwhile; nothing is reported before the commit).
                delay = self._last_step + spacing - time.monotonic()
                if delay > 0:
                    self.gathering = True
                    try:
                        await asyncio.sleep(delay)
                    finally:
                        self.gathering = False
            self._wake.clear()
            self._urgent = False
            self._last_step = time.monotonic()
            try:
                await self.step()
                await self._relay_events()
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

    async def _relay_events(self) -> None:
        """Log throttled batch changes that are due; relay what other processes logged."""
        await self.store.flush_events()
        now = time.monotonic()
        if now - self._last_poll >= EVENT_POLL_INTERVAL:
            self._last_poll = now
            await self.store.poll_events()

    async def step(self) -> None:
        """One pass: observe our prompts, commit their changes and claim new jobs in one transaction, then feed.

        Any failure marks memory for a rebuild from the store at the next pass.
        """
        async with self._lock:
            try:
                await self._step()
            except BaseException:
                self._needs_resync = True
                raise

    async def _step(self) -> None:
        self.follow_window()
        now = self.clock()
        if self._needs_resync or now - self._last_lease >= self.config.lease_seconds / 3:
            await self._housekeep(now)
        if self.in_flight and now - self._last_flags >= self.FLAG_CHECK_INTERVAL:
            await self._check_flags(now)
        observed = await self._observe(now)
        # Prompts whose outcome this transaction commits free their slot in the same transaction, so the
        # next job is claimed with it (one write per trivial job, not two). A refused one (taken over) is
        # finished or gone from ComfyUI's queue already; a refused "running" write interrupts its prompt,
        # which keeps its place in the window until it has left the queue (_withdrawn).
        leaving = sum(1 for _, update, _, _ in observed if not update.status.in_flight)
        # Feed nothing while ComfyUI's worker is dead or stalled: new prompts would only pile up.
        need = 0 if self._check_host(now) else self.pacing.depth - len(self.in_flight) - self._still_withdrawing() + leaving
        if not observed and (need <= 0 or not await self.store.has_due_work(now)):
            return  # nothing to write: no write transaction (they are serialised between processes)
        applied, claimed = await self.store.advance([o[1] for o in observed], need, now, self.owner.owner_id)
        self._settle(observed, applied)
        if claimed:
            await self._feed(claimed, now)
        elif applied.jobs:
            self.wake()
        # Idle only when the window drained and nothing was claimed to refill it: trivial jobs often all finish
        # before a step runs, and resetting then would restart the measurement of every window (pacing never grows).
        if not self.in_flight:
            self.pacing.idle()

    def _wake_at(self, when: float) -> None:
        """Wake the loop at ``when`` (clock time): one timer at most, not one per started job (200 a second when they are trivial)."""
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, when - self.clock())
        timer = self._timer
        if timer is not None and not timer.cancelled() and loop.time() <= timer.when() <= at:
            return  # an earlier wake-up is due anyway; that step schedules the next one
        if timer is not None:
            timer.cancel()
        self._timer = loop.call_at(at, self.wake)

    def _still_withdrawing(self) -> int:
        """How many interrupted prompts that are no longer ours are still in ComfyUI's queue."""
        if self._withdrawn:
            gone = [pid for pid, found in self.host.lookup(list(self._withdrawn)).items()
                    if found.state in (PromptState.DONE, PromptState.UNKNOWN)]
            self._withdrawn.difference_update(gone)
        return len(self._withdrawn)

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
            self._flags.setdefault(batch_id, (batch.paused, batch.cancelled))
        return meta

    def forget(self, batch_id: str) -> None:
        """Drop cached metadata and flags (after the batch's settings changed or a retry)."""
        self._meta.pop(batch_id, None)
        self._flags.pop(batch_id, None)
        self._stopped.discard(batch_id)

    def _policy(self, meta: BatchMeta | None) -> outcomes.Policy:
        return outcomes.Policy(meta.max_attempts if meta else self.config.default_max_attempts,
                               self.config.retry_backoff_seconds, self.config.retry_backoff_max_seconds)

    def _batch_cancelled(self, batch_id: str) -> bool:
        return batch_id in self._stopped or self._flags.get(batch_id, (False, False))[1]

    def cas(self, flight: InFlight, pid: str, decision: outcomes.Decision) -> JobUpdate:
        """The compare-and-set update of one decision about this attempt of ours."""
        return JobUpdate(flight.job_id, IN_FLIGHT, decision.status, decision.fields, prompt_id=pid, owner_id=self.owner.owner_id)

    # -- observe ---------------------------------------------------------------------------

    async def _observe(self, now: float) -> list[Observed]:
        """Updates implied by what the host reports about our in-flight prompts (memory is not changed here)."""
        if not self.in_flight:
            return []
        observed: list[Observed] = []
        started: list[tuple[str, InFlight]] = []
        for pid, found in self.host.lookup(list(self.in_flight)).items():
            flight = self.in_flight.get(pid)
            if flight is None:
                continue
            if found.state is PromptState.RUNNING and flight.status is JobStatus.QUEUED:
                if flight.running_since is None:
                    flight.running_since = now
                started.append((pid, flight))
            elif found.state is PromptState.DONE and found.outcome is not None:
                meta = await self._batch_meta(flight.batch_id)
                decision = outcomes.finished(flight.attempt_info(), found.outcome, now, self._policy(meta),
                                             cancelling=pid in self._cancelling, batch_cancelled=self._batch_cancelled(flight.batch_id))
                observed.append((pid, self.cas(flight, pid, decision), decision.counter, True))
            elif found.state is PromptState.UNKNOWN:
                decision = await self._vanished(flight, now)
                observed.append((pid, self.cas(flight, pid, decision), decision.counter, False))
        for pid, flight in started:
            # "running" is written only once the job has run a little while: a trivial job goes from
            # queued straight to its outcome, which saves five statements (and their GIL hand-offs to
            # ComfyUI's busy worker thread) per job. Recovery never relies on it (an attempt not seen
            # running in memory is not counted either way).
            assert flight.running_since is not None
            if now - flight.running_since >= RUNNING_WRITE_DELAY:
                update = JobUpdate(flight.job_id, (JobStatus.QUEUED,), JobStatus.RUNNING, {"started_at": flight.running_since},
                                   prompt_id=pid, owner_id=self.owner.owner_id)
                observed.append((pid, update, None, False))
            else:
                self._wake_at(flight.running_since + RUNNING_WRITE_DELAY)
        return observed

    async def _vanished(self, flight: InFlight, now: float) -> outcomes.Decision:
        """Our prompt is in neither queue nor history: ComfyUI restarted, someone cleared it, or its owner died."""
        meta = await self._batch_meta(flight.batch_id)
        files = None
        if meta is not None:
            prefixes = output_prefixes(meta.template, flight.prefix)
            files = self.host.find_outputs(prefixes) if prefixes else None
            if not files and prefixes and self.host.remove_incomplete(prefixes):
                log.info("[batchgen] removed truncated output files of job %s (attempt %d)", flight.job_id, flight.attempt)
        return outcomes.vanished(flight.attempt_info(), files, now, self._policy(meta),
                                 batch_cancelled=self._batch_cancelled(flight.batch_id))

    def _settle(self, observed: Iterable[Observed], applied: Any) -> None:
        """(After the commit.) Bring memory in line with what was committed; drop what the store refused."""
        committed = {job.id: job for job, _ in applied.jobs}
        released: list[str] = []
        for pid, update, counter, finished in observed:
            flight = self.in_flight.get(pid)
            if flight is None:
                continue
            job = committed.get(update.job_id)
            if job is None:
                # Compare-and-set refused: this attempt is no longer ours (another process adopted it).
                log.warning("[batchgen] job %s was taken over by another process; dropping its prompt", flight.job_id)
                self.in_flight.pop(pid)
                self._withdraw(pid)
                continue
            if job.status.in_flight and job.prompt_id == pid:
                flight.status = job.status
                continue
            self.in_flight.pop(pid)
            self._cancelling.discard(pid)
            self.jobs_finished += finished
            if counter:
                self.recovered[counter] = self.recovered.get(counter, 0) + 1
            released.append(pid)
        self.pacing.finished(time.monotonic(), len(released))
        self._release(released)

    def _release(self, prompt_ids: list[str]) -> None:
        """Let the host forget prompts whose outcomes are committed (ComfyUI's history)."""
        release = getattr(self.host, "release", None)  # the adapter gains release() in the host split
        if prompt_ids and release is not None:
            try:
                release(prompt_ids)
            except Exception:
                log.exception("[batchgen] could not trim ComfyUI's history")

    def follow_window(self, force: bool = False) -> None:
        """Take the feed window in effect now (a setting changed here or in another process sharing the store).

        Looked at most every WINDOW_CHECK_SECONDS unless ``force``: it is called on every step, and each look stats the
        settings file on the event loop (a change made through this process forces it at once).
        """
        if self.window_source is None:
            return
        now = time.monotonic()
        if not force and now - self._window_checked < WINDOW_CHECK_SECONDS:
            return
        self._window_checked = now
        try:
            window, window_max = self.window_source()
        except Exception:  # a broken settings file keeps the window we had
            log.exception("[batchgen] could not read the feed window setting")
            return
        if (window, max(window, window_max)) != (self.pacing.window, self.pacing.window_max):
            log.info("[batchgen] feed window now %d (up to %d)", window, max(window, window_max))
            self.pacing.resize(window, window_max)

    def status(self) -> dict[str, Any]:
        """Dispatcher state for /health."""
        self.follow_window(force=True)
        return {
            "state": self.state,
            "host_problem": self.host_problem,
            "last_error": self.last_error,
            "window": self.pacing.window,
            "window_now": self.pacing.depth,
            "in_flight": len(self.in_flight),
            "max_in_flight_seen": self.max_in_flight_seen,
            "jobs_fed": self.jobs_fed,
            "jobs_finished": self.jobs_finished,
            "recovered": dict(self.recovered),
            "adopted": self.adopted,
            "owner": self.owner.label,
            "owner_id": self.owner.owner_id,
            "lease_seconds": self.config.lease_seconds,
        }
