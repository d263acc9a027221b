"""Pacing for trivial jobs: a deeper window and spaced steps (group commit), and what a kill inside the pause does."""

from __future__ import annotations

import pytest
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.models import JobStatus
from batchgen_ext.batchgen.pacing import BUDGET_SECONDS, SPACING_SECONDS, Pacing

from tests.unit.enginekit import add_batch, files_per_job, start_proc, stop_proc, terminal, wait_until

LEASE = 1.0


def _run(pacing: Pacing, per_job: float, jobs: int, per_step: int = 1) -> None:
    now = 100.0
    for _ in range(jobs // per_step):
        now += per_job * per_step
        pacing.finished(now, per_step)


def test_short_jobs_deepen_the_window_to_the_budget_and_space_the_steps():
    pacing = Pacing(4, 32)
    _run(pacing, 0.003, 60)
    assert pacing.per_job == pytest.approx(0.003)
    assert pacing.depth == round(BUDGET_SECONDS / 0.003 + 0.5)  # 27: about 80 ms of queued work
    assert pacing.spacing == SPACING_SECONDS


def test_the_deepest_window_is_the_maximum_and_the_pause_stays_short_of_what_is_queued():
    pacing = Pacing(4, 16)
    _run(pacing, 0.0005, 200, per_step=4)
    assert pacing.depth == 16
    assert pacing.spacing == pytest.approx(16 * 0.0005 / 3)  # the worker keeps two thirds of the queue meanwhile


def test_jobs_of_real_models_keep_the_set_window_and_step_at_once():
    pacing = Pacing(4, 32)
    _run(pacing, 1.5, 10)
    assert (pacing.depth, pacing.spacing) == (4, 0.0)
    fixed = Pacing(2, 2)  # BATCHGEN_WINDOW set alone: never grows
    _run(fixed, 0.001, 100)
    assert (fixed.depth, fixed.spacing) == (2, 0.0)


def test_idle_time_is_not_taken_for_a_job_s_duration():
    pacing = Pacing(4, 32)
    _run(pacing, 0.003, 30)
    pacing.idle()
    pacing.finished(500.0, 1)  # the first completion of the next batch, minutes later
    assert pacing.depth > 4
    pacing.finished(500.003, 1)
    assert pacing.depth > 4


@pytest.mark.parametrize(("environ", "window", "window_max"), [
    ({}, 4, 32),
    ({"BATCHGEN_WINDOW": "2"}, 2, 2),
    ({"BATCHGEN_WINDOW": "2", "BATCHGEN_WINDOW_MAX": "8"}, 2, 8),
    ({"BATCHGEN_WINDOW_MAX": "4"}, 4, 4),
])
def test_a_window_set_by_hand_is_kept_unless_a_maximum_is_set_too(environ, window, window_max):
    config = Config.from_env(environ)
    assert (config.window, config.window_max) == (window, window_max)


async def test_trivial_jobs_run_with_a_deeper_window_and_fewer_commits_each_job_once(tmp_path):
    proc = await start_proc(tmp_path / "db.sqlite3", tmp_path / "output", window=2, window_max=16)
    proc.host.job_seconds = 0.0005
    commits = 0
    original = proc.store.run_in_transaction

    async def counted(fn, *args):
        nonlocal commits
        commits += 1
        return await original(fn, *args)

    proc.store.run_in_transaction = counted
    try:
        bid = await add_batch(proc.store, 300)
        proc.dispatcher.wake()
        await wait_until(lambda: terminal(proc.store, bid), timeout=60, what="the batch to finish")
        jobs, _ = await proc.store.list_jobs(bid, limit=1000)
        assert all(j.status is JobStatus.SUCCEEDED and j.attempts == 1 for j in jobs)
        assert sorted(proc.host.executed) == sorted(j.id for j in jobs), "a job ran twice or never"
        assert 2 < proc.host.max_depth <= 16, proc.host.max_depth  # grown, never past the maximum
        assert commits < 300 * 0.6, f"{commits} transactions for 300 jobs: outcomes were not committed together"
    finally:
        await stop_proc(proc)


async def _inside_a_pause_with_uncommitted_outcomes(proc) -> bool:
    d = proc.dispatcher
    return d.gathering and any(pid in proc.host.history for pid in d.in_flight)


async def test_a_kill_inside_the_pause_loses_nothing_and_runs_nothing_twice(tmp_path):
    db, out = tmp_path / "db.sqlite3", tmp_path / "output"
    a = await start_proc(db, out, window=2, window_max=16, lease_seconds=LEASE)
    a.host.job_seconds = 0.0005
    bid = await add_batch(a.store, 200)
    a.dispatcher.wake()
    await wait_until(lambda: _inside_a_pause_with_uncommitted_outcomes(a), what="a pause with finished, uncommitted prompts")
    done_uncommitted = {f.job_id for pid, f in a.dispatcher.in_flight.items() if pid in a.host.history}
    await stop_proc(a, release=False)  # kill -9 right inside the pause: ComfyUI's history (the only record) is gone
    assert done_uncommitted
    b = await start_proc(db, out, window=2, window_max=16, lease_seconds=LEASE)
    b.host.job_seconds = 0.0005
    try:
        await wait_until(lambda: terminal(b.store, bid), timeout=30, what="B to adopt A's jobs and finish the batch")
        jobs, _ = await b.store.list_jobs(bid, limit=1000)
        assert all(j.status is JobStatus.SUCCEEDED for j in jobs), [(j.idx, j.status) for j in jobs if j.status is not JobStatus.SUCCEEDED]
        per_job = files_per_job(out, bid)
        assert sorted(per_job) == list(range(200)) and set(per_job.values()) == {1}, "a job ran twice or was lost"
        rerun = done_uncommitted & {job for job, _ in b.host.enqueued}
        assert not rerun, f"jobs that had finished inside the pause were run again: {rerun}"
        assert all(j.attempts == 1 for j in jobs if j.id in done_uncommitted)
    finally:
        await stop_proc(b)


async def test_a_window_that_drains_before_each_step_still_grows(tmp_path):
    # Window 1 and trivial jobs: each step finds its one prompt finished and refills the window in the same pass.
    # That drained-then-refilled window is busy, not idle; taking it for idle kept the window at 1 for ever.
    proc = await start_proc(tmp_path / "db.sqlite3", tmp_path / "output", window=1, window_max=16)
    proc.host.job_seconds = 0.0005
    try:
        bid = await add_batch(proc.store, 200)
        proc.dispatcher.wake()
        await wait_until(lambda: terminal(proc.store, bid), timeout=60, what="the batch to finish")
        assert proc.host.max_depth > 1, "the window never grew past 1"
        assert sorted(proc.host.executed) == sorted(set(proc.host.executed)) and len(proc.host.executed) == 200
    finally:
        await stop_proc(proc)
