"""The dispatcher's side of job ownership: lease renewal, adoption of dead owners' jobs, memory rebuilt from the store."""

from __future__ import annotations

import logging
from typing import Any

from .flights import InFlight, job_prefix
from .leases import expired_owners

log = logging.getLogger("batchgen.dispatcher")


class OwnershipMixin:
    """Mixed into Dispatcher (which provides store, host, owner, config and in_flight)."""

    async def _housekeep(self: Any, now: float) -> None:
        """Renew our lease, adopt the jobs of dead owners, and rebuild in-flight memory from the store."""
        await self.store.renew_lease(self.owner, now)
        expired = expired_owners(await self.store.list_owners(), self.owner, now, self.config.lease_seconds)
        if expired or self._needs_resync:
            adopted = await self.store.adopt_expired(self.owner, expired, now)
            if adopted:
                self.adopted += len(adopted)
                log.info("[batchgen] adopted %d in-flight job(s) of stopped process(es) %s", len(adopted),
                         ", ".join(o.label for o in expired) or "(previous version)")
        await self._resync()
        self._needs_resync = False
        self._last_lease = now

    async def _resync(self: Any) -> None:
        """Make ``in_flight`` exactly the in-flight rows the store says we hold."""
        rows = {job.prompt_id: job for job in await self.store.owned_in_flight(self.owner.owner_id) if job.prompt_id}
        for pid in [p for p in self.in_flight if p not in rows]:
            # Resolved by a commit whose follow-up failed, or taken over by another process.
            self.in_flight.pop(pid)
            self._withdraw(pid)
        for pid, job in rows.items():
            flight = self.in_flight.get(pid)
            if flight is None:
                meta = await self._batch_meta(job.batch_id)
                prefix = job_prefix(meta.subfolder, job.idx, job.attempts, meta.total) if meta else ""
                self.in_flight[pid] = InFlight(job.id, job.batch_id, job.idx, job.attempts, job.status, prefix, requeues=job.requeues)
            else:
                flight.status = job.status

    def _withdraw(self: Any, pid: str) -> None:
        """Stop executing a prompt whose job is no longer ours (best effort)."""
        self._cancelling.discard(pid)
        if not self.host.remove_pending([pid]) and self.host.interrupt(pid):
            # Interrupting takes effect at ComfyUI's next node: until the prompt has left the queue it still
            # takes a place of the window (else the next step would put window + 1 prompts in ComfyUI's queue).
            self._withdrawn.add(pid)
