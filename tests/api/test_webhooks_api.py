"""Webhooks on the fast app: signed deliveries from the event log, retries with backoff, cursor, targets, secrets, scopes."""

from __future__ import annotations

import asyncio
import ipaddress
import json

import pytest
from aiohttp import web
from batchgen_ext.batchgen.store import webhooks_sql
from batchgen_ext.batchgen.webhook_targets import TargetPolicy
from standardwebhooks import Webhook

from tests.api.remote_app import API, PEER_HEADER, make_env

FAST = {"webhook_backoff_seconds": 0.02, "webhook_backoff_max_seconds": 0.1}


class Receiver:
    """A local receiver: verifies every signature, answers 500 to the first ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.secret: str | None = None
        self.requests = 0
        self.received: list[dict] = []  # verified bodies, in arrival order
        self.ids: list[str] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        raw = await request.read()
        try:
            body = Webhook(self.secret).verify(raw, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return web.Response(status=400)
        if self.requests <= self.fail_first:
            return web.Response(status=500)
        self.received.append(body)
        self.ids.append(request.headers["webhook-id"])
        return web.Response(status=204)


@pytest.fixture
async def receiver_url(aiohttp_server):
    async def make(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = await aiohttp_server(app)
        return f"http://127.0.0.1:{server.port}/hook"

    return make


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    e = await make_env(aiohttp_client, tmp_path, webhook_allow_private=True, **FAST)
    e.context.webhooks.policy = TargetPolicy(allow_private=True)
    await e.context.webhooks.start()
    yield e
    await e.context.webhooks.stop()
    await e.store.close()


async def create_batch(env, n: int = 3) -> str:
    resp = await env.client.post(API + "/batches", json={"template": "text-card", "prompts": [f"p{i}" for i in range(n)]})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the receiver's state is plain data, polled
            await asyncio.sleep(0.02)


async def test_batch_webhook_delivers_every_outcome_signed_after_failures(env, receiver_url):
    receiver = Receiver(fail_first=3)
    url = await receiver_url(receiver)
    batch = await create_batch(env, 3)
    resp = await env.client.post(f"{API}/batches/{batch}/webhooks", json={"url": url})
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    receiver.secret = created["secret"]
    assert created["secret"].startswith("whsec_") and resp.headers["Cache-Control"] == "no-store"
    await env.host.run_all(env.service.dispatcher)
    await wait_for(lambda: len({i for i in receiver.ids}) == 4)  # 3 job.succeeded + batch.completed, retried after the 500s
    unique = {b["data"]["seq"]: b["type"] for b in receiver.received}
    assert sorted(unique.values()) == ["batch.completed"] + ["job.succeeded"] * 3
    assert receiver.bad_signatures == 0 and len(receiver.received) == 4  # a confirmed event is not sent again
    assert {b["data"]["batch_id"] for b in receiver.received} == {batch}
    assert receiver.ids == [f"evt_{b['data']['seq']}" for b in receiver.received]  # ids from the event log's seq
    # The secret is never answered again; the attempts (3 failed, then the rest) are listed.
    info: dict = {}

    async def recorded() -> bool:  # the attempt is recorded just after the receiver answered
        nonlocal info
        info = await (await env.client.get(f"{API}/webhooks/{created['id']}")).json()
        return info["delivered"] >= 4

    async with asyncio.timeout(5):
        while not await recorded():  # noqa: ASYNC110 - polls the API
            await asyncio.sleep(0.02)
    assert "secret" not in info and info["failures"] >= 3 and info["last_status"] == "ok"
    deliveries = (await (await env.client.get(f"{API}/webhooks/{created['id']}/deliveries")).json())["deliveries"]
    failed = [d for d in deliveries if not d["ok"]]
    assert len(failed) >= 3 and all(d["status_code"] == 500 and d["error"] == "answered HTTP 500" for d in failed)
    assert max(d["attempt"] for d in deliveries) >= 2 and all(d["duration_ms"] >= 0 for d in deliveries)
    assert "secret" not in json.dumps(await (await env.client.get(f"{API}/webhooks")).json())


async def test_cursor_survives_a_restart_and_moves_only_after_2xx(env, receiver_url):
    receiver = Receiver(fail_first=10_000)  # down: nothing is confirmed
    url = await receiver_url(receiver)
    resp = await env.client.post(f"{API}/webhooks", json={"url": url, "events": ["job.*"]})
    hook = await resp.json()
    receiver.secret = hook["secret"]
    await create_batch(env, 2)
    await env.host.run_all(env.service.dispatcher)
    await wait_for(lambda: receiver.requests >= 4)
    row = await env.store.run_read(webhooks_sql.get_sync, hook["id"])
    first_job_event = min(e["seq"] for e in (await (await env.client.get(API + "/events")).json())["events"]
                          if e["type"] == "batchgen.job")
    assert row.cursor < first_job_event  # nothing confirmed: the cursor stays before the first job event
    # "Restart": a new manager over the same store and secrets, the receiver back up.
    await env.context.webhooks.stop()
    receiver.fail_first = 0
    receiver.requests = 0
    await env.context.webhooks.start()
    await wait_for(lambda: sum(1 for b in receiver.received if b["type"] == "job.succeeded") == 2)
    kinds = {b["type"] for b in receiver.received}
    assert kinds <= {"job.queued", "job.started", "job.succeeded"} and "job.queued" in kinds


async def test_global_webhook_starts_after_now_and_filters(env, receiver_url):
    await create_batch(env, 1)  # before the webhook: not delivered
    receiver = Receiver()
    url = await receiver_url(receiver)
    hook = await (await env.client.post(f"{API}/webhooks", json={"url": url, "events": ["batch.completed"]})).json()
    receiver.secret = hook["secret"]
    batch = await create_batch(env, 2)
    await env.host.run_all(env.service.dispatcher)
    await wait_for(lambda: len(receiver.received) >= 2)
    await asyncio.sleep(0.2)
    assert [b["type"] for b in receiver.received] == ["batch.completed", "batch.completed"]
    assert receiver.received[-1]["data"]["batch_id"] == batch or receiver.received[0]["data"]["batch_id"] == batch
    resp = await env.client.delete(f"{API}/webhooks/{hook['id']}")
    assert resp.status == 200
    assert (await env.client.get(f"{API}/webhooks/{hook['id']}")).status == 404


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://169.254.169.254/latest/meta-data", "http://[fd00::1]/x",
                                 "http://10.0.0.5/x", "http://[::ffff:127.0.0.1]/x", "http://192.168.1.1/x", "http://0.0.0.0/x"])
async def test_private_and_metadata_targets_are_refused(aiohttp_client, tmp_path, url):
    env = await make_env(aiohttp_client, tmp_path)
    try:
        resp = await env.client.post(f"{API}/webhooks", json={"url": url})
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["error"] == "webhook_target_not_allowed"
        assert (await (await env.client.get(f"{API}/webhooks")).json())["webhooks"] == []
    finally:
        await env.store.close()


async def test_a_name_resolving_to_loopback_is_refused_and_rechecked_at_delivery(aiohttp_client, tmp_path):
    env = await make_env(aiohttp_client, tmp_path, **FAST)
    answers = {"hooks.example.com": [ipaddress.ip_address("93.184.216.34")]}

    async def fake_dns(host, port):
        return answers[host]

    env.context.webhooks.resolver = fake_dns
    await env.context.webhooks.start()
    try:
        resp = await env.client.post(f"{API}/webhooks", json={"url": "http://hooks.example.com/in", "events": ["*"]})
        assert resp.status == 201, await resp.text()
        hook = await resp.json()
        answers["hooks.example.com"] = [ipaddress.ip_address("127.0.0.1")]  # DNS rebinding after the check
        await create_batch(env, 1)
        await env.host.run_all(env.service.dispatcher)
        deliveries: list = []

        async def refused():
            nonlocal deliveries
            deliveries = (await (await env.client.get(f"{API}/webhooks/{hook['id']}/deliveries")).json())["deliveries"]
            return deliveries

        async with asyncio.timeout(5):
            while not await refused():  # noqa: ASYNC110 - polls the API
                await asyncio.sleep(0.05)
        assert all(not d["ok"] and d["status_code"] is None and "127.0.0.1" in d["error"] for d in deliveries)
    finally:
        await env.context.webhooks.stop()
        await env.store.close()


async def test_bad_webhook_requests_change_nothing(env):
    for body, code in [({"url": "ftp://x.example.com/a"}, "invalid_webhook_url"), ({"url": "http://u:p@x.example.com/"}, "invalid_webhook_url"),
                       ({"url": "http://x.example.com/", "events": ["job.exploded"]}, "invalid_webhook_events"),
                       ({"url": "http://x.example.com/", "secret": "mine"}, "unknown_field")]:
        resp = await env.client.post(f"{API}/webhooks", json=body)
        assert resp.status == 400 and (await resp.json())["error"] == code, (body, await resp.text())
    resp = await env.client.post(f"{API}/batches/{'0' * 32}/webhooks", json={"url": "http://127.0.0.1:9/x"})
    assert resp.status == 404 and (await resp.json())["error"] == "batch_not_found"
    assert (await (await env.client.get(f"{API}/webhooks")).json())["webhooks"] == []


async def test_scopes_global_needs_admin_batch_needs_submit(env):
    _, submit = env.tokens.create("ci", "submit")
    batch = await create_batch(env, 1)
    remote = {PEER_HEADER: "203.0.113.9", "Authorization": f"Bearer {submit}"}
    resp = await env.client.post(f"{API}/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=remote)
    assert resp.status == 403 and (await resp.json())["error"] == "insufficient_scope"
    resp = await env.client.post(f"{API}/batches/{batch}/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=remote)
    assert resp.status == 201, await resp.text()
    assert (await env.client.get(f"{API}/webhooks", headers=remote)).status == 403


async def test_a_batch_webhook_goes_with_its_batch(env):
    batch = await create_batch(env, 1)
    hook = await (await env.client.post(f"{API}/batches/{batch}/webhooks", json={"url": "http://127.0.0.1:9/x"})).json()
    listed = await (await env.client.get(f"{API}/batches/{batch}/webhooks")).json()
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]]
    await env.host.run_all(env.service.dispatcher)
    assert (await env.client.delete(f"{API}/batches/{batch}")).status == 200
    assert (await env.client.get(f"{API}/webhooks/{hook['id']}")).status == 404


async def test_two_processes_on_one_database_deliver_each_event_once(env, receiver_url):
    from batchgen_ext.batchgen.webhooks import WebhookManager

    receiver = Receiver()
    url = await receiver_url(receiver)
    hook = await (await env.client.post(f"{API}/webhooks", json={"url": url, "events": ["job.*"]})).json()
    receiver.secret = hook["secret"]
    first = env.context.webhooks
    second = WebhookManager(env.store, first.secrets, first.policy, "other-process", first.settings)
    await second.start()  # the same webhook, another owner: the lease lets only one deliver
    try:
        await create_batch(env, 4)
        await env.host.run_all(env.service.dispatcher)
        await wait_for(lambda: sum(1 for b in receiver.received if b["type"] == "job.succeeded") == 4)
        await asyncio.sleep(0.5)
        assert len(receiver.ids) == len(set(receiver.ids))  # nothing twice
    finally:
        await second.stop()


async def test_ping_sends_one_signed_test_message_and_lists_the_attempt_without_moving_the_cursor(env, receiver_url):
    receiver = Receiver()
    url = await receiver_url(receiver)
    created = await (await env.client.post(f"{API}/webhooks", json={"url": url, "events": ["batch.*"]})).json()
    receiver.secret = created["secret"]
    resp = await env.client.post(f"{API}/webhooks/{created['id']}/ping", json={})
    assert resp.status == 200, await resp.text()
    attempt = await resp.json()
    assert attempt["ok"] is True and attempt["status_code"] == 204 and attempt["event_type"] == "webhook.ping"
    assert attempt["event_seq"] == 0 and attempt["message_id"].startswith("ping_") and attempt["error"] is None
    (body,) = receiver.received  # verified with the webhook's secret by the receiver
    assert body["type"] == "webhook.ping" and body["data"]["webhook_id"] == created["id"]
    assert receiver.ids == [attempt["message_id"]] and receiver.bad_signatures == 0
    listed = (await (await env.client.get(f"{API}/webhooks/{created['id']}/deliveries")).json())["deliveries"]
    assert listed == [attempt]
    info = await (await env.client.get(f"{API}/webhooks/{created['id']}")).json()
    assert (info["cursor"], info["delivered"], info["failures"]) == (created["cursor"], 0, 0)


async def test_a_ping_the_receiver_refuses_is_answered_with_the_failure_and_recorded(env, receiver_url):
    receiver = Receiver(fail_first=1)
    url = await receiver_url(receiver)
    created = await (await env.client.post(f"{API}/webhooks", json={"url": url})).json()
    receiver.secret = created["secret"]
    attempt = await (await env.client.post(f"{API}/webhooks/{created['id']}/ping", json={})).json()
    assert (attempt["ok"], attempt["status_code"], attempt["error"]) == (False, 500, "answered HTTP 500")
    env.context.webhooks.policy = TargetPolicy()  # loopback no longer allowed: refused before anything is sent
    refused = await (await env.client.post(f"{API}/webhooks/{created['id']}/ping", json={})).json()
    assert refused["ok"] is False and refused["status_code"] is None and refused["error"]
    assert receiver.requests == 1
    listed = (await (await env.client.get(f"{API}/webhooks/{created['id']}/deliveries")).json())["deliveries"]
    assert [d["id"] for d in listed] == [refused["id"], attempt["id"]]


async def test_ping_of_an_unknown_webhook_is_404_and_a_form_post_is_refused(env):
    resp = await env.client.post(f"{API}/webhooks/wh_0000000000000000/ping", json={})
    assert resp.status == 404 and (await resp.json())["error"] == "webhook_not_found"
    resp = await env.client.post(f"{API}/webhooks/wh_0000000000000000/ping", data="a=1",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415


@pytest.fixture
async def strict_env(aiohttp_client, tmp_path):
    e = await make_env(aiohttp_client, tmp_path, webhook_allow_private=True, webhook_disable_after=3, webhook_disable_hours=0.0, **FAST)
    e.context.webhooks.policy = TargetPolicy(allow_private=True)
    await e.context.webhooks.start()
    yield e
    await e.context.webhooks.stop()
    await e.store.close()


async def webhook_info(env, webhook_id: str) -> dict:
    return await (await env.client.get(f"{API}/webhooks/{webhook_id}")).json()


async def test_a_webhook_failing_too_long_is_disabled_and_enabling_it_delivers_what_it_missed(strict_env, receiver_url):
    env = strict_env
    receiver = Receiver(fail_first=10**6)
    url = await receiver_url(receiver)
    batch = await create_batch(env, 3)
    created = await (await env.client.post(f"{API}/batches/{batch}/webhooks", json={"url": url})).json()
    receiver.secret = created["secret"]
    await env.host.run_all(env.service.dispatcher)
    info: dict = {}

    async def disabled() -> bool:
        nonlocal info
        info = await webhook_info(env, created["id"])
        return info["disabled_at"] is not None

    async with asyncio.timeout(10):
        while not await disabled():  # noqa: ASYNC110 - polls the API
            await asyncio.sleep(0.02)
    assert info["failure_streak"] >= 3 and "failed in a row" in info["disabled_reason"]
    sent = receiver.requests
    await asyncio.sleep(0.5)  # several backoff periods (0.02-0.1 s): a disabled webhook is not tried again
    assert receiver.requests == sent and receiver.received == []

    receiver.fail_first = 0
    resp = await env.client.post(f"{API}/webhooks/{created['id']}/enable", json={})
    assert resp.status == 200
    enabled = await resp.json()
    assert (enabled["disabled_at"], enabled["disabled_reason"], enabled["failure_streak"]) == (None, None, 0)
    await wait_for(lambda: len(set(receiver.ids)) == 4)  # the 3 jobs and the batch's end, missed while disabled
    assert sorted(b["type"] for b in receiver.received) == ["batch.completed"] + ["job.succeeded"] * 3


async def test_failures_shorter_than_the_period_do_not_disable(aiohttp_client, tmp_path, receiver_url):
    env = await make_env(aiohttp_client, tmp_path, webhook_allow_private=True, webhook_disable_after=2, webhook_disable_hours=1.0,
                         **FAST)
    env.context.webhooks.policy = TargetPolicy(allow_private=True)
    await env.context.webhooks.start()
    try:
        receiver = Receiver(fail_first=10**6)
        url = await receiver_url(receiver)
        batch = await create_batch(env, 1)
        created = await (await env.client.post(f"{API}/batches/{batch}/webhooks", json={"url": url})).json()
        receiver.secret = created["secret"]
        await env.host.run_all(env.service.dispatcher)
        await wait_for(lambda: receiver.requests >= 6)
        await asyncio.sleep(0.05)
        info = await webhook_info(env, created["id"])
        assert info["failure_streak"] >= 4 and info["disabled_at"] is None, "the streak spans less than the hour"
    finally:
        await env.context.webhooks.stop()
        await env.store.close()
