"""Helpers of the engine tests: a FakeHost with a worker task, real dispatcher loops on SQLite files."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.expansion import JobSpec
from batchgen_ext.batchgen.store import NewBatch, Store
from batchgen_ext.batchgen.templates import build_template

from tests.fakehost import FakeHost

WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}


@dataclass
class WorkerHost(FakeHost):
    """FakeHost whose prompts are run by a background task, like ComfyUI's worker thread."""

    enqueued: list[tuple[int, str]] = field(default_factory=list)  # (job_id, prompt_id)
    executed: list[int] = field(default_factory=list)  # job ids whose prompt ran to the end here
    fail_enqueue: int = 0
    job_seconds: float = 0.002
    worker: asyncio.Task | None = None

    def enqueue(self, prompt_id, prompt, outputs, client_id, extra) -> None:
        if self.fail_enqueue:
            self.fail_enqueue -= 1
            raise RuntimeError("queue is full")
        self.enqueued.append((extra["extra_pnginfo"]["batchgen"]["job_id"], prompt_id))
        super().enqueue(prompt_id, prompt, outputs, client_id, extra)

    def start_worker(self) -> None:
        async def work() -> None:
            while True:
                item = self.start_next()
                if item is None:
                    await asyncio.sleep(0.001)
                    continue
                await asyncio.sleep(self.job_seconds)
                if self.running is item:  # not interrupted meanwhile
                    self.finish_running()
                    self.executed.append(item.extra["extra_pnginfo"]["batchgen"]["job_id"])

        self.worker = asyncio.create_task(work())

    async def kill(self) -> None:
        """The process dies: its worker stops and its queue is gone."""
        if self.worker:
            self.worker.cancel()
            await asyncio.gather(self.worker, return_exceptions=True)
        self.pending.clear()
        self.running = None


@dataclass
class Proc:
    """One simulated ComfyUI process: its store connection, host and dispatcher."""

    store: Store
    host: WorkerHost
    dispatcher: Dispatcher


async def start_proc(db: Path, output: Path, setup=None, **config) -> Proc:
    """Open a store on ``db``, start a dispatcher loop and a worker on a fresh WorkerHost (``setup(proc)`` runs first)."""
    store = Store(db)
    await store.open()
    host = WorkerHost(output_dir=output)
    cfg = Config(**{"window": 2, "tick_seconds": 0.02, **config})
    proc = Proc(store, host, Dispatcher(store, host, cfg))
    if setup is not None:
        setup(proc)
    await proc.dispatcher.start()
    host.start_worker()
    return proc


async def stop_proc(proc: Proc, release: bool = True) -> None:
    """Stop the worker, the dispatcher and close the store."""
    await proc.dispatcher.stop(release=release)
    await proc.host.kill()
    await proc.store.close()


async def add_batch(store: Store, n: int, batch_id: str = "b1", **kw) -> str:
    """A batch of n EmptyImage→SaveImage jobs with distinct colours."""
    template = build_template(WORKFLOW, {"color": "1.color"})
    await store.create_batch(NewBatch(batch_id, batch_id, None, template.snapshot(), f"batchgen/{batch_id}", **kw),
                             [JobSpec({"color": i}, None) for i in range(n)])
    return batch_id


async def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll an async predicate until true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def terminal(store: Store, batch_id: str) -> bool:
    """True once the batch reached a terminal status."""
    batch = await store.get_batch(batch_id)
    return batch is not None and batch.status.terminal


def files_per_job(output: Path, batch_id: str) -> Counter:
    """idx -> number of image files on disk for it (any attempt)."""
    return Counter(int(p.name[:5]) for p in (output / "batchgen" / batch_id).glob("*.png"))
