"""The collector pause around bulk work: off inside (nested and concurrent), back on after, left off if it was off."""

from __future__ import annotations

import gc
import json
import threading

import pytest
from batchgen_ext.batchgen.gcpause import gc_paused, pause_depth
from batchgen_ext.batchgen.jsonrows import dumps
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_inside_nested_pauses_and_on_again_after_the_outer_one():
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner pause must not switch it back on while the outer one is open"
    assert gc.isenabled()
    assert pause_depth() == 0


def test_an_exception_inside_still_switches_the_collector_back_on():
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_someone_else_switched_off_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_the_later_one():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after_first_left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after_first_left": False}
    assert gc.isenabled()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_row_json_is_exactly_what_json_dumps_writes(value):
    assert dumps(value) == json.dumps(value, ensure_ascii=False)
