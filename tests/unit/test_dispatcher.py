"""Dispatcher against the in-memory host: window, outcomes, retries, vanished prompts, restart, control."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from batchgen_ext.batchgen import ids
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.host import HostValidationError
from batchgen_ext.batchgen.models import BatchStatus, Job, JobError, JobOutcome, JobStatus
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import JobUpdate, Store

from tests.fakehost import FakeHost
from tests.unit.graphs import fail_graph

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RecordingHost(FakeHost):
    """FakeHost that remembers which job every enqueued prompt belongs to, and can misbehave on demand."""

    enqueued: list[tuple[str, int, str]] = field(default_factory=list)  # (batch_id, job_id, prompt_id)
    fail_enqueue: int = 0
    reject_prepare: bool = False

    def enqueue(self, prompt_id, prompt, outputs, client_id, extra) -> None:
        if self.fail_enqueue:
            self.fail_enqueue -= 1
            raise RuntimeError("queue is full")
        info = extra["extra_pnginfo"]["batchgen"]
        self.enqueued.append((info["batch_id"], info["job_id"], prompt_id))
        super().enqueue(prompt_id, prompt, outputs, client_id, extra)

    async def prepare(self, prompt, shape_key, **kwargs):
        if self.reject_prepare:
            raise HostValidationError({"type": "invalid_prompt", "message": "model file vanished"}, {})
        return await super().prepare(prompt, shape_key, **kwargs)

    def ours_in_queue(self) -> int:
        return len(self.pending) + (1 if self.running else 0)


class Clock:
    """A clock the test moves by hand (retry backoff is measured with it)."""

    def __init__(self, t: float = 1_000_000.0, tick: float = 0.0) -> None:
        self.t, self.tick = t, tick

    def __call__(self) -> float:
        self.t += self.tick
        return self.t


@dataclass
class Env:
    store: Store
    host: RecordingHost
    dispatcher: Dispatcher
    service: BatchService
    config: Config
    clock: Clock
    tmp: Path

    async def batch(self, body: dict) -> str:
        batch, created = await self.service.create_batch(body)
        assert created
        return batch.id

    async def jobs(self, batch_id: str) -> list[Job]:
        jobs, _ = await self.store.list_jobs(batch_id, limit=100_000)
        return jobs

    async def status(self, batch_id: str) -> BatchStatus:
        return (await self.store.get_batch(batch_id)).status


async def make_env(tmp_path: Path, **config) -> Env:
    store = Store(tmp_path / "db" / "batchgen.sqlite3")
    await store.open()
    host = RecordingHost(output_dir=tmp_path / "output")
    cfg = Config(**{"window": 2, "tick_seconds": 0.01, **config})
    clock = Clock(tick=0.001)
    dispatcher = Dispatcher(store, host, cfg, clock=clock)
    registry = TemplateRegistry(ROOT / "workflows", tmp_path / "templates")
    service = BatchService(store, host, registry, dispatcher, cfg, "test")
    return Env(store, host, dispatcher, service, cfg, clock, tmp_path)


@pytest.fixture
async def make(tmp_path):
    """make(**config) -> Env; every store is closed and every dispatcher stopped at teardown, even after a failure."""
    made: list[Env] = []

    async def factory(**config) -> Env:
        e = await make_env(tmp_path, **config)
        made.append(e)
        return e

    yield factory
    for e in made:
        await e.dispatcher.stop()
        await e.store.close()


@pytest.fixture
async def env(make):
    return await make()


@pytest.fixture
async def env1(make):
    """Window of one: the feed order is observable one prompt at a time."""
    return await make(window=1)


def card(n: int, **extra) -> dict:
    return {"template": "text-card", "prompts": [f"card {i}" for i in range(n)], **extra}


def failing_job_outcome(transient: bool) -> JobOutcome:
    return JobOutcome(JobStatus.FAILED, (), JobError("exception", "CUDA error: out of memory" if transient else "bad input",
                                                     "5", "BatchGenTextCard", "RuntimeError", transient=transient))


# -- window and success ------------------------------------------------------------------------


async def test_fifty_jobs_never_exceed_the_window_and_all_outputs_are_recorded(make):
    e = await make(window=3)
    a = await e.batch(card(30))
    b = await e.batch(card(20, seed={"policy": "increment", "base": 0}))
    ran = await e.host.run_all(e.dispatcher)
    assert ran == 50
    assert e.host.max_depth <= 3, f"{e.host.max_depth} of our prompts were in ComfyUI's queue at once; window is 3"
    assert e.host.max_depth == 3, "the window was never filled: the worker would idle between jobs"
    assert e.dispatcher.max_in_flight_seen <= 3
    for batch_id in (a, b):
        batch = await e.store.get_batch(batch_id)
        assert (batch.status, batch.counts.succeeded) == (BatchStatus.SUCCEEDED, batch.total)
        jobs = await e.jobs(batch_id)
        for job in jobs:
            assert job.status is JobStatus.SUCCEEDED and job.attempts == 1
            assert job.started_at is not None and job.finished_at is not None
            assert len(job.outputs) == 1
            out = job.outputs[0]
            assert out.subfolder.startswith(batch.output_subfolder)
            assert (e.tmp / "output" / out.subfolder / out.filename).is_file()
        assert len({(j.outputs[0].subfolder, j.outputs[0].filename) for j in jobs}) == len(jobs), "jobs overwrote each other's files"
    assert len({pid for _, _, pid in e.host.enqueued}) == 50


async def test_values_of_each_job_reach_the_prompt(env):
    bid = await env.batch({"template": "text-card", "jobs": [{"prompt": "first", "width": 100}, {"prompt": "second", "width": 200}],
                           "seed": 9})
    await env.dispatcher.step()
    sent = {q.prompt["1"]["inputs"]["value"]: q.prompt for q in env.host.pending}
    assert set(sent) == {"first", "second"}
    assert sent["first"]["3"]["inputs"]["value"] == 100 and sent["second"]["3"]["inputs"]["value"] == 200
    assert sent["first"]["2"]["inputs"]["value"] == sent["second"]["2"]["inputs"]["value"] == 9
    subfolder = (await env.store.get_batch(bid)).output_subfolder
    assert all(p["6"]["inputs"]["filename_prefix"].startswith(subfolder + "/") for p in sent.values())


# -- failures ----------------------------------------------------------------------------------


async def test_failing_node_fails_its_jobs_with_details_and_other_batches_go_on(env):
    bad = await env.batch({"template": {"workflow": fail_graph()}, "prompts": ["a", "b"]})
    good = await env.batch(card(3))
    await env.host.run_all(env.dispatcher)
    for job in await env.jobs(bad):
        assert job.status is JobStatus.FAILED
        assert (job.error.node_id, job.error.node_type, job.error.exception_type) == ("2", "FailNode", "ValueError")
        assert job.attempts == 1, "a node error is not transient: it must not be retried"
    assert await env.status(bad) is BatchStatus.FAILED
    assert await env.status(good) is BatchStatus.SUCCEEDED


async def test_one_failed_job_makes_the_batch_partial(env1):
    e = env1
    bid = await e.batch(card(3))
    await e.dispatcher.step()
    e.host.start_next()
    e.host.finish_running(failing_job_outcome(transient=False))
    await e.host.run_all(e.dispatcher)
    jobs = await e.jobs(bid)
    assert [j.status for j in jobs] == [JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    err = jobs[0].error
    assert (err.node_id, err.node_type, err.exception_type, err.message) == ("5", "BatchGenTextCard", "RuntimeError", "bad input")
    batch = await e.store.get_batch(bid)
    assert batch.status is BatchStatus.PARTIAL
    assert (batch.counts.succeeded, batch.counts.failed) == (2, 1)


async def test_transient_error_is_retried_with_backoff_up_to_max_attempts(make):
    e = await make(window=1, retry_backoff_seconds=10, retry_backoff_max_seconds=15)
    e.clock.tick = 0
    bid = await e.batch(card(1, max_attempts=3))
    (job,) = await e.jobs(bid)
    for attempt in (1, 2, 3):
        await e.dispatcher.step()
        assert len(e.host.pending) == 1, f"attempt {attempt} was not fed"
        e.host.start_next()
        e.host.finish_running(failing_job_outcome(transient=True))
        await e.dispatcher.step()
        now = await e.store.get_job(job.id)
        assert now.attempts == attempt
        if attempt < 3:
            assert now.status is JobStatus.PENDING and now.error.transient
            await e.dispatcher.step()
            assert not e.host.pending, "retried before its backoff elapsed"
            e.clock.t += min(10 * 2 ** (attempt - 1), 15)
    final = await e.store.get_job(job.id)
    assert (final.status, final.attempts) == (JobStatus.FAILED, 3)
    assert final.error.transient and "out of memory" in final.error.message
    assert len(e.host.enqueued) == 3
    assert len({pid for _, _, pid in e.host.enqueued}) == 3, "each attempt needs a fresh prompt id"
    assert await e.status(bid) is BatchStatus.FAILED
    await e.dispatcher.step()
    assert len(e.host.enqueued) == 3, "a job out of attempts was fed again"


async def test_transient_error_then_success(env1):
    e = env1
    e.dispatcher.config = Config(window=1, retry_backoff_seconds=0, retry_backoff_max_seconds=0)
    bid = await e.batch(card(1))
    await e.dispatcher.step()
    e.host.start_next()
    e.host.finish_running(failing_job_outcome(transient=True))
    await e.host.run_all(e.dispatcher)
    (job,) = await e.jobs(bid)
    assert (job.status, job.attempts, job.error) == (JobStatus.SUCCEEDED, 2, None)
    assert len(job.outputs) == 1 and "-r2" in job.outputs[0].filename, "a retry must not reuse the first attempt's file name"


async def test_validation_failure_at_feed_time_fails_the_job_instead_of_leaving_it_queued(env):
    bid = await env.batch(card(2))
    env.host.reject_prepare = True
    await env.dispatcher.step()
    jobs = await env.jobs(bid)
    assert [j.status for j in jobs] == [JobStatus.FAILED, JobStatus.FAILED]
    assert all(j.error.kind == "validation" and "model file vanished" in j.error.message for j in jobs)
    assert not env.host.pending and not env.dispatcher.in_flight


async def test_enqueue_error_is_recovered_on_the_next_pass(env):
    bid = await env.batch(card(2))
    env.host.fail_enqueue = 1
    await env.host.run_all(env.dispatcher)
    jobs = await env.jobs(bid)
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    assert [j.attempts for j in jobs] == [1, 1], "an attempt that never reached ComfyUI must not count"
    assert len(env.host.enqueued) == 2


# -- vanished prompts --------------------------------------------------------------------------


async def test_vanished_queued_prompt_is_requeued_and_later_succeeds(env):
    bid = await env.batch(card(3))
    await env.dispatcher.step()
    victim = env.host.pending.pop(0)  # someone cleared it from ComfyUI's queue before it started
    victim_job = next(j for b, j, pid in env.host.enqueued if pid == victim.prompt_id)
    await env.dispatcher.step()
    mid = await env.store.get_job(victim_job)
    assert mid.status in (JobStatus.PENDING, JobStatus.QUEUED) and mid.prompt_id != victim.prompt_id
    await env.host.run_all(env.dispatcher)
    jobs = await env.jobs(bid)
    assert len(jobs) == 3 and all(j.status is JobStatus.SUCCEEDED for j in jobs)
    assert {j.id: j.attempts for j in jobs}[victim_job] == 1, "it never started: the lost attempt must not count"
    assert Counter(j for _, j, _ in env.host.enqueued)[victim_job] == 2
    assert env.dispatcher.recovered.get("requeued") == 1
    assert await env.status(bid) is BatchStatus.SUCCEEDED


async def test_vanished_running_prompt_counts_as_an_attempt(env1):
    e = env1
    e.clock.tick = 0
    bid = await e.batch(card(1, max_attempts=1))
    await e.dispatcher.step()
    e.host.start_next()
    await e.dispatcher.step()
    e.clock.t += 1
    await e.dispatcher.step()  # recorded as running
    e.host.running = None  # ComfyUI died mid-job, nothing saved
    await e.dispatcher.step()
    await e.host.run_all(e.dispatcher)
    (job,) = await e.jobs(bid)
    # A crash is not the job's fault: even with max_attempts=1 it gets another try, and the attempt is recorded.
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)


async def test_a_job_that_keeps_vanishing_while_running_ends_failed(env1):
    # A poison pill that kills ComfyUI each time must not loop forever.
    e = env1
    e.clock.tick = 0
    bid = await e.batch(card(1, max_attempts=1))
    for _ in range(10):
        await e.dispatcher.step()
        if e.host.start_next() is None:
            break
        await e.dispatcher.step()
        e.clock.t += 1
        await e.dispatcher.step()
        e.host.running = None
        await e.dispatcher.step()
    (job,) = await e.jobs(bid)
    assert job.status is JobStatus.FAILED and job.error.kind == "vanished"
    assert 2 <= job.attempts <= 5
    assert await e.status(bid) is BatchStatus.FAILED


async def test_vanished_prompt_with_its_file_on_disk_is_succeeded_without_rerun(env1):
    e = env1
    bid = await e.batch(card(2))
    await e.dispatcher.step()
    item = e.host.start_next()
    # ComfyUI saved the image, then died before recording the prompt in its history.
    sub, _, base = item.prompt["6"]["inputs"]["filename_prefix"].rpartition("/")
    (e.tmp / "output" / sub).mkdir(parents=True, exist_ok=True)
    (e.tmp / "output" / sub / f"{base}_00001_.png").write_bytes(b"\x89PNG saved before the crash")
    e.host.running = None
    job_id = e.host.enqueued[0][1]
    await e.dispatcher.step()
    job = await e.store.get_job(job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert [(o.subfolder, o.filename) for o in job.outputs] == [(sub, f"{base}_00001_.png")]
    await e.host.run_all(e.dispatcher)
    assert Counter(j for _, j, _ in e.host.enqueued)[job_id] == 1, "the recovered job was run again"
    assert e.dispatcher.recovered.get("from_disk") == 1
    assert await e.status(bid) is BatchStatus.SUCCEEDED


# -- restart -----------------------------------------------------------------------------------


async def test_restart_recovers_every_job_exactly_once(make, tmp_path):
    e = await make(window=3)
    n = 6
    bid = await e.batch(card(n))
    await e.dispatcher.step()  # jobs 0, 1, 2 committed as queued and sent to ComfyUI
    saved, running, waiting = [j for _, j, _ in e.host.enqueued]
    e.host.start_next()
    e.host.finish_running()  # job 0 ran and saved its image, but the crash came before we recorded it
    e.host.start_next()  # job 1 is running (and was recorded so) when ComfyUI dies
    await e.store.apply([JobUpdate(running, (JobStatus.QUEUED,), JobStatus.RUNNING, {"started_at": e.clock()})])
    stuck = await e.store.jobs_by_status([JobStatus.QUEUED, JobStatus.RUNNING])
    assert {j.id for j in stuck} == {saved, running, waiting}

    # Crash: ComfyUI and the dispatcher are gone; a new process starts on the same database.
    host2 = RecordingHost(output_dir=tmp_path / "output")
    d2 = Dispatcher(e.store, host2, e.config)
    await d2.start()
    try:
        async def worker():
            while (await e.store.get_batch(bid)).status is not BatchStatus.SUCCEEDED:
                if host2.start_next() is not None:
                    await asyncio.sleep(0.002)
                    host2.finish_running()
                await asyncio.sleep(0.002)

        await asyncio.wait_for(worker(), timeout=10)
    finally:
        await d2.stop()

    jobs = await e.jobs(bid)
    assert sorted(j.idx for j in jobs) == list(range(n)), "duplicate or missing job rows"
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs)
    attempts = {j.id: j.attempts for j in jobs}
    assert attempts[saved] == 1
    assert attempts[running] == 2, "the attempt that was running at the crash must be recorded"
    assert attempts[waiting] == 1, "an attempt that never started must not count"
    assert all(a == 1 for j, a in attempts.items() if j not in (saved, running, waiting))
    runs = Counter(j for _, j, _ in host2.enqueued)
    assert saved not in runs, "a job whose image was already on disk was run again"
    assert all(c == 1 for c in runs.values()), f"jobs run twice after restart: {runs}"
    assert set(runs) == {j.id for j in jobs} - {saved}
    ended = Counter(ev["id"] for name, ev in host2.events if name == ids.EVENT_JOB and ev["status"] == "succeeded")
    assert ended == Counter({j.id: 1 for j in jobs}), "every job must end exactly once"
    assert d2.recovered == {"from_disk": 1, "requeued": 2}


# -- control -----------------------------------------------------------------------------------


async def test_cancel_removes_our_queued_prompts_interrupts_the_running_one_and_cancels_the_rest(env):
    bid = await env.batch(card(5))
    other = await env.batch(card(2))
    await env.dispatcher.step()
    running = env.host.start_next()
    await env.service.cancel_batch(bid)
    ours = {pid for b, _, pid in env.host.enqueued if b == bid}
    assert not ours & {q.prompt_id for q in env.host.pending}, "our queued prompts are still in ComfyUI's queue"
    assert env.host.running is None and running.prompt_id in env.host.history, "the running job was not interrupted"
    await env.host.run_all(env.dispatcher)
    jobs = await env.jobs(bid)
    assert all(j.status is JobStatus.CANCELLED for j in jobs), [j.status for j in jobs]
    batch = await env.store.get_batch(bid)
    assert (batch.status, batch.counts.cancelled) == (BatchStatus.CANCELLED, 5)
    assert {b for b, _, _ in env.host.enqueued[2:]} == {other}, "the cancelled batch was fed after the cancel"
    assert await env.status(other) is BatchStatus.SUCCEEDED


async def test_pause_pulls_queued_prompts_back_and_resume_finishes_the_batch(env):
    bid = await env.batch(card(6))
    await env.dispatcher.step()
    env.host.start_next()  # one running, one waiting in ComfyUI's queue
    await env.service.pause_batch(bid)
    assert not env.host.pending, "the paused batch's queued prompt is still in ComfyUI's queue"
    env.host.finish_running()  # the running one finishes normally
    for _ in range(3):
        await env.dispatcher.step()
    assert not env.host.pending and env.host.running is None, "a paused batch was fed"
    batch = await env.store.get_batch(bid)
    assert batch.status is BatchStatus.PAUSED and batch.paused
    assert (batch.counts.succeeded, batch.counts.pending) == (1, 5)
    await env.service.resume_batch(bid)
    await env.host.run_all(env.dispatcher)
    jobs = await env.jobs(bid)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs)
    assert all(j.attempts == 1 for j in jobs), "being pulled back by a pause must not count as an attempt"
    assert await env.status(bid) is BatchStatus.SUCCEEDED


async def test_higher_priority_batch_is_fed_first(env1):
    low = await env1.batch(card(3))
    high = await env1.batch(card(3, priority=5))
    await env1.host.run_all(env1.dispatcher)
    assert [b for b, _, _ in env1.host.enqueued] == [high] * 3 + [low] * 3


async def test_priority_change_takes_effect_at_the_next_feed(env1):
    a = await env1.batch(card(3))
    b = await env1.batch(card(3))
    await env1.dispatcher.step()  # a's first job
    await env1.service.set_priority(b, {"priority": 10})
    await env1.host.run_all(env1.dispatcher)
    assert [x for x, _, _ in env1.host.enqueued] == [a, b, b, b, a, a]


async def test_equal_priority_batches_are_fed_round_robin(env1):
    a = await env1.batch(card(3))
    b = await env1.batch(card(3))
    await env1.host.run_all(env1.dispatcher)
    assert [x for x, _, _ in env1.host.enqueued] == [a, b, a, b, a, b]


async def test_round_robin_within_one_claim(env):
    a = await env.batch(card(4))
    b = await env.batch(card(4))
    await env.dispatcher.step()
    assert sorted(x for x, _, _ in env.host.enqueued) == sorted([a, b])


# -- events ------------------------------------------------------------------------------------


async def test_job_and_batch_events_are_sent(env):
    bid = await env.batch(card(3))
    await env.host.run_all(env.dispatcher)
    job_events = [ev for name, ev in env.host.events if name == ids.EVENT_JOB]
    batch_events = [ev for name, ev in env.host.events if name == ids.EVENT_BATCH]
    jobs = await env.jobs(bid)
    for job in jobs:
        mine = [ev for ev in job_events if ev["id"] == job.id]
        assert [ev["status"] for ev in mine] == ["queued", "succeeded"]
        assert mine[0]["previous_status"] == "pending" and mine[0]["prompt_id"]
        assert mine[-1]["batch_id"] == bid and mine[-1]["outputs"] and mine[-1]["outputs"][0]["filename"] == job.outputs[0].filename
        assert mine[-1]["seed"] == job.seed
    assert batch_events, "no batchgen.batch event"
    assert all(ev["id"] == bid for ev in batch_events)
    last = batch_events[-1]
    assert last["status"] == "succeeded" and last["counts"]["succeeded"] == 3 and last["total"] == 3
    assert "running" in [ev["status"] for ev in batch_events]


async def test_failure_event_carries_the_error(env):
    await env.batch({"template": {"workflow": fail_graph()}, "prompts": ["a"]})
    await env.host.run_all(env.dispatcher)
    failed = [ev for name, ev in env.host.events if name == ids.EVENT_JOB and ev["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]["node_type"] == "FailNode"
    assert [ev for name, ev in env.host.events if name == ids.EVENT_BATCH][-1]["status"] == "failed"


async def test_a_long_running_job_is_shown_as_running(env1):
    e = env1
    e.clock.tick = 0
    bid = await e.batch(card(2))
    await e.dispatcher.step()
    e.host.start_next()
    await e.dispatcher.step()  # sees it running: not written yet (it may finish at once)
    e.clock.t += 1.0
    await e.dispatcher.step()
    job_id = e.host.enqueued[0][1]
    job = await e.store.get_job(job_id)
    assert job.status is JobStatus.RUNNING and job.started_at is not None
    batch = await e.store.get_batch(bid)
    assert (batch.status, batch.counts.running) == (BatchStatus.RUNNING, 1)
    e.host.finish_running()
    await e.dispatcher.step()
    done = await e.store.get_job(job_id)
    assert done.status is JobStatus.SUCCEEDED and done.finished_at >= done.started_at


async def test_start_time_seen_while_running_is_kept_when_the_outcome_has_none(env1):
    e = env1
    e.clock.tick = 0
    await e.batch(card(1))
    await e.dispatcher.step()
    e.host.start_next()
    await e.dispatcher.step()
    started = e.clock.t
    e.clock.t += 5.0
    await e.dispatcher.step()  # written as running, started_at = when it was first seen running
    e.host.finish_running()  # outcome without started_at (FakeHost; ComfyUI history without execution_start)
    await e.dispatcher.step()
    done = await e.store.get_job(e.host.enqueued[0][1])
    assert done.status is JobStatus.SUCCEEDED
    assert done.started_at == started, f"job ran 5 s but shows started_at={done.started_at}, finished_at={done.finished_at}"


async def test_retry_after_cancel_runs_the_cancelled_jobs(env):
    bid = await env.batch(card(4))
    await env.dispatcher.step()
    await env.service.cancel_batch(bid)
    await env.host.run_all(env.dispatcher)
    assert await env.status(bid) is BatchStatus.CANCELLED
    batch, moved = await env.service.retry(bid)
    assert moved == 4 and batch.status is BatchStatus.PENDING
    await env.host.run_all(env.dispatcher)
    jobs = await env.jobs(bid)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs), [j.status for j in jobs]
    assert await env.status(bid) is BatchStatus.SUCCEEDED
