"""The watchdog: a dead or stalled ComfyUI worker stops feeding, is reported, and feeding resumes when healthy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from batchgen_ext.batchgen import watchdog as watchdog_module
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.expansion import JobSpec
from batchgen_ext.batchgen.host import HostInfo
from batchgen_ext.batchgen.store import NewBatch, Store
from batchgen_ext.batchgen.templates import build_template

from tests.fakehost import FakeHost

WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}


@dataclass
class SickHost(FakeHost):
    """A FakeHost whose worker health the test controls."""

    alive: bool = True
    foreign_pending: int = 0

    def info(self) -> HostInfo:
        return HostInfo("fake", "0", 0, self.foreign_pending + len(self.pending), self.alive, {})


@pytest.fixture
async def setup(tmp_path, monkeypatch):
    monkeypatch.setattr(watchdog_module, "HEALTH_CHECK_INTERVAL", 0.0)
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    host = SickHost(output_dir=tmp_path / "out")
    template = build_template(WORKFLOW, {"color": "1.color"})
    await store.create_batch(NewBatch("b1", "b", None, template.snapshot(), "batchgen/b"), [JobSpec({"color": i}, None) for i in range(5)])
    disp = Dispatcher(store, host, Config(window=2, tick_seconds=0.05, stall_seconds=0.2))
    yield store, host, disp
    await disp.stop()
    await store.close()


async def wait_for(predicate, timeout=3.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_dead_worker_stops_feeding_reports_and_recovers(setup):
    store, host, disp = setup
    host.alive = False
    await disp.start()
    assert await wait_for(lambda: disp.state == "worker_dead")
    assert host.pending == [] and disp.jobs_fed == 0  # nothing fed into a queue nobody runs
    assert ("batchgen.health", {"state": "worker_dead", "detail": disp.last_error}) in host.events
    assert "prompt worker" in disp.last_error
    host.alive = True
    assert await wait_for(lambda: disp.state == "running" and len(host.pending) == 2)
    assert any(e == ("batchgen.health", {"state": "running", "detail": None}) for e in host.events)


async def test_stalled_worker_is_detected_after_stall_seconds(setup):
    store, host, disp = setup
    host.foreign_pending = 3  # prompts waiting in ComfyUI, none running, for longer than stall_seconds
    await disp.start()
    assert await wait_for(lambda: disp.state == "worker_stalled")
    fed = disp.jobs_fed
    await asyncio.sleep(0.3)
    assert disp.jobs_fed == fed  # no more feeding while stalled
    host.foreign_pending = 0
    host.pending.clear()
    assert await wait_for(lambda: disp.state == "running")


async def test_a_short_idle_is_not_a_stall(setup):
    store, host, disp = setup
    disp.config = Config(window=2, tick_seconds=0.05, stall_seconds=5)
    host.foreign_pending = 3
    await disp.start()
    await asyncio.sleep(0.4)
    assert disp.state == "running"
