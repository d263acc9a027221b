"""Outcome decisions as pure functions (no store, no host): retry, backoff, poison pill, vanished, cancelled."""

from __future__ import annotations

import pytest
from batchgen_ext.batchgen import outcomes
from batchgen_ext.batchgen.models import JobError, JobOutcome, JobStatus, OutputFile
from batchgen_ext.batchgen.outcomes import Attempt, Policy

NOW = 5000.0
POLICY = Policy(max_attempts=3, backoff_seconds=2.0, backoff_max_seconds=10.0)
OOM = JobOutcome(JobStatus.FAILED, (), JobError("out_of_memory", "CUDA out of memory", transient=True))
NODE_ERROR = JobOutcome(JobStatus.FAILED, (), JobError("node_error", "bad input", "3", "KSampler", "ValueError"))
FILE = OutputFile("6", "00001_00001_.png", "batchgen/x", "output")


def test_success_records_outputs_and_times():
    d = outcomes.finished(Attempt(1, True, running_since=NOW - 3), JobOutcome(JobStatus.SUCCEEDED, (FILE,), None, None, NOW - 1), NOW, POLICY)
    assert d.status is JobStatus.SUCCEEDED
    assert d.fields["outputs_json"] == [FILE] and d.fields["started_at"] == NOW - 3 and d.fields["finished_at"] == NOW - 1


@pytest.mark.parametrize(("attempt", "delay"), [(1, 2.0), (2, 4.0), (3, None)])
def test_transient_error_is_retried_with_exponential_backoff_until_max_attempts(attempt, delay):
    d = outcomes.finished(Attempt(attempt, True), OOM, NOW, POLICY)
    if delay is None:
        assert d.status is JobStatus.FAILED and d.fields["error_json"].transient
    else:
        assert d.status is JobStatus.PENDING and d.fields["not_before"] == NOW + delay and d.fields["prompt_id"] is None


def test_backoff_is_capped():
    assert outcomes.retry_delay(10, POLICY) == 10.0


def test_node_error_fails_at_once():
    d = outcomes.finished(Attempt(1, True), NODE_ERROR, NOW, POLICY)
    assert d.status is JobStatus.FAILED and d.fields["error_json"].node_type == "KSampler"


@pytest.mark.parametrize("kwargs", [{"cancelling": True}, {"batch_cancelled": True}])
def test_a_failure_of_a_cancelled_job_or_batch_ends_cancelled_not_retried(kwargs):
    for outcome in (OOM, NODE_ERROR):
        d = outcomes.finished(Attempt(1, True), outcome, NOW, POLICY, **kwargs)
        assert d.status is JobStatus.CANCELLED and d.fields["error_json"].kind == "cancelled"


def test_a_success_racing_a_cancel_stays_a_success():
    d = outcomes.finished(Attempt(1, True), JobOutcome(JobStatus.SUCCEEDED, (FILE,)), NOW, POLICY, batch_cancelled=True)
    assert d.status is JobStatus.SUCCEEDED


def test_vanished_with_complete_files_succeeds_without_rerun():
    d = outcomes.vanished(Attempt(1, True), [FILE], NOW, POLICY, batch_cancelled=True)
    assert (d.status, d.counter, d.fields["outputs_json"]) == (JobStatus.SUCCEEDED, "from_disk", [FILE])


def test_vanished_before_it_ran_goes_back_to_pending_without_counting_the_attempt():
    d = outcomes.vanished(Attempt(2, False, requeues=3), None, NOW, POLICY)
    assert (d.status, d.counter) == (JobStatus.PENDING, "requeued")
    assert d.fields["attempts"] == 1 and d.fields["requeues"] == 4 and d.fields["prompt_id"] is None


def test_a_job_that_keeps_vanishing_before_running_is_a_poison_pill():
    d = outcomes.vanished(Attempt(1, False, requeues=outcomes.MAX_REQUEUES - 1), None, NOW, POLICY)
    assert d.status is JobStatus.FAILED and not d.fields["error_json"].transient


def test_vanished_while_running_counts_and_gets_crash_allowance():
    assert outcomes.vanished(Attempt(3, True), None, NOW, POLICY).status is JobStatus.PENDING
    assert outcomes.vanished(Attempt(3 + outcomes.CRASH_ALLOWANCE, True), None, NOW, POLICY).status is JobStatus.FAILED


def test_vanished_job_of_a_cancelled_batch_ends_cancelled():
    for seen in (True, False):
        assert outcomes.vanished(Attempt(1, seen), None, NOW, POLICY, batch_cancelled=True).status is JobStatus.CANCELLED


def test_pulled_back_does_not_count_the_attempt():
    d = outcomes.pulled_back(Attempt(2, False))
    assert d.status is JobStatus.PENDING and d.fields["attempts"] == 1 and d.fields["prompt_id"] is None
