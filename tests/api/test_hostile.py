"""No input reaches a 500: huge literals, deep nesting, odd unicode, non-finite numbers, slow bodies."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from batchgen_ext.server_routes._http import json_response

from tests.api.test_api import API, card, create, db_counts, error_of, post, user_workflow

JSON = {"Content-Type": "application/json"}


async def raw_post(env, path: str, text: str):
    return await env.client.post(API + path, data=text.encode("utf-8", "surrogatepass"), headers=JSON)


async def assert_400(env, resp, code: str = "invalid_json") -> dict:
    body = await error_of(resp, 400)
    assert body["error"] == code, body
    assert db_counts(env) == (0, 0)
    return body


async def test_integer_literal_over_4300_digits_is_400(env):
    body = await assert_400(env, await raw_post(env, "/batches", '{"template": "text-card", "params": {"width": ' + "9" * 5000 + "}}"))
    assert "integer" in body["message"]


async def test_ten_thousand_levels_of_nesting_is_400(env):
    await assert_400(env, await raw_post(env, "/batches", '{"template": "text-card", "params": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}"))


async def test_deep_nesting_inside_an_inline_workflow_is_400(env):
    wf = user_workflow()
    deep = "[" * 800 + "1" + "]" * 800
    text = json.dumps({"template": {"workflow": wf}, "jobs": [{"title": "a"}]})
    text = text.replace('"font_size": 0', '"font_size": ' + deep)
    body = await assert_400(env, await raw_post(env, "/batches", text))
    assert "nested too deeply" in body["message"]


@pytest.mark.parametrize("where", ["name", "prompt", "key"])
async def test_lone_surrogate_in_any_string_is_400(env, where):
    if where == "name":
        text = '{"template": "text-card", "name": "\\ud800"}'
    elif where == "prompt":
        text = '{"template": "text-card", "prompts": ["ok", "bad \\udfff"]}'
    else:
        text = '{"template": "text-card", "params": {"\\ud800": 1}}'
    body = await assert_400(env, await raw_post(env, "/batches", text))
    assert "surrogate" in body["message"]


async def test_a_valid_surrogate_pair_escape_is_fine(env):
    resp = await raw_post(env, "/batches", '{"template": "text-card", "prompts": ["rocket \\ud83d\\ude80"]}')
    assert resp.status == 201, await resp.text()
    jobs = (await (await env.client.get(f"{API}/batches/{(await resp.json())['id']}/jobs")).json())["jobs"]
    assert jobs[0]["params"]["prompt"] == "rocket 🚀"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
async def test_non_finite_numbers_are_400_in_values(env, literal):
    wf = {"1": {"class_type": "BatchGenInputFloat", "inputs": {"name": "strength", "value": 0.5}},
          "2": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
          "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "f"}}}
    text = json.dumps({"template": {"workflow": wf}, "jobs": [{"strength": 1.0}]}).replace("1.0}", literal + "}")
    await assert_400(env, await raw_post(env, "/batches", text))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
async def test_non_finite_template_default_is_400_and_nothing_is_saved(env, literal):
    text = json.dumps({"id": "nan", "workflow": user_workflow(), "bindings": {"w": {"slots": ["2.width"], "type": "float", "default": 1.5}}})
    resp = await raw_post(env, "/templates", text.replace("1.5", literal))
    await error_of(resp, 400)
    folder = env.user_dir / "templates"
    assert not folder.exists() or not list(folder.iterdir())
    listing = await env.client.get(f"{API}/templates")
    assert listing.status == 200 and json.loads(await listing.text())  # still valid JSON for every client


async def test_lone_surrogate_in_a_template_leaves_no_temporary_file(env):
    text = json.dumps({"id": "sur", "name": "x", "workflow": user_workflow()}).replace('"x"', '"\\ud800"')
    await error_of(await raw_post(env, "/templates", text), 400)
    folder = env.user_dir / "templates"
    assert not folder.exists() or not list(folder.glob(".tmp-*"))


async def test_a_failed_template_write_leaves_nothing_behind(env, monkeypatch):
    import os

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    resp = await post(env, "/templates", {"id": "full", "workflow": user_workflow()})
    body = await error_of(resp, 507)
    assert body["error"] == "template_not_saved" and "/" not in body["message"].replace("see the ComfyUI log", "")
    assert list((env.user_dir / "templates").iterdir()) == []


@pytest.mark.parametrize("job_id", ["²", "١٢", "１", "1%0A", " 1", "9" * 5000])
async def test_non_ascii_digit_job_ids_are_404(env, job_id):
    await create(env, card(1))  # job 1 exists: none of these may alias it
    resp = await env.client.get(f"{API}/jobs/{job_id}")
    assert (await error_of(resp, 404))["error"] in ("job_not_found", "no_such_route")


async def test_huge_query_numbers_are_400(env):
    body = await error_of(await env.client.get(f"{API}/batches?offset={'9' * 5000}"), 400)
    assert body["error"] == "invalid_pagination"


async def test_unknown_query_parameter_is_400_with_a_suggestion(env):
    body = await error_of(await env.client.get(f"{API}/batches?limt=5"), 400)
    assert body["error"] == "unknown_field" and "did you mean `limit`?" in body["message"]


async def test_status_filter_of_unknown_value_names_the_allowed_ones(env):
    body = await error_of(await env.client.get(f"{API}/batches?status=done"), 400)
    assert body["error"] == "invalid_status" and "succeeded" in body["message"]


async def test_body_that_never_finishes_is_408(env):
    env.service.config = dataclasses.replace(env.service.config, read_timeout_seconds=0.3)
    reader, writer = await asyncio.open_connection(env.client.host, env.client.port)
    try:
        writer.write(f"POST {API}/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                     '{"template": '.encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 408"), head
        length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
        body = json.loads(await reader.readexactly(length))
        assert body["error"] == "request_timeout"
    finally:
        writer.close()
    assert db_counts(env) == (0, 0)


def test_a_response_that_cannot_be_json_is_a_logged_500_with_a_json_body(caplog):
    resp = json_response({"x": float("nan")})
    assert resp.status == 500 and json.loads(resp.text)["error"] == "internal_error"
    assert "could not be encoded" in caplog.text


async def test_float_parameter_strings_that_overflow_are_400(env):
    wf = {"1": {"class_type": "BatchGenInputFloat", "inputs": {"name": "strength", "value": 0.5}},
          "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "f"}}}
    for value in ("1e400", "nan", 10**400):
        resp = await post(env, "/batches", {"template": {"workflow": wf}, "jobs": [{"strength": value}]})
        assert (await error_of(resp, 400))["error"] == "invalid_param_value"


async def test_odd_unicode_in_paths_and_queries_is_4xx(env):
    for path in ("/batches/%ED%A0%80", "/batches/a%00b/jobs", "/templates/%ED%A0%80", "/jobs/%ED%A0%80",
                 "/batches?status=%ED%A0%80", "/batches?limit=%ED%A0%80"):
        resp = await env.client.get(API + path)
        assert 400 <= resp.status < 500, (path, resp.status, await resp.text())
        assert (await resp.json())["error"]
