"""The scheduling policy as a pure function: due work first by priority, round-robin within a level."""

from __future__ import annotations

from batchgen_ext.batchgen.scheduling import Candidate, levels, round_robin

NOW = 1000.0


def cand(batch_id: str, priority: int = 0, last_fed_at: float = 0.0, seq: int = 0, due_at: float = 0.0) -> Candidate:
    return Candidate(batch_id, priority, last_fed_at, seq, due_at)


def test_a_high_priority_batch_whose_jobs_all_wait_for_backoff_does_not_block_lower_ones():
    order = levels([cand("high", priority=10, due_at=NOW + 30), cand("low", priority=0)], NOW)
    assert order == [["low"]], "the GPU would idle while the low-priority batch has work due"


def test_highest_due_priority_first_then_lower_levels():
    order = levels([cand("a", 0, seq=1), cand("b", 5, seq=2), cand("c", 5, seq=3), cand("d", -1, seq=4)], NOW)
    assert order == [["b", "c"], ["a"], ["d"]]


def test_within_a_level_least_recently_fed_first_then_oldest():
    order = levels([cand("new", seq=9, last_fed_at=5.0), cand("old", seq=1, last_fed_at=5.0), cand("fresh", seq=3, last_fed_at=1.0)], NOW)
    assert order == [["fresh", "old", "new"]]


def test_a_job_due_exactly_now_counts_as_due():
    assert levels([cand("x", due_at=NOW)], NOW) == [["x"]]
    assert levels([cand("x", due_at=NOW + 0.001)], NOW) == []


def test_round_robin_takes_one_per_queue_in_turn_up_to_the_limit():
    assert round_robin([[1, 2, 3], ["a"], ["x", "y"]], 5) == [1, "a", "x", 2, "y"]
    assert round_robin([[1, 2, 3], []], 10) == [1, 2, 3]
    assert round_robin([], 3) == []
    assert round_robin([[1, 2]], 0) == []
