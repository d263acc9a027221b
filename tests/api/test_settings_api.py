"""GET/PATCH /settings: validation (nothing changes on a bad value), settings.json across a restart, the live feed window
and CORS allow-list, the environment's pins, and that a page of another origin can neither change settings nor make tokens."""

from __future__ import annotations

import json
import os
import stat

import pytest
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.server_settings import ServerSettings
from batchgen_ext.server_routes.cors import cors_middleware

from tests.api.remote_app import API, fake_peer, make_env
from tests.fakehost import FakeHost

ORIGIN = "http://localhost:5173"


def with_cors(mounted):
    return [cors_middleware(mounted, mounted.context.settings.allowed_origins), fake_peer]


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    env = await make_env(aiohttp_client, tmp_path, middlewares=with_cors)
    yield env
    await env.store.close()


async def patch(env, body, **headers):
    resp = await env.client.patch(API + "/settings", data=json.dumps(body),
                                  headers={"Content-Type": "application/json", **headers})
    return resp.status, await resp.json()


async def test_defaults_then_a_fixed_window_is_saved_and_used_at_once(env):
    resp = await env.client.get(API + "/settings")
    body = await resp.json()
    assert resp.status == 200
    assert body["feed_window"] == {"value": "auto", "saved": "auto", "pinned": False, "window": 2, "window_max": 2,
                                   "window_now": 2, "limit": 64}
    assert body["cors_origins"] == {"saved": [], "environment": []}
    status, body = await patch(env, {"feed_window": 7})
    assert status == 200 and body["feed_window"]["value"] == 7 and body["feed_window"]["window_now"] == 7
    health = await (await env.client.get(API + "/health")).json()
    assert health["dispatcher"]["window"] == 7 and health["dispatcher"]["window_now"] == 7
    saved = json.loads((env.user_dir / "settings.json").read_text())
    assert saved == {"feed_window": 7, "cors_origins": []}
    assert stat.S_IMODE(os.stat(env.user_dir / "settings.json").st_mode) == 0o600


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"feed_window": 0}, "invalid_feed_window", "feed_window"),
    ({"feed_window": 65}, "invalid_feed_window", "feed_window"),
    ({"feed_window": "8"}, "invalid_feed_window", "feed_window"),
    ({"feed_window": True}, "invalid_feed_window", "feed_window"),
    ({"feed_window": 3, "cors_origins": ["https://ok.example", "*"]}, "invalid_cors_origin", "cors_origins[1]"),
    ({"cors_origins": ["null"]}, "invalid_cors_origin", "cors_origins[0]"),
    ({"cors_origins": ["https://a.example/path"]}, "invalid_cors_origin", "cors_origins[0]"),
    ({"cors_origins": "https://a.example"}, "invalid_cors_origins", "cors_origins"),
    ({"window": 3}, "unknown_field", "window"),
])
async def test_a_bad_value_names_its_field_and_changes_nothing(env, body, code, field):
    before = await (await env.client.get(API + "/settings")).json()
    status, error = await patch(env, body)
    assert status == 400 and error["error"] == code, error
    assert field in error["message"] or error["details"].get("field") == field, error
    assert await (await env.client.get(API + "/settings")).json() == before
    assert not (env.user_dir / "settings.json").exists()


async def test_patch_is_json_only(env):
    resp = await env.client.patch(API + "/settings", data="feed_window=3", headers={"Content-Type": "text/plain"})
    assert resp.status == 415 and (await resp.json())["error"] == "unsupported_media_type"


async def test_settings_survive_a_restart_of_the_app(aiohttp_client, tmp_path):
    first = await make_env(aiohttp_client, tmp_path, middlewares=with_cors)
    assert (await patch(first, {"feed_window": 5, "cors_origins": [ORIGIN, "HTTPS://App.Example:443"]}))[0] == 200
    await first.store.close()
    second = await make_env(aiohttp_client, tmp_path, middlewares=with_cors)
    try:
        body = await (await second.client.get(API + "/settings")).json()
        assert body["feed_window"]["value"] == 5 and body["feed_window"]["window_now"] == 5
        assert body["cors_origins"]["saved"] == [ORIGIN, "https://app.example"]
        pre = await second.client.options(API + "/batches", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    finally:
        await second.store.close()


async def test_an_added_origin_is_answered_at_once_and_a_removed_one_refused_at_once(env):
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    assert (await env.client.options(API + "/batches", headers=pre)).status == 403
    assert (await patch(env, {"cors_origins": [ORIGIN]}))[0] == 200
    resp = await env.client.options(API + "/batches", headers=pre)
    assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert (await patch(env, {"cors_origins": []}))[0] == 200
    assert (await env.client.options(API + "/batches", headers=pre)).status == 403


async def test_another_process_sees_a_change_through_the_shared_file(env, tmp_path):
    other = ServerSettings(Config(window=2), env.user_dir / "settings.json")
    other_dispatcher = Dispatcher(env.store, FakeHost(output_dir=tmp_path / "other"), Config(window=2))
    other_dispatcher.window_source = other.window
    assert other.window() == (2, 2) and ORIGIN not in other.allowed_origins()
    await patch(env, {"feed_window": 9, "cors_origins": [ORIGIN]})
    assert other.window() == (9, 9) and ORIGIN in other.allowed_origins()
    status = other_dispatcher.status()  # what its /health says: the window it feeds by
    assert (status["window"], status["window_now"]) == (9, 9)


async def test_a_broken_file_keeps_defaults_and_the_app_starts(aiohttp_client, tmp_path):
    user_dir = tmp_path / "user" / "__batchgen"
    user_dir.mkdir(parents=True)
    (user_dir / "settings.json").write_text('{"feed_window": 999, "cors_origins": ["*"]}')
    env = await make_env(aiohttp_client, tmp_path)
    try:
        body = await (await env.client.get(API + "/settings")).json()
        assert body["feed_window"]["saved"] == "auto" and body["cors_origins"]["saved"] == []
    finally:
        await env.store.close()


async def test_environment_pins_the_window_and_its_origins_are_read_only(aiohttp_client, tmp_path):
    config = Config.from_env({"BATCHGEN_WINDOW": "6", "BATCHGEN_CORS_ORIGINS": "https://env.example"})
    env = await make_env(aiohttp_client, tmp_path, middlewares=with_cors, window=config.window, window_max=config.window_max,
                         window_pinned=config.window_pinned, cors_origins=config.cors_origins)
    try:
        status, error = await patch(env, {"feed_window": 3})
        assert status == 409 and error["error"] == "setting_pinned" and "BATCHGEN_WINDOW=6" in error["message"]
        status, body = await patch(env, {"cors_origins": ["https://env.example", ORIGIN]})
        assert status == 200 and body["feed_window"] == {**body["feed_window"], "value": 6, "pinned": True, "window": 6}
        # The environment's origin stays listed there only (and allowed) whatever the saved list says.
        assert body["cors_origins"] == {"saved": [ORIGIN], "environment": ["https://env.example"]}
        status, body = await patch(env, {"cors_origins": []})
        pre = await env.client.options(API + "/jobs/1", headers={"Origin": "https://env.example", "Access-Control-Request-Method": "GET"})
        assert pre.status == 204
    finally:
        await env.store.close()


@pytest.mark.parametrize("origin", ["http://evil.example", ORIGIN])
async def test_a_page_of_another_origin_cannot_change_settings_or_make_tokens(env, origin):
    await patch(env, {"cors_origins": [ORIGIN]})  # one allowed origin: even it needs a token
    headers = {"Origin": origin, "Content-Type": "application/json"}
    expected = (403, "origin_not_allowed") if origin != ORIGIN else (401, "token_required")
    for method, path, body in (("PATCH", "/settings", {"cors_origins": [origin]}), ("POST", "/tokens", {"name": "x", "scope": "admin"}),
                               ("GET", "/tokens", None), ("GET", "/settings", None)):
        resp = await env.client.request(method, API + path, data=json.dumps(body) if body else None, headers=headers)
        assert (resp.status, (await resp.json())["error"]) == expected, (method, path)
    assert env.tokens.list() == []
    assert (await (await env.client.get(API + "/settings")).json())["cors_origins"]["saved"] == [ORIGIN]
    # With an admin token, the allowed page may (the token is what the admin handed it).
    if origin == ORIGIN:
        _, token = env.tokens.create("page", "admin")
        resp = await env.client.get(API + "/settings", headers={**headers, "Authorization": f"Bearer {token}"})
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_submit_scope_is_not_enough(env):
    _, token = env.tokens.create("ci", "submit")
    resp = await env.client.get(API + "/settings", headers={"Authorization": f"Bearer {token}", "X-Test-Peer": "10.0.0.5"})
    assert resp.status == 403 and (await resp.json())["error"] == "insufficient_scope"


async def test_a_save_that_fails_changes_nothing(env, monkeypatch):
    def broken(*_args, **_kw):
        raise OSError("disk full")

    monkeypatch.setattr("batchgen_ext.batchgen.private_file.write_private_json", broken)
    status, error = await patch(env, {"feed_window": 11})
    assert status == 507 and error["error"] == "settings_not_saved"
    assert (await (await env.client.get(API + "/settings")).json())["feed_window"]["value"] == "auto"


async def test_the_window_decides_how_many_jobs_sit_in_the_hosts_queue(env):
    resp = await env.client.post(API + "/batches", json={"template": "text-card", "prompts": [f"p{i}" for i in range(12)]})
    assert resp.status == 201
    await env.service.dispatcher.step()
    assert len(env.host.pending) == 2  # the app's Config(window=2)
    await patch(env, {"feed_window": 5})
    await env.service.dispatcher.step()
    assert len(env.host.pending) == 5
    await patch(env, {"feed_window": 1})
    await env.service.dispatcher.step()
    assert len(env.host.pending) == 5  # a smaller window lets what is queued run; nothing is taken back
    for _ in range(5):
        env.host.start_next()
        await env.service.dispatcher.step()
        env.host.finish_running()
        await env.service.dispatcher.step()
    assert len(env.host.pending) == 1
    await patch(env, {"feed_window": "auto"})
    await env.service.dispatcher.step()
    assert len(env.host.pending) == 2
