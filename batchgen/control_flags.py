"""Pause and cancel reaching the dispatcher: from this process at once, from any other through the store.

A batch's ``paused``/``cancelled`` flags live in the store; every dispatcher reads the flags of
the batches it has in flight (one small read, at most every FLAG_CHECK_INTERVAL) and pulls back
or interrupts its own prompts, so a pause or cancel sent to any process reaches every process.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import outcomes
from .models import JobStatus

if TYPE_CHECKING:
    from .dispatcher import Observed

log = logging.getLogger("batchgen.dispatcher")


class FlagsMixin:
    """Control of in-flight prompts; mixed into Dispatcher (which provides the attributes used here)."""

    # Seconds between two reads of the flags of our in-flight batches (a pause sent to another process).
    FLAG_CHECK_INTERVAL = 0.25

    in_flight: dict[str, Any]
    _flags: dict[str, tuple[bool, bool]]
    _stopped: set[str]
    _cancelling: set[str]

    async def cancel_batch(self: Any, batch_id: str) -> None:
        """Flag the batch cancelled (durably), cancel its pending jobs, pull ours out of the queue, interrupt ours if running."""
        self._stopped.add(batch_id)
        await self.store.cancel_pending(batch_id)
        async with self._lock:
            self._flags[batch_id] = (self._flags.get(batch_id, (False, True))[0], True)
            await self._guarded(self._stop_batch(batch_id, True, self.clock()))

    async def pull_back(self: Any, batch_id: str) -> int:
        """Take a batch's not-yet-running prompts out of the native queue, back to pending (pause)."""
        async with self._lock:
            return await self._guarded(self._stop_batch(batch_id, False, self.clock()))

    async def _guarded(self: Any, action: Any) -> Any:
        try:
            return await action
        except BaseException:
            self._needs_resync = True
            raise

    async def _check_flags(self: Any, now: float) -> None:
        """Act on pause/cancel flags set by any process for the batches we have in flight."""
        batch_ids = sorted({f.batch_id for f in self.in_flight.values()})
        flags = await self.store.batch_flags(batch_ids)
        self._last_flags = now
        for batch_id in batch_ids:
            paused, cancelled = flags.get(batch_id, (False, True))
            self._flags[batch_id] = (paused, cancelled)
            if cancelled or paused:
                await self._stop_batch(batch_id, cancelled, now)

    async def _stop_batch(self: Any, batch_id: str, cancel: bool, now: float) -> int:
        """Pull back our queued prompts of the batch (cancelled or back to pending); on cancel, interrupt the running one."""
        ours = [pid for pid, f in self.in_flight.items() if f.batch_id == batch_id and (cancel or f.status is JobStatus.QUEUED)]
        if not ours:
            return 0
        removed = self.host.remove_pending(ours)
        observed: list[Observed] = []
        for pid in removed:
            flight = self.in_flight[pid]
            decision = outcomes.cancelled(now) if cancel else outcomes.pulled_back(flight.attempt_info())
            observed.append((pid, self.cas(flight, pid, decision), None, False))
        if cancel:
            for pid in ours:
                if pid not in removed and pid not in self._cancelling:
                    self._cancelling.add(pid)
                    self.host.interrupt(pid)
        if observed:
            applied = await self.store.apply([o[1] for o in observed])
            self._settle(observed, applied)
            if not self.in_flight:
                self.pacing.idle()  # pulled back or cancelled: the wait until the next outcome is not a job's duration
            self.wake()
        return len(removed)
