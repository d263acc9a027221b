"""Submission rate limits per token (429 rate_limited with Retry-After, nothing created) and per-route body limits."""

from __future__ import annotations

import pytest
from batchgen_ext.batchgen.ratelimit import RateLimiter
from batchgen_ext.server_routes.routes import ROUTES
from batchgen_ext.server_routes.table import CONTROL_BODY_LIMIT

from tests.api.remote_app import API, PEER_HEADER, make_env

BODY = {"template": "text-card", "prompts": ["a"]}


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    e = await make_env(aiohttp_client, tmp_path, rate_per_minute=60, rate_burst=3)
    e.context.limiter = RateLimiter(60, 3)
    yield e
    await e.store.close()


async def batch_count(env) -> int:
    return (await (await env.client.get(API + "/batches")).json())["total"]


async def test_a_token_beyond_its_burst_gets_429_with_retry_after_and_nothing_is_created(env):
    _, token = env.tokens.create("ci", "submit")
    headers = {PEER_HEADER: "203.0.113.7", "Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert (await env.client.post(API + "/batches", json=BODY, headers=headers)).status == 201
    resp = await env.client.post(API + "/batches", json=BODY, headers=headers)
    assert resp.status == 429
    body = await resp.json()
    assert body["error"] == "rate_limited" and body["details"]["retry_after"] >= 1
    assert int(resp.headers["Retry-After"]) >= 1
    assert await batch_count(env) == 3
    # Another token has its own bucket; reads are not limited.
    _, other = env.tokens.create("other", "submit")
    assert (await env.client.post(API + "/generate", json={"template": "text-card", "prompt": "x"},
                                  headers={**headers, "Authorization": f"Bearer {other}"})).status == 201
    assert (await env.client.get(API + "/batches", headers=headers)).status == 200


async def test_loopback_callers_are_not_limited_unless_configured(env, aiohttp_client, tmp_path):
    for _ in range(5):
        assert (await env.client.post(API + "/batches", json=BODY)).status == 201
    limited = await make_env(aiohttp_client, tmp_path / "b", rate_limit_loopback=True)
    limited.context.limiter = RateLimiter(60, 2)
    try:
        statuses = [(await limited.client.post(API + "/batches", json=BODY)).status for _ in range(3)]
        assert statuses == [201, 201, 429]
    finally:
        await limited.store.close()


def test_bucket_refills_at_the_configured_rate():
    now = [0.0]
    limiter = RateLimiter(60, 2, clock=lambda: now[0])
    limiter.check("k")
    limiter.check("k")
    with pytest.raises(Exception) as refused:
        limiter.check("k")
    assert refused.value.headers["Retry-After"] == "1"
    now[0] = 1.0  # one a second
    limiter.check("k")
    assert RateLimiter(0, 1).enabled is False


async def test_small_routes_refuse_a_large_body_with_413(env):
    big = {"url": "http://x.example.com/" + "a" * (CONTROL_BODY_LIMIT + 10)}
    resp = await env.client.post(API + "/webhooks", json=big)
    assert resp.status == 413 and (await resp.json())["error"] == "body_too_large"
    limits = {r.operation_id: r.body_limit for r in ROUTES if r.body is not None}
    assert limits["createWebhook"] == limits["createToken"] == limits["cancelBatch"] == CONTROL_BODY_LIMIT
    assert limits["createBatch"] is None  # BATCHGEN_MAX_BODY_MB
    rate_limited = {r.operation_id for r in ROUTES if r.rate_limited}
    assert rate_limited == {"createBatch", "previewBatch", "generate"}
