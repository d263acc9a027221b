"""Grid axes: ranges (exact decimal steps), labels, zipped groups, counts before building, matrix unchanged."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from batchgen_ext.batchgen.api_axes import Axis
from batchgen_ext.batchgen.axes import dimensions, parse_range
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.expansion import Limits, expand, plan
from batchgen_ext.batchgen.templates import build_template
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.graphs import sd_graph


@pytest.fixture
def sd():
    return build_template(sd_graph())


def api_error(fn, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    return err.value


def test_integer_range_is_inclusive_with_step_one():
    values, labels = parse_range("1..10", "steps", 100)
    assert values == list(range(1, 11)) and all(isinstance(v, int) for v in values)
    assert labels == [str(i) for i in range(1, 11)]


def test_float_range_steps_exactly_without_drift():
    values, labels = parse_range("0..1 step 0.1", "cfg", 100)
    # 0.1 added ten times in binary floats is 0.9999999999999999; Decimal steps give the literal values.
    assert values == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert labels[-1] == "1.0" and labels[3] == "0.3"
    assert parse_range("0.5..2.0 step 0.5", "cfg", 100) == ([0.5, 1.0, 1.5, 2.0], ["0.5", "1.0", "1.5", "2.0"])


def test_descending_and_negative_ranges():
    assert parse_range("10..1 step -3", "steps", 100)[0] == [10, 7, 4, 1]
    assert parse_range("5..3", "steps", 100)[0] == [5, 4, 3]
    assert parse_range("-1.5..-0.5 step 0.25", "cfg", 100)[0] == [-1.5, -1.25, -1.0, -0.75, -0.5]


@pytest.mark.parametrize("text", ["1-10", "1..", "a..b", "1..10 step 0", "1..10 step -1", "1..10 step x", "nan..1", "1..inf"])
def test_bad_ranges_are_400_naming_the_axis(text):
    err = api_error(parse_range, text, "cfg", 100)
    assert err.status == 400 and err.code == "invalid_axes" and "'cfg'" in err.message


def test_huge_range_is_counted_before_building():
    err = api_error(parse_range, "0..1e12", "steps", 100_000)
    assert err.status == 413 and err.details["count"] == 10**12 + 1


@settings(max_examples=60, deadline=None)
@given(st.integers(-50, 50), st.integers(1, 40), st.integers(1, 30), st.integers(1, 3))
def test_decimal_range_matches_exact_arithmetic(start, count, step, digits):
    scale = Decimal(10) ** -digits
    lo, st_ = Decimal(start) * scale, Decimal(step) * scale
    hi = lo + st_ * (count - 1)
    values, labels = parse_range(f"{lo}..{hi} step {st_}", "cfg", 10_000)
    assert len(values) == count
    assert values == [float(lo + st_ * i) for i in range(count)]
    assert [Decimal(label) for label in labels] == [lo + st_ * i for i in range(count)]


def test_labels_default_to_values_and_can_be_given_in_any_script(sd):
    body = {"prompts": ["p"], "axes": [{"param": "width", "values": [512, 768], "labels": ["窄", "宽 🖼"], "name": "宽度"},
                                       {"param": "cfg", "range": "1..2 step 0.5"}]}
    dims = dimensions(None, body["axes"], 100)
    assert [d.title for d in dims] == ["宽度", "cfg"]
    assert dims[0].labels == ("窄", "宽 🖼") and dims[1].labels == ("1.0", "1.5", "2.0")
    specs = expand(body, sd, Limits())
    assert len(specs) == 6
    assert [(s.params["width"], s.params["cfg"]) for s in specs] == list(itertools.product([512, 768], [1.0, 1.5, 2.0]))
    assert specs[4].coords == {"source": "prompts", "index": 0, "axes": {"width": 1, "cfg": 1}}


def test_zipped_axes_step_together(sd):
    body = {"axes": [{"zip": [{"param": "width", "values": [512, 768, 1024]}, {"param": "height", "values": [512, 432, 576],
                                                                                  "labels": ["方", "横", "宽"]}], "name": "size"},
                     {"param": "steps", "values": [10, 20]}]}
    specs = expand(body, sd, Limits())
    assert [(s.params["width"], s.params["height"], s.params["steps"]) for s in specs] == [
        (512, 512, 10), (512, 512, 20), (768, 432, 10), (768, 432, 20), (1024, 576, 10), (1024, 576, 20)]
    assert specs[3].coords == {"axes": {"width": 1, "height": 1, "steps": 1}}
    dims = dimensions(None, body["axes"], 100)
    assert dims[0].title == "size" and dims[0].labels == ("512 / 方", "768 / 横", "1024 / 宽")


def test_zip_of_different_lengths_and_duplicate_params_are_400(sd):
    err = api_error(expand, {"axes": [{"zip": [{"param": "width", "values": [1, 2]}, {"param": "height", "values": [1]}]}]}, sd, Limits())
    assert err.code == "invalid_axes" and "different lengths" in err.message
    err = api_error(expand, {"axes": [{"param": "width", "values": [512]}, {"param": "width", "values": [768]}]}, sd, Limits())
    assert err.code == "invalid_axes" and "'width'" in err.message
    err = api_error(expand, {"matrix": {"steps": [1]}, "axes": [{"param": "steps", "values": [2]}]}, sd, Limits())
    assert err.code == "invalid_axes"
    err = api_error(expand, {"axes": [{"param": "width", "values": [512], "labels": ["a", "b"]}]}, sd, Limits())
    assert "2 labels for 1 values" in err.message
    err = api_error(expand, {"axes": [{"param": "width", "values": [512], "range": "1..2"}]}, sd, Limits())
    assert "not both" in err.message


def test_axis_value_of_the_wrong_type_names_the_axis(sd):
    err = api_error(expand, {"axes": [{"param": "steps", "values": [10, "many"]}]}, sd, Limits())
    assert err.code == "invalid_param_value" and "'steps'" in err.message


def test_unbound_axis_param_is_400(sd):
    err = api_error(expand, {"axes": [{"param": "colour", "values": [1]}]}, sd, Limits())
    assert err.code == "unbound_parameter" and "'colour'" in err.message


def test_count_is_known_before_any_job_is_built(sd):
    body = {"prompts": [f"p{i}" for i in range(100)], "axes": [{"param": "width", "range": "64..1063"}]}
    expansion = plan(body, sd, Limits())
    assert expansion.total == 100_000  # nothing iterated yet
    err = api_error(plan, {**body, "repeat": 2}, sd, Limits())
    assert err.status == 413 and err.details["count"] == 200_000
    err = api_error(plan, {"axes": [{"param": "width", "range": "1..1000"}, {"param": "height", "range": "1..1000"}]}, sd, Limits())
    assert err.status == 413 and err.details["count"] == 1_000_000


def test_matrix_is_unchanged_and_combines_with_axes(sd):
    specs = expand({"prompts": ["a", "b"], "matrix": {"steps": [10, 20]}, "axes": [{"param": "cfg", "values": [4, 7]}]}, sd, Limits())
    assert [(s.params["prompt"], s.params["steps"], s.params["cfg"]) for s in specs] == [
        (p, st_, c) for p in "ab" for st_ in (10, 20) for c in (4.0, 7.0)]
    assert specs[0].coords == {"source": "prompts", "index": 0, "axes": {"steps": 0, "cfg": 0}}


def test_axis_models_forbid_unknown_fields():
    with pytest.raises(ValueError):
        Axis.model_validate({"param": "cfg", "values": [1], "colour": "red"})
