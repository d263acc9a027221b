"""Who may call what: the loopback exemption, token scopes, and the token admin routes.

The decision function is tested with explicit peers and headers; the matrix through the app uses
a simulated non-loopback TCP peer (see tests/api/remote_app.py for what that simulates).
"""

from __future__ import annotations

import logging

import pytest
from batchgen_ext.batchgen.access import AccessPolicy, is_loopback_host, is_loopback_ip
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.tokens import TokenStore

from tests.api.remote_app import API, PEER_HEADER, make_env

REMOTE = {PEER_HEADER: "10.200.0.2"}
BATCH = {"template": "text-card", "prompts": ["a", "b"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    e = await make_env(aiohttp_client, tmp_path)
    yield e
    await e.store.close()


def test_loopback_literals_only():
    assert is_loopback_ip("127.0.0.1") and is_loopback_ip("127.9.9.9") and is_loopback_ip("::1")
    assert is_loopback_ip("::ffff:127.0.0.1")
    assert not is_loopback_ip("10.0.0.1") and not is_loopback_ip(None) and not is_loopback_ip("localhost")
    assert is_loopback_host("127.0.0.1:8188") and is_loopback_host("localhost:8188") and is_loopback_host("[::1]:8188")
    # A DNS-rebinding name resolves to 127.0.0.1 for the attacker's page, but it is not a loopback *name*.
    assert not is_loopback_host("rebind.evil.example:8188") and not is_loopback_host("127.0.0.1.nip.io")


@pytest.mark.parametrize(("peer", "headers", "exempt"), [
    ("127.0.0.1", {"Host": "127.0.0.1:8188"}, True),
    ("::1", {"Host": "localhost:8188"}, True),
    ("10.200.0.2", {"Host": "10.200.0.1:8188"}, False),
    ("127.0.0.1", {"Host": "rebind.evil.example:8188"}, False),
    ("127.0.0.1", {"Host": "127.0.0.1:8188", "X-Forwarded-For": "127.0.0.1"}, False),  # untrusted proxy hop
    ("127.0.0.1", {"Host": "127.0.0.1:8188", "Origin": "http://localhost:3000"}, False),  # a page of another origin
    ("127.0.0.1", {"Host": "127.0.0.1:8188", "Origin": "null"}, False),
    ("127.0.0.1", {"Host": "127.0.0.1:8188", "Origin": "http://127.0.0.1:8188"}, True),  # ComfyUI's own page
    ("127.0.0.1", {"Host": "127.0.0.1:8188", "Sec-Fetch-Site": "cross-site"}, False),
])
def test_loopback_exemption(tmp_path, peer, headers, exempt):
    policy = AccessPolicy(TokenStore(None))
    assert policy.loopback_exempt(peer, headers) is exempt


def test_trusted_proxy_forwarding_for_a_local_client_only():
    policy = AccessPolicy(TokenStore(None), trusted_proxies=("127.0.0.1",))
    local = {"Host": "127.0.0.1:8188", "X-Forwarded-For": "127.0.0.1"}
    remote = {"Host": "127.0.0.1:8188", "X-Forwarded-For": "203.0.113.9, 127.0.0.1"}
    assert policy.loopback_exempt("127.0.0.1", local)
    assert not policy.loopback_exempt("127.0.0.1", remote)
    assert not AccessPolicy(TokenStore(None), require_token=True).loopback_exempt("127.0.0.1", {"Host": "127.0.0.1"})


def test_decide_codes():
    store = TokenStore(None)
    policy = AccessPolicy(store)
    _, read = store.create("r", "read")
    far = {"Host": "10.0.0.1:8188"}
    with pytest.raises(ApiError) as err:
        policy.decide("10.0.0.2", far, set(), "read")
    assert (err.value.status, err.value.code) == (401, "token_required") and "Bearer" in err.value.headers["WWW-Authenticate"]
    with pytest.raises(ApiError) as err:
        policy.decide("10.0.0.2", {**far, "Authorization": "Basic abc"}, set(), "read")
    assert err.value.code == "token_invalid"
    with pytest.raises(ApiError) as err:
        policy.decide("10.0.0.2", {**far, **bearer(read)}, set(), "submit")
    assert (err.value.status, err.value.code, err.value.details["needed"]) == (403, "insufficient_scope", "submit")
    with pytest.raises(ApiError) as err:
        policy.decide("127.0.0.1", {"Host": "127.0.0.1"}, {"access_token"}, "read")
    assert (err.value.status, err.value.code) == (400, "token_in_query") and "Authorization: Bearer" in err.value.message
    assert policy.decide("10.0.0.2", {**far, **bearer(read)}, set(), "read").token.name == "r"


async def test_remote_caller_without_any_token_is_told_how_to_create_one(env, caplog):
    caplog.set_level(logging.WARNING, "batchgen")
    for _ in range(3):
        resp = await env.client.get(API + "/batches", headers=REMOTE)
        body = await resp.json()
        assert resp.status == 401 and body["error"] == "token_required"
        assert "cli.py token create" in body["message"] and resp.headers["WWW-Authenticate"].startswith("Bearer")
    hints = [r for r in caplog.records if "cli.py token create" in r.getMessage()]
    assert len(hints) == 1  # one log line per process, not one per request


async def test_remote_matrix_changes_nothing_unless_allowed(env):
    _, read = env.tokens.create("reader", "read")
    submit_rec, submit = env.tokens.create("laptop", "submit")
    cases = [({}, 401, "token_required"), (bearer("bg_wrong"), 401, "token_invalid"), (bearer(read), 403, "insufficient_scope")]
    for headers, status, code in cases:
        resp = await env.client.post(API + "/batches", json=BATCH, headers={**REMOTE, **headers})
        assert (resp.status, (await resp.json())["error"]) == (status, code)
    resp = await env.client.post(API + "/batches?token=" + submit, json=BATCH, headers=REMOTE)
    text = await resp.text()
    assert resp.status == 400 and "token_in_query" in text and submit not in text
    assert (await env.store.list_batches())[1] == 0  # nothing was created
    resp = await env.client.post(API + "/batches", json=BATCH, headers={**REMOTE, **bearer(submit)})
    assert resp.status == 201
    resp = await env.client.get(API + "/batches", headers={**REMOTE, **bearer(read)})
    assert resp.status == 200 and (await resp.json())["total"] == 1
    env.tokens.revoke(submit_rec.id)
    resp = await env.client.post(API + "/batches", json=BATCH, headers={**REMOTE, **bearer(submit)})
    assert resp.status == 401 and (await resp.json())["error"] == "token_invalid"
    assert (await env.store.list_batches())[1] == 1


async def test_loopback_goes_without_a_token_unless_required(env, aiohttp_client, tmp_path):
    assert (await env.client.get(API + "/batches")).status == 200  # the test server's real peer is 127.0.0.1
    rebind = await env.client.get(API + "/batches", headers={"Host": "rebind.evil.example"})
    assert rebind.status == 401
    strict = await make_env(aiohttp_client, tmp_path / "strict", require_token=True)
    try:
        assert (await strict.client.get(API + "/batches")).status == 401
        _, token = strict.tokens.create("me", "read")
        assert (await strict.client.get(API + "/batches", headers=bearer(token))).status == 200
    finally:
        await strict.store.close()


async def test_token_admin_routes(env):
    _, admin = env.tokens.create("root", "admin")
    _, submit = env.tokens.create("laptop", "submit")
    resp = await env.client.post(API + "/tokens", json={"name": "ci", "scope": "read"}, headers={**REMOTE, **bearer(submit)})
    assert resp.status == 403 and (await resp.json())["details"]["needed"] == "admin"
    resp = await env.client.post(API + "/tokens", json={"name": "ci", "scope": "read"}, headers={**REMOTE, **bearer(admin)})
    made = await resp.json()
    assert resp.status == 201 and made["token"].startswith("bg_") and resp.headers["Cache-Control"] == "no-store"
    resp = await env.client.post(API + "/tokens", json={"name": "x", "scope": "root"}, headers={**REMOTE, **bearer(admin)})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_scope"
    listing = await env.client.get(API + "/tokens", headers={**REMOTE, **bearer(admin)})
    text = await listing.text()
    assert listing.status == 200 and made["token"] not in text and admin not in text and '"hash"' not in text
    assert [t["name"] for t in (await listing.json())["tokens"]] == ["root", "laptop", "ci"]
    assert (await env.client.get(API + "/batches", headers={**REMOTE, **bearer(made["token"])})).status == 200
    resp = await env.client.delete(API + f"/tokens/{made['id']}", headers={**REMOTE, **bearer(admin)})
    assert resp.status == 200 and (await resp.json())["revoked"] is True
    assert (await env.client.get(API + "/batches", headers={**REMOTE, **bearer(made["token"])})).status == 401
    resp = await env.client.delete(API + "/tokens/nope", headers={**REMOTE, **bearer(admin)})
    assert resp.status == 404 and (await resp.json())["error"] == "token_not_found"


SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain")


async def test_simple_content_types_change_nothing_on_any_mutating_route(env):
    """What a cross-site <form> or no-cors fetch can send: refused on every route with a body, even from loopback."""
    from batchgen_ext.server_routes.routes import ROUTES

    batch = (await (await env.client.post(API + "/batches", json=BATCH)).json())["id"]
    before = (await env.store.list_batches())[1], [t.id for t in env.tokens.list()]
    mutating = [r for r in ROUTES if r.method in ("POST", "DELETE") and r.body is not None]
    assert len(mutating) >= 8
    for route in mutating:
        path = API + route.path.replace("{batch_id}", batch).replace("{job_id}", "1").replace("{webhook_id}", "wh_0000000000000000")
        for content_type in SIMPLE_TYPES:
            resp = await env.client.request(route.method, path, data=b"template=text-card&prompts=x",
                                            headers={"Content-Type": content_type})
            assert resp.status == 415, (route.path, content_type, await resp.text())
            # The same from a page of another origin: no token, so refused before the body is even read.
            resp = await env.client.request(route.method, path, data=b"x", headers={"Content-Type": content_type,
                                                                                   "Origin": "http://evil.example"})
            assert resp.status == 401, (route.path, content_type)
    assert ((await env.store.list_batches())[1], [t.id for t in env.tokens.list()]) == before
