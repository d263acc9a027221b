"""The one-pass job scan a preview checks with: the same distinct values, shapes and count as the job list itself."""

from __future__ import annotations

from batchgen_ext.batchgen.expansion import JobSpec, Limits, plan
from batchgen_ext.batchgen.jobscan import scan
from batchgen_ext.batchgen.templates import build_template
from batchgen_ext.batchgen.valuecheck import _distinct_values
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.graphs import sd_graph

NAMES = ["a", "b", "c"]
value = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "文字", "🌸"]), st.lists(st.integers(0, 2), max_size=2))
params = st.dictionaries(st.sampled_from(NAMES), value, max_size=3)


@settings(max_examples=80, deadline=None)
@given(st.lists(params, max_size=30), st.integers(0, 5))
def test_scan_matches_the_job_list(rows, keep):
    specs = [JobSpec(p, None) for p in rows]
    found = scan(iter(specs), NAMES, keep)
    assert found.total == len(specs) and found.first == specs[:keep]
    for name in NAMES:
        assert found.distinct_values(name) == _distinct_values(name, specs)
    shapes, seen = [], set()
    for p in rows:
        if frozenset(p) not in seen:
            seen.add(frozenset(p))
            shapes.append(p)
    assert found.shapes == shapes and found.used == set().union(*map(set, rows)) if rows else not found.used


def test_scanning_a_grid_keeps_coords_only_for_the_shown_rows():
    template = build_template(sd_graph())
    body = {"prompts": ["p", "q"], "axes": [{"param": "width", "range": "64..128 step 32"}], "seed": {"policy": "increment", "base": 0}}
    expansion = plan(body, template, Limits())
    full, scanned = list(expansion), list(expansion.scanning(2))
    assert [s.params for s in full] == [s.params for s in scanned] and expansion.total == 6
    assert [s.coords for s in scanned[:2]] == [s.coords for s in full[:2]] and all(not s.coords for s in scanned[2:])
