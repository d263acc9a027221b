"""schemathesis on the served OpenAPI with remote access enforced (BATCHGEN_REQUIRE_TOKEN=1): every call carries an
admin token; no 5xx, every response as documented. A call without the token must be a documented 401."""

from __future__ import annotations

import urllib.request

import pytest
from hypothesis import HealthCheck, settings

from tests.api.test_schemathesis import CHECKS, ServedApp, schema


@pytest.fixture(scope="module")
def served_with_token():
    app = ServedApp(require_token=True)
    app.start()
    yield f"http://127.0.0.1:{app.port}/batchgen/v1", app.token
    app.stop()


def test_without_the_token_even_loopback_is_refused(served_with_token):
    base, _token = served_with_token
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + "/batches", timeout=10)
    assert refused.value.code == 401


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_with_a_token_conforms_to_its_openapi_document(case, served_with_token):
    base, token = served_with_token
    case.call_and_validate(base_url=base, checks=CHECKS, timeout=20, headers={"Authorization": f"Bearer {token}"})
