"""Control: read, cancel, pause, resume, reprioritise, retry and delete batches and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api_models import PriorityRequest
from .api_parse import parse_request
from .errors import conflict, not_found
from .models import Batch, Job, JobStatus

if TYPE_CHECKING:
    pass


class ControlMixin:
    """Queries and state changes of existing batches; mixed into BatchService."""

    async def get_batch(self, batch_id: str) -> Batch:
        """A batch or 404."""
        batch = await self.store.get_batch(batch_id)
        if batch is None:
            raise not_found("batch_not_found", f"no batch with id {batch_id!r}", batch_id=batch_id)
        return batch

    async def get_job(self, job_id: str) -> Job:
        """A job or 404."""
        try:
            number = int(job_id)
        except ValueError:
            raise not_found("job_not_found", f"no job with id {job_id!r}") from None
        if not 0 < number < 2**63:
            raise not_found("job_not_found", f"no job with id {job_id!r}")
        job = await self.store.get_job(number)
        if job is None:
            raise not_found("job_not_found", f"no job with id {job_id!r}")
        return job

    async def cancel_batch(self, batch_id: str) -> Batch:
        """Cancel what has not finished."""
        await self._active_batch(batch_id)
        await self.dispatcher.cancel_batch(batch_id)
        return await self.get_batch(batch_id)

    async def pause_batch(self, batch_id: str) -> Batch:
        """Stop feeding a batch; its running job finishes, its queued ones go back to pending."""
        await self._active_batch(batch_id)
        await self.store.set_batch_flags(batch_id, paused=1)
        await self.dispatcher.pull_back(batch_id)
        return await self._announce(batch_id)

    async def _active_batch(self, batch_id: str) -> Batch:
        """The batch, or 409 batch_finished if it already reached a terminal status."""
        batch = await self.get_batch(batch_id)
        if batch.status.terminal:
            raise conflict("batch_finished", f"batch is already {batch.status.value}", status=batch.status.value)
        return batch

    async def resume_batch(self, batch_id: str) -> Batch:
        """Feed a paused batch again."""
        await self._active_batch(batch_id)
        await self.store.set_batch_flags(batch_id, paused=0)
        self.dispatcher.wake()
        return await self._announce(batch_id)

    async def set_priority(self, batch_id: str, body: Any) -> Batch:
        """Change a batch's priority (takes effect at the next feed)."""
        await self._active_batch(batch_id)
        priority = parse_request(PriorityRequest, body).priority
        await self.store.set_batch_flags(batch_id, priority=priority)
        self.dispatcher.wake()
        return await self._announce(batch_id)

    async def retry(self, batch_id: str, job_id: int | None = None) -> tuple[Batch, int]:
        """Put failed and cancelled jobs back to pending."""
        batch = await self.get_batch(batch_id)
        # A batch retry means "run these again", also after pause + cancel: it un-pauses the batch in the same
        # transaction as the requeue (a failure between two writes left pending jobs in a paused batch).
        moved = await self.store.requeue_failed(batch_id, job_id, unpause=job_id is None)
        if moved == 0:
            raise conflict("nothing_to_retry", "no failed or cancelled jobs to retry", status=batch.status.value)
        self.dispatcher.forget(batch_id)
        self.dispatcher.wake()
        return await self._announce(batch_id), moved

    async def retry_job(self, job_id: str) -> Job:
        """Retry one failed or cancelled job."""
        job = await self.get_job(job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise conflict("job_not_retryable", f"job is {job.status.value}; only failed or cancelled jobs can be retried")
        await self.retry(job.batch_id, job.id)
        return await self.get_job(str(job.id))

    async def delete_batch(self, batch_id: str, images: bool = False) -> int:
        """Delete a finished (or cancelled) batch's records, and its output folder when asked; returns files removed."""
        batch = await self.get_batch(batch_id)
        if not batch.status.terminal:
            raise conflict("batch_active", "cancel the batch before deleting it", status=batch.status.value)
        await self.store.delete_batch(batch_id)
        self.dispatcher.forget(batch_id)
        return self.host.delete_output_folder(batch.output_subfolder) if images else 0

    async def _announce(self, batch_id: str) -> Batch:
        # The change's batch event was logged with it (and sent by the one publisher).
        return await self.get_batch(batch_id)

    async def list_events(self, after: int, batch_id: str | None, limit: int) -> dict[str, Any]:
        """Events after seq ``after`` (of one batch, or all), oldest first: what a reconnecting client missed."""
        if batch_id is not None:
            await self.get_batch(batch_id)
        # The route validates (after >= 0, limit 1..1000); clamped here too so no caller can ask for the whole log.
        after, limit = max(0, after), max(1, min(limit, 1000))
        events, last_seq, oldest_seq, has_more = await self.store.list_events(after, batch_id, limit)
        return {"events": [e.as_dict() for e in events], "last_seq": last_seq, "oldest_seq": oldest_seq, "has_more": has_more}
