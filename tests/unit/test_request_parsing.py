"""Property-based: whatever JSON arrives, request parsing answers with our ApiError (a 4xx), never anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batchgen_ext.batchgen import api_models as m
from batchgen_ext.batchgen.api_parse import loads_strict, parse_query, parse_request
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.expansion import Limits, expand
from batchgen_ext.batchgen.registry import TemplateRegistry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
CARD = TemplateRegistry(ROOT / "workflows", None).get("text-card")
LIMITS = Limits(max_jobs=200, max_repeat=50)
BODY_MODELS = [m.BatchRequest, m.GenerateRequest, m.TemplateRequest, m.PriorityRequest, m.EmptyBody]
QUERY_MODELS = [m.BatchListQuery, m.JobListQuery, m.DeleteQuery, m.EventsQuery]
SETTINGS = settings(max_examples=60, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**53, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=16)


def bodies(model) -> st.SearchStrategy:
    """Objects whose keys are mostly the model's own fields (so validation gets past the unknown-field check)."""
    names = list(model.model_fields) + ["width", "prompt", "propmts", "requests", "seed", "workflow", "x"]
    values = json_values | st.sampled_from(["text-card", "random", "increment", "fixed", 0, 1, -1, 2**64])
    return st.dictionaries(st.sampled_from(names), values, max_size=6)


def accepts_or_refuses(fn, *args):
    """Run a parser: it may return a value or raise ApiError with a 4xx status, nothing else."""
    try:
        return fn(*args)
    except ApiError as exc:
        assert 400 <= exc.status < 500, exc
        assert exc.code and exc.message
        json.dumps(exc.to_json(), allow_nan=False)  # the error itself is always valid JSON
        return None


@pytest.mark.parametrize("model", BODY_MODELS, ids=lambda model: model.__name__)
@SETTINGS
@given(data=st.data())
def test_any_json_body_is_parsed_or_refused_with_an_api_error(model, data):
    body = data.draw(bodies(model) | json_values)
    accepts_or_refuses(parse_request, model, body)


@SETTINGS
@given(body=bodies(m.BatchRequest))
def test_a_parsed_batch_expands_or_is_refused_with_an_api_error(body):
    body = {**body, "template": "text-card"}
    req = accepts_or_refuses(parse_request, m.BatchRequest, body)
    if req is not None:
        specs = accepts_or_refuses(expand, req.model_dump(exclude_unset=True, exclude={"template"}), CARD, LIMITS)
        for spec in specs or []:
            json.dumps(spec.params, allow_nan=False)  # what is stored can be sent back as JSON


@pytest.mark.parametrize("model", QUERY_MODELS, ids=lambda model: model.__name__)
@SETTINGS
@given(query=st.dictionaries(st.sampled_from(["limit", "offset", "status", "images", "after", "batch", "limt"]), st.text(max_size=30)))
def test_any_query_string_is_parsed_or_refused(model, query):
    accepts_or_refuses(parse_query, model, query)


@SETTINGS
@given(value=json_values)
def test_strict_json_round_trips_or_refuses(value):
    try:
        text = json.dumps(value)
    except ValueError:
        return
    parsed = accepts_or_refuses(loads_strict, text)
    if parsed is not None:
        json.dumps(parsed, allow_nan=False)


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from('[]{}":,0123456789.eE-+ \\uNaIfinty'), max_size=60))
def test_strict_json_never_raises_on_garbage(text):
    accepts_or_refuses(loads_strict, text)
