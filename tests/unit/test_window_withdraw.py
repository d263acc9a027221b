"""A prompt withdrawn by interrupt keeps its place in the window until it has left ComfyUI's queue."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.models import JobStatus
from batchgen_ext.batchgen.store import Store

from tests.unit.enginekit import WorkerHost, add_batch


@dataclass
class SlowInterruptHost(WorkerHost):
    """ComfyUI's interrupt takes effect only at the running prompt's next node: it stays running meanwhile."""

    interrupted: list[str] | None = None

    def interrupt(self, prompt_id: str) -> bool:
        if self.running and self.running.prompt_id == prompt_id:
            self.interrupted = [*(self.interrupted or []), prompt_id]
            return True
        return False


def in_comfy_queue(host: WorkerHost) -> int:
    return len(host.pending) + (1 if host.running else 0)


async def test_a_taken_over_running_prompt_counts_against_the_window_until_it_stops(tmp_path):
    db = tmp_path / "db.sqlite3"
    store, other = Store(db), Store(db)
    await store.open()
    await other.open()
    host = SlowInterruptHost(output_dir=tmp_path / "output")
    d = Dispatcher(store, host, Config(window=2, tick_seconds=0.02))
    try:
        await add_batch(other, 6)
        await d.step()
        running = host.start_next()
        await d.step()  # seen running
        await asyncio.sleep(0.12)  # long enough for "running" to be written
        # Meanwhile another process took the job over (our lease looked expired to it).
        job_id = running.extra["extra_pnginfo"]["batchgen"]["job_id"]
        await other.run_in_transaction(lambda tx: tx.execute("UPDATE jobs SET owner_id = 'someone-else' WHERE id = ?", (job_id,)))
        await d.step()  # our "running" write is refused: the prompt is interrupted, not yet stopped
        assert host.interrupted == [running.prompt_id] and host.running is running
        for _ in range(3):
            await d.step()
            assert in_comfy_queue(host) <= 2, "more of our prompts in ComfyUI's queue than the window"
        host.finish_running()  # the interrupt took effect
        await d.step()
        assert in_comfy_queue(host) == 2 and len(d.in_flight) == 2
        job = await store.get_job(job_id)
        assert job.status is JobStatus.QUEUED and job.owner_id == "someone-else"  # nothing of ours landed on it
    finally:
        await store.close()
        await other.close()
