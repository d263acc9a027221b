"""Our CORS middleware on a plain aiohttp app that imitates ComfyUI's default chain (written here, nothing copied).

The imitation: an origin-only middleware as comfyui-host.md §1.2 describes it (v0.33.0: any
Sec-Fetch-Site: cross-site → empty 403; a loopback Host with a different Origin → empty 403;
any other OPTIONS → empty 200 without calling the route), core routes /prompt, /queue,
/upload/image, and every route mounted a second time under /api like ComfyUI's add_routes.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from batchgen_ext.batchgen.access import is_loopback_host
from batchgen_ext.batchgen.config import Config, normalise_origin
from batchgen_ext.server_routes import make_context, register
from batchgen_ext.server_routes.cors import cors_middleware

from tests.api.remote_app import API, make_env

ALLOWED = "http://localhost:3000"
FOREIGN = "http://evil.example"


@web.middleware
async def comfy_like_origin_only(request: web.Request, handler):
    """Behaves like ComfyUI's default CSRF guard (from its documented behaviour)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return web.Response(status=403)
    host, origin = request.headers.get("Host"), request.headers.get("Origin")
    if host and origin:
        origin_netloc = urlsplit(origin).netloc.lower()
        if origin_netloc and is_loopback_host(host) and origin_netloc != host.lower():
            return web.Response(status=403)
    if request.method == "OPTIONS":
        return web.Response(status=200)
    return await handler(request)


CORE_CALLS: list[str] = []


def comfy_routes() -> web.RouteTableDef:
    core = web.RouteTableDef()

    @core.post("/prompt")
    async def prompt(request):
        CORE_CALLS.append(request.path)
        return web.json_response({"prompt_id": "x"})

    @core.get("/queue")
    async def queue(request):
        return web.json_response({"queue_running": []})

    @core.post("/upload/image")
    async def upload(request):
        return web.json_response({"name": "x.png"})

    return core


def build(service, user_dir, ours: bool, origins=(ALLOWED,)) -> web.Application:
    routes = comfy_routes()
    mounted = register(routes, service, make_context(service, user_dir))
    middlewares = [comfy_like_origin_only]
    if ours:
        middlewares.insert(0, cors_middleware(mounted, origins))
    app = web.Application(middlewares=middlewares)
    app.add_routes([web.route(r.method, "/api" + r.path, r.handler) for r in routes if isinstance(r, web.RouteDef)])
    app.add_routes(routes)
    return app


@pytest.fixture
async def pair(aiohttp_client, tmp_path):
    """(client with our middleware, client of the same chain without it)."""
    env = await make_env(aiohttp_client, tmp_path)
    with_us = await aiohttp_client(build(env.service, env.user_dir, True))
    without = await aiohttp_client(build(env.service, env.user_dir, False))
    yield env, with_us, without
    await env.store.close()


def test_origin_config_rejects_wildcards_null_and_paths(caplog):
    assert normalise_origin("HTTPS://App.Example.com:443") == "https://app.example.com"
    assert normalise_origin("http://localhost:3000/") == "http://localhost:3000"
    for bad in ("*", "null", "https://*.example.com", "https://a.example/path", "ftp://x", "https://a.example?x=1", "a.example"):
        assert normalise_origin(bad) is None, bad
    caplog.set_level(logging.WARNING, "batchgen")
    config = Config.from_env({"BATCHGEN_CORS_ORIGINS": "http://localhost:3000, *, null,https://a.example/x"})
    assert config.cors_origins == ("http://localhost:3000",)
    assert sum("BATCHGEN_CORS_ORIGINS" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.parametrize("prefix", ["", "/api"])
async def test_preflight_from_an_allowed_origin_is_answered_by_us(pair, prefix):
    _, client, _ = pair
    resp = await client.options(prefix + API + "/batches", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status == 204
    h = resp.headers
    assert h["Access-Control-Allow-Origin"] == ALLOWED and h["Vary"] == "Origin" and h["Access-Control-Max-Age"] == "600"
    assert h["Access-Control-Allow-Methods"] == "GET, POST, HEAD"
    assert "Authorization" in h["Access-Control-Allow-Headers"] and "Last-Event-ID" in h["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in h


async def test_allowed_origin_reaches_our_handler_past_the_origin_check_and_still_needs_a_token(pair):
    env, client, without = pair
    headers = {"Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"}
    refused = await without.get(API + "/batches", headers=headers)
    assert refused.status == 403  # what a default ComfyUI answers a cross-site page
    resp = await client.get(API + "/batches", headers=headers)
    body = await resp.json()
    # A browser page on another origin is loopback at the TCP level, but it is not the admin: token needed, and readable.
    assert resp.status == 401 and body["error"] == "token_required"
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
    _, token = env.tokens.create("web", "submit")
    resp = await client.post(API + "/batches", json={"template": "text-card", "prompts": ["a"]},
                             headers={**headers, "Authorization": f"Bearer {token}"})
    assert resp.status == 201 and resp.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_foreign_and_originless_cross_site_requests_are_refused(pair):
    env, client, _ = pair
    _, token = env.tokens.create("web", "admin")
    auth = {"Authorization": f"Bearer {token}"}
    for headers in ({"Origin": FOREIGN}, {"Origin": "null"}, {"Origin": "http://localhost:3001"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        resp = await client.post(API + "/batches", json={"template": "text-card", "prompts": ["a"]}, headers={**headers, **auth})
        assert resp.status == 403 and (await resp.json())["error"] == "origin_not_allowed", headers
        assert "Access-Control-Allow-Origin" not in resp.headers
    pre = await client.options(API + "/batches", headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"})
    assert pre.status == 403 and "Access-Control-Allow-Origin" not in pre.headers
    assert (await env.store.list_batches())[1] == 0


async def test_same_origin_and_scripts_go_down_the_chain(pair):
    _, client, _ = pair
    assert (await client.get(API + "/batches")).status == 200  # a script: no Origin
    same = await client.get(API + "/batches", headers={"Origin": f"http://{client.host}:{client.port}"})
    assert same.status == 200 and "Access-Control-Allow-Origin" not in same.headers


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/prompt"), ("POST", "/api/prompt"), ("GET", "/api/queue"), ("POST", "/upload/image"),
    ("POST", "/batchgen/../prompt"), ("POST", "/api/batchgen/../../prompt"), ("POST", "/batchgen/v1/..%2F..%2Fprompt"),
    ("POST", "/batchgen%2F..%2Fprompt"), ("OPTIONS", "/prompt"), ("GET", "/nothing-here"),
])
@pytest.mark.parametrize("origin", [ALLOWED, FOREIGN])
async def test_comfyui_routes_answer_exactly_as_without_us(pair, method, path, origin):
    _, client, without = pair
    headers = {"Origin": origin, "Content-Type": "application/json", "Access-Control-Request-Method": "POST"}
    CORE_CALLS.clear()
    a = await client.request(method, path, data=b"{}", headers=headers)
    b = await without.request(method, path, data=b"{}", headers=headers)
    assert CORE_CALLS == []  # a cross-site page never reaches /prompt, with or without us
    a_body = await a.read()
    if b"no_such_route" in a_body or b"origin_not_allowed" in a_body:
        # The trick resolved to our own catch-all (aiohttp matched the decoded path under /batchgen/): our JSON 404 for the
        # allowed origin, our 403 for a foreign one; never anything of ComfyUI's.
        assert "%2F" in path and (a.status, origin == ALLOWED) in ((404, True), (403, False))
        return
    assert (a.status, a_body, a.headers.get("Access-Control-Allow-Origin")) == (b.status, await b.read(), None)


async def test_unknown_path_under_our_prefix_from_an_allowed_origin(pair):
    _, client, _ = pair
    resp = await client.options(API + "/nope", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"})
    assert resp.status == 404 and resp.headers["Access-Control-Allow-Origin"] == ALLOWED
