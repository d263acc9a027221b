"""Batch request → jobs: prompts, jobs, matrix, params, repeat, seed policies and limits."""

from __future__ import annotations

import itertools
import random

import pytest
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.expansion import MAX_RANDOM_SEED, Limits, expand
from batchgen_ext.batchgen.templates import build_template

from tests.unit.graphs import sd_graph

LIMITS = Limits()


@pytest.fixture
def sd():
    """prompt, negative, seed (default 156680208700286), steps, cfg, width, height, batch_size."""
    return build_template(sd_graph())


@pytest.fixture
def no_seed():
    """A template with a prompt and steps but nothing bound to a seed."""
    return build_template(sd_graph(), {"prompt": "7.text", "steps": "3.steps"}, autodetect=False)


def api_error(fn, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    return err.value


# -- sources -----------------------------------------------------------------------------------


def test_prompts_give_one_job_each_in_order(sd):
    prompts = ["a fox", "a cat", "中文 prompt 🦊"]
    specs = expand({"prompts": prompts}, sd, LIMITS)
    assert [s.params["prompt"] for s in specs] == prompts


def test_jobs_rows_give_one_job_each_with_typed_values(sd):
    specs = expand({"jobs": [{"prompt": "x", "steps": "12"}, {"prompt": "y", "cfg": 3}]}, sd, LIMITS)
    assert [s.params["prompt"] for s in specs] == ["x", "y"]
    assert specs[0].params["steps"] == 12 and isinstance(specs[0].params["steps"], int)
    assert specs[1].params["cfg"] == 3.0 and isinstance(specs[1].params["cfg"], float)


def test_prompts_and_jobs_are_concatenated(sd):
    specs = expand({"prompts": ["a"], "jobs": [{"prompt": "b"}]}, sd, LIMITS)
    assert [s.params["prompt"] for s in specs] == ["a", "b"]


def test_matrix_is_the_cartesian_product(sd):
    matrix = {"steps": [10, 20], "cfg": [4.0, 6.0, 8.0], "width": [512, 768]}
    specs = expand({"matrix": matrix}, sd, LIMITS)
    got = [(s.params["steps"], s.params["cfg"], s.params["width"]) for s in specs]
    assert len(got) == 2 * 3 * 2
    assert set(got) == set(itertools.product(*matrix.values()))


def test_matrix_times_rows(sd):
    specs = expand({"prompts": ["a", "b", "c"], "matrix": {"steps": [10, 20]}}, sd, LIMITS)
    got = [(s.params["prompt"], s.params["steps"]) for s in specs]
    assert len(got) == 6
    assert set(got) == set(itertools.product(["a", "b", "c"], [10, 20]))


def test_params_are_defaults_that_rows_override(sd):
    specs = expand({"params": {"steps": 5, "negative": "ugly"}, "jobs": [{"prompt": "a"}, {"prompt": "b", "steps": 9}]}, sd, LIMITS)
    assert [(s.params["prompt"], s.params["steps"], s.params["negative"]) for s in specs] == [("a", 5, "ugly"), ("b", 9, "ugly")]


def test_params_only_is_one_job(sd):
    specs = expand({"params": {"prompt": "solo"}}, sd, LIMITS)
    assert len(specs) == 1 and specs[0].params["prompt"] == "solo"


def test_repeat_multiplies_every_row(sd):
    specs = expand({"prompts": ["a", "b"], "repeat": 3, "seed": "random"}, sd, LIMITS)
    assert [s.params["prompt"] for s in specs] == ["a", "a", "a", "b", "b", "b"]
    assert len({s.seed for s in specs}) == 6, "repeats of one prompt must get different seeds"


@pytest.mark.parametrize("repeat", [0, -1, 1.5, "2", True])
def test_invalid_repeat_is_400(sd, repeat):
    assert api_error(expand, {"prompts": ["a"], "repeat": repeat}, sd, LIMITS).status == 400


# -- seeds -------------------------------------------------------------------------------------


def test_seed_integer_means_fixed(sd):
    specs = expand({"prompts": ["a", "b", "c"], "seed": 77}, sd, LIMITS)
    assert [s.seed for s in specs] == [77, 77, 77]
    assert all(s.params["seed"] == s.seed for s in specs), "the seed used must be the one written into the prompt"


def test_fixed_policy_without_base_uses_the_template_seed(sd):
    specs = expand({"prompts": ["a", "b"], "seed": "fixed"}, sd, LIMITS)
    default = sd.bindings["seed"].default
    assert [s.seed for s in specs] == [default, default]


def test_increment_policy_counts_from_base(sd):
    specs = expand({"prompts": ["a", "b"], "repeat": 2, "seed": {"policy": "increment", "base": 1000}}, sd, LIMITS)
    assert [s.seed for s in specs] == [1000, 1001, 1002, 1003]
    assert [s.params["seed"] for s in specs] == [s.seed for s in specs]


def test_base_alone_implies_increment(sd):
    assert [s.seed for s in expand({"prompts": ["a", "b"], "seed": {"base": 3}}, sd, LIMITS)] == [3, 4]


def test_random_seeds_differ_are_stored_and_stay_json_safe(sd):
    specs = expand({"prompts": [f"p{i}" for i in range(200)]}, sd, LIMITS)  # random is the default
    seeds = [s.seed for s in specs]
    assert all(isinstance(x, int) and 0 <= x <= MAX_RANDOM_SEED for x in seeds)
    assert len(set(seeds)) == len(seeds)
    assert [s.params["seed"] for s in specs] == seeds


def test_random_seeds_differ_between_two_batches(sd):
    a = [s.seed for s in expand({"prompts": ["x"] * 5}, sd, LIMITS)]
    b = [s.seed for s in expand({"prompts": ["x"] * 5}, sd, LIMITS)]
    assert a != b


def test_random_seeds_come_from_the_given_rng(sd):
    a = [s.seed for s in expand({"prompts": ["x"] * 4}, sd, LIMITS, random.Random(5))]
    b = [s.seed for s in expand({"prompts": ["x"] * 4}, sd, LIMITS, random.Random(5))]
    assert a == b


@pytest.mark.parametrize("policy", ["random", "fixed", {"policy": "increment", "base": 100}])
def test_explicit_job_seed_wins_over_the_policy(sd, policy):
    specs = expand({"jobs": [{"prompt": "a", "seed": 5}, {"prompt": "b"}], "seed": policy}, sd, LIMITS)
    assert specs[0].seed == 5 and specs[0].params["seed"] == 5
    assert specs[1].seed != 5 or policy == "fixed"


def test_increment_counts_jobs_with_an_explicit_seed_too(sd):
    specs = expand({"jobs": [{"prompt": "a", "seed": 5}, {"prompt": "b"}], "seed": {"policy": "increment", "base": 100}}, sd, LIMITS)
    assert specs[1].seed == 101


def test_no_seed_binding_means_no_seed(no_seed):
    specs = expand({"prompts": ["a", "b"], "seed": "random"}, no_seed, LIMITS)
    assert [s.seed for s in specs] == [None, None]
    assert all("seed" not in s.params for s in specs)


def test_seed_value_without_seed_binding_is_an_unbound_parameter(no_seed):
    err = api_error(expand, {"jobs": [{"prompt": "a", "seed": 1}]}, no_seed, LIMITS)
    assert err.status == 400 and "'seed'" in err.message


@pytest.mark.parametrize("seed", [True, 1.5, "sometimes", {"policy": "fixed", "base": -1}, {"policy": "nope"}, [1]])
def test_invalid_seed_spec_is_400(sd, seed):
    err = api_error(expand, {"prompts": ["a"], "seed": seed}, sd, LIMITS)
    assert (err.status, err.code) == (400, "invalid_seed")


# -- bad requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"params": {"sampler": "euler"}}, {"jobs": [{"prompt": "a", "sampler": "euler"}]}, {"prompts": ["a"], "matrix": {"sampler": ["euler"]}}],
)
def test_unbound_parameter_is_400_naming_it(sd, body):
    err = api_error(expand, body, sd, LIMITS)
    assert (err.status, err.code) == (400, "unbound_parameter")
    assert "'sampler'" in err.message and err.details["param"] == "sampler"
    assert "prompt" in err.message, "the message should list the template's parameters"


@pytest.mark.parametrize("body", [{"prompts": []}, {"jobs": []}, {"prompts": [], "jobs": []}])
def test_empty_batch_is_422(sd, body):
    err = api_error(expand, body, sd, LIMITS)
    assert (err.status, err.code) == (422, "empty_batch")


@pytest.mark.parametrize(
    "body",
    [
        {"prompts": ["p"] * 6},
        {"jobs": [{"prompt": "p"}] * 6},
        {"prompts": ["p"] * 3, "jobs": [{"prompt": "q"}] * 3},
        {"matrix": {"steps": [1, 2, 3], "cfg": [1, 2]}},
        {"prompts": ["a", "b"], "matrix": {"steps": [1, 2, 3]}},
        {"prompts": ["a", "b"], "repeat": 3},
    ],
)
def test_too_many_jobs_is_413(sd, body):
    err = api_error(expand, body, sd, Limits(max_jobs=5))
    assert (err.status, err.code) == (413, "too_many_jobs")


def test_exactly_max_jobs_is_accepted(sd):
    assert len(expand({"prompts": ["a"], "matrix": {"steps": [1, 2, 3, 4, 5]}}, sd, Limits(max_jobs=5))) == 5


def test_repeat_over_its_limit_is_413(sd):
    assert api_error(expand, {"prompts": ["a"], "repeat": 11}, sd, Limits(max_repeat=10)).status == 413


@pytest.mark.parametrize("where", ["prompts", "params", "jobs", "matrix"])
def test_overlong_text_is_422_naming_the_parameter(sd, where):
    long = "x" * 11
    body = {
        "prompts": {"prompts": ["ok", long]},
        "params": {"params": {"negative": long}},
        "jobs": {"jobs": [{"prompt": long}]},
        "matrix": {"matrix": {"negative": ["ok", long]}},
    }[where]
    err = api_error(expand, body, sd, Limits(max_text_length=10))
    assert (err.status, err.code) == (422, "value_too_long")
    assert err.details["param"] in ("prompt", "negative") and err.details["param"] in err.message


def test_text_at_the_limit_is_accepted(sd):
    assert expand({"prompts": ["x" * 10]}, sd, Limits(max_text_length=10))[0].params["prompt"] == "x" * 10


@pytest.mark.parametrize(
    "body",
    [{"prompts": "a"}, {"prompts": ["a", 3]}, {"jobs": {"prompt": "a"}}, {"jobs": ["a"]}, {"matrix": []}, {"matrix": {}},
     {"matrix": {"steps": []}}, {"matrix": {"steps": 3}}, {"params": ["a"]}],
)
def test_malformed_sources_are_400(sd, body):
    assert api_error(expand, body, sd, LIMITS).status == 400


def test_seed_given_in_params_is_used_for_a_single_job(sd):
    # What POST /generate {"params": {"prompt": ..., "seed": 42}} expands to: the user asked for seed 42.
    specs = expand({"params": {"prompt": "a fox", "seed": 42}}, sd, LIMITS)
    assert [s.seed for s in specs] == [42]
    assert specs[0].params["seed"] == 42


def test_seed_in_params_without_a_policy_is_every_job_s_seed(sd):
    specs = expand({"prompts": ["a", "b"], "params": {"seed": 42}}, sd, LIMITS)
    assert [s.seed for s in specs] == [42, 42]


def test_seed_in_params_is_the_base_of_an_explicit_increment_policy(sd):
    specs = expand({"prompts": ["a", "b", "c"], "params": {"seed": 42}, "seed": "increment"}, sd, LIMITS)
    assert [s.seed for s in specs] == [42, 43, 44]


def test_seed_in_params_with_an_explicit_random_policy_is_replaced(sd):
    specs = expand({"prompts": ["a"] * 20, "params": {"seed": 42}, "seed": "random"}, sd, LIMITS)
    assert len({s.seed for s in specs}) == 20


@pytest.mark.parametrize("body", [
    {"seed": -1}, {"seed": 2**64}, {"seed": {"base": -5}}, {"seed": {"policy": "fixed", "base": 2**64}},
    {"params": {"seed": -1}}, {"jobs": [{"seed": 2**64}]},
])
def test_seeds_outside_comfyuis_range_are_refused(sd, body):
    err = api_error(expand, {"prompts": ["a"], **body} if "jobs" not in body else body, sd, LIMITS)
    assert (err.status, err.code) == (400, "invalid_seed")


def test_the_largest_seed_comfyui_takes_is_kept_exactly(sd):
    (spec,) = expand({"prompts": ["a"], "seed": 2**64 - 1}, sd, LIMITS)
    assert spec.seed == 2**64 - 1 and spec.params["seed"] == 2**64 - 1


def test_increment_past_the_seed_range_is_refused(sd):
    err = api_error(expand, {"prompts": ["a", "b"], "seed": {"policy": "increment", "base": 2**64 - 1}}, sd, LIMITS)
    assert err.code == "invalid_seed"
