"""The dispatcher's feed: prompts of jobs already claimed (committed as queued by this owner) go into ComfyUI's queue."""

from __future__ import annotations

import logging
from typing import Any

from . import outcomes
from .flights import InFlight, job_prefix
from .host import HostValidationError
from .models import JobError, JobStatus
from .store import DispatchItem, JobUpdate
from .templates import materialise

log = logging.getLogger("batchgen.dispatcher")


class FeedMixin:
    """Mixed into Dispatcher (which provides store, host, owner, in_flight and the batch metadata cache)."""

    async def _feed(self: Any, claimed: list[DispatchItem], now: float) -> None:
        """Build and enqueue the prompts of jobs already committed as queued (by us)."""
        failed: list[JobUpdate] = []
        for item in claimed:
            assert item.prompt_id is not None
            meta = await self._batch_meta(item.batch_id)
            if meta is None or item.batch_id in self._stopped:
                failed.append(self._claim_update(item, outcomes.cancelled(now)))
                continue
            self._flags[item.batch_id] = (False, False)  # the claim proves it was neither paused nor cancelled
            prefix = job_prefix(meta.subfolder, item.idx, item.attempts, meta.total)
            prompt = materialise(meta.template, item.params, prefix)
            try:
                outputs = await self.host.prepare(prompt, meta.template.shape_key(item.params, meta.digest))
            except HostValidationError as exc:
                error = JobError("validation", exc.error.get("message", "prompt failed validation"))
                failed.append(self._claim_update(item, outcomes.Decision(JobStatus.FAILED, {"error_json": error, "finished_at": now})))
                continue
            # ComfyUI's savers write extra_pnginfo into each PNG; BatchGen Save Image also names and labels its files from it.
            extra = {"extra_pnginfo": {"batchgen": {"batch_id": item.batch_id, "job_id": item.job_id, "idx": item.idx,
                                                    "params": item.params}}}
            # The row is committed as queued by us: memory may follow before the prompt is in ComfyUI's queue.
            self.in_flight[item.prompt_id] = InFlight(item.job_id, item.batch_id, item.idx, item.attempts, JobStatus.QUEUED, prefix,
                                                      requeues=item.requeues)
            try:
                self.host.enqueue(item.prompt_id, prompt, outputs, f"batchgen-{item.batch_id}", extra)
            except Exception:
                # Left recorded as queued: the next pass sees it missing and requeues it (attempt not counted).
                log.exception("[batchgen] could not put job %s into ComfyUI's queue", item.job_id)
            self.jobs_fed += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, len(self.in_flight))
        if failed:
            applied = await self.store.apply(failed)
            if applied.skipped:
                self._needs_resync = True
            self.wake()

    def _claim_update(self: Any, item: DispatchItem, decision: outcomes.Decision) -> JobUpdate:
        return JobUpdate(item.job_id, (JobStatus.QUEUED,), decision.status, decision.fields, prompt_id=item.prompt_id,
                         owner_id=self.owner.owner_id)
