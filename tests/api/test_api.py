"""REST API under /batchgen/v1 over a real SQLite file and the in-memory host."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from urllib.parse import parse_qs, urlparse

import pytest
from aiohttp import web
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.expansion import Limits
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import Store
from batchgen_ext.server_routes import register

from tests.api.conftest import ROOT
from tests.fakehost import FakeHost

API = "/batchgen/v1"
CARD_PARAMS = {"prompt", "seed", "width", "height"}



def card(n: int = 3, **extra) -> dict:
    return {"template": "text-card", "prompts": [f"card {i}" for i in range(n)], **extra}


def user_workflow() -> dict:
    return {
        "1": {"class_type": "BatchGenInputText", "inputs": {"name": "title", "value": "hi"}},
        "2": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 0], "width": 64, "height": 64, "seed": 0, "font_size": 0}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "mine"}},
    }


def db_counts(env) -> tuple[int, int]:
    """(batches, jobs) as another process reading the database file sees them."""
    with sqlite3.connect(env.store.path) as conn:
        return conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0], conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


async def post(env, path: str, body=None, **kw):
    return await env.client.post(API + path, json=body if body is not None else {}, **kw)


async def create(env, body: dict, status: int = 201) -> dict:
    resp = await post(env, "/batches", body)
    data = await resp.json()
    assert resp.status == status, data
    return data


async def error_of(resp, status: int) -> dict:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def set_config(env, **changes) -> None:
    env.service.config = dataclasses.replace(env.service.config, **changes)


# -- creating ----------------------------------------------------------------------------------


async def test_create_batch_returns_201_with_counts(env):
    data = await create(env, card(3, name="My cards ✨"))
    assert (data["total"], data["status"], data["counts"]["pending"], data["done"]) == (3, "pending", 3, 0)
    assert data["name"] == "My cards ✨" and data["template_id"] == "text-card"
    assert data["output_subfolder"].startswith("batchgen/")
    resp = await env.client.get(f"{API}/batches/{data['id']}")
    assert resp.status == 200 and (await resp.json())["total"] == 3
    assert db_counts(env) == (1, 3)


async def test_batch_runs_to_completion_and_reports_progress(env):
    data = await create(env, card(4))
    await env.host.run_all(env.dispatcher)
    got = await (await env.client.get(f"{API}/batches/{data['id']}")).json()
    assert (got["status"], got["counts"]["succeeded"], got["done"], got["progress"]) == ("succeeded", 4, 4, 1.0)
    assert got["finished_at"] is not None and got["elapsed_seconds"] is not None


async def test_generate_returns_the_single_job(env):
    resp = await post(env, "/generate", {"template": "text-card", "prompt": "just one", "params": {"width": 320}})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["total"] == 1
    job = data["job"]
    assert job["params"]["prompt"] == "just one" and job["params"]["width"] == 320 and job["status"] == "pending"
    await env.host.run_all(env.dispatcher)
    done = await (await env.client.get(f"{API}/jobs/{job['id']}")).json()
    assert done["status"] == "succeeded" and len(done["outputs"]) == 1


async def test_generate_with_only_a_template_runs_its_defaults(env):
    resp = await post(env, "/generate", {"template": "text-card"})
    data = await resp.json()
    assert resp.status == 201 and data["total"] == 1
    assert isinstance(data["job"]["seed"], int) and data["job"]["params"]["seed"] == data["job"]["seed"]
    await env.host.run_all(env.dispatcher)
    (sent,) = env.host.history.values()
    assert sent.status.value == "succeeded"


async def test_job_outputs_have_a_view_path_and_an_absolute_url(env):
    data = await create(env, card(1))
    await env.host.run_all(env.dispatcher)
    jobs = (await (await env.client.get(f"{API}/batches/{data['id']}/jobs")).json())["jobs"]
    resp = await env.client.get(f"{API}/jobs/{jobs[0]['id']}")
    job = await resp.json()
    assert resp.status == 200 and job["status"] == "succeeded"
    (out,) = job["outputs"]
    assert out["path"].startswith("/api/view?")
    query = {k: v[0] for k, v in parse_qs(urlparse(out["path"]).query, keep_blank_values=True).items()}
    assert (query["filename"], query["subfolder"], query["type"]) == (out["filename"], out["subfolder"], "output")
    assert (env.host.output_dir / query["subfolder"] / query["filename"]).is_file(), "the view path does not name the saved file"
    url = urlparse(out["url"])
    assert url.scheme == "http" and url.netloc == f"{env.client.host}:{env.client.port}"
    assert out["url"].endswith(out["path"])


# -- listing -----------------------------------------------------------------------------------


async def test_list_batches_paginates_newest_first(env):
    ids = [(await create(env, card(1, name=f"b{i}")))["id"] for i in range(5)]
    seen = []
    for offset in (0, 2, 4):
        page = await (await env.client.get(f"{API}/batches?limit=2&offset={offset}")).json()
        assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == offset
        seen += [b["id"] for b in page["batches"]]
    assert seen == ids[::-1]


async def test_list_batches_filters_by_status(env):
    a = (await create(env, card(1)))["id"]
    b = (await create(env, card(1)))["id"]
    assert (await post(env, f"/batches/{b}/cancel")).status == 200
    only = await (await env.client.get(f"{API}/batches?status=cancelled")).json()
    assert [x["id"] for x in only["batches"]] == [b] and only["total"] == 1
    both = await (await env.client.get(f"{API}/batches?status=pending,cancelled")).json()
    assert {x["id"] for x in both["batches"]} == {a, b}
    none = await (await env.client.get(f"{API}/batches?status=succeeded")).json()
    assert none == {"batches": [], "total": 0, "limit": 50, "offset": 0}


async def test_list_jobs_paginates_and_filters(env):
    bid = (await create(env, card(7)))["id"]
    resp = await env.client.get(f"{API}/batches/{bid}/jobs?limit=3&offset=3")
    page = await resp.json()
    assert page["total"] == 7 and [j["idx"] for j in page["jobs"]] == [3, 4, 5]
    assert [j["params"]["prompt"] for j in page["jobs"]] == ["card 3", "card 4", "card 5"]
    await env.dispatcher.step()  # window 2: two jobs queued
    queued = await (await env.client.get(f"{API}/batches/{bid}/jobs?status=queued")).json()
    assert queued["total"] == 2 and all(j["status"] == "queued" for j in queued["jobs"])
    pending = await (await env.client.get(f"{API}/batches/{bid}/jobs?status=pending&limit=1")).json()
    assert pending["total"] == 5 and len(pending["jobs"]) == 1


# -- templates ---------------------------------------------------------------------------------


async def test_templates_list_and_detail(env):
    listing = await (await env.client.get(f"{API}/templates")).json()
    by_id = {t["id"]: t for t in listing["templates"]}
    assert {p["name"] for p in by_id["text-card"]["parameters"]} == CARD_PARAMS
    assert "workflow" not in by_id["text-card"]
    resp = await env.client.get(f"{API}/templates/text-card")
    detail = await resp.json()
    assert resp.status == 200 and {p["name"] for p in detail["parameters"]} == CARD_PARAMS
    assert any(n["class_type"] == "SaveImage" for n in detail["workflow"].values())


async def test_save_user_template_then_use_it_by_id(env):
    resp = await post(env, "/templates", {"id": "my-card", "name": "My card", "workflow": user_workflow()})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["id"] == "my-card" and {p["name"] for p in data["parameters"]} == {"title", "seed"}  # seed: auto-detected
    saved = env.user_dir / "templates" / "my-card.json"
    assert saved.is_file() and json.loads(saved.read_text())["workflow"] == user_workflow()
    listing = await (await env.client.get(f"{API}/templates")).json()
    assert "my-card" in {t["id"] for t in listing["templates"]}
    batch = await create(env, {"template": "my-card", "jobs": [{"title": "one"}, {"title": "two"}]})
    assert batch["template_id"] == "my-card" and batch["total"] == 2
    await env.host.run_all(env.dispatcher)
    assert (await (await env.client.get(f"{API}/batches/{batch['id']}")).json())["status"] == "succeeded"


async def test_saving_an_existing_template_id_is_409_unless_replace(env):
    assert (await post(env, "/templates", {"id": "dup", "workflow": user_workflow()})).status == 201
    saved = env.user_dir / "templates" / "dup.json"
    before = saved.read_text()
    changed = user_workflow()
    changed["2"]["inputs"]["width"] = 999
    body = await error_of(await post(env, "/templates", {"id": "dup", "workflow": changed}), 409)
    assert body["error"] == "template_exists"
    assert saved.read_text() == before, "a 409 overwrote the saved template"
    assert (await post(env, "/templates", {"id": "dup", "workflow": changed, "replace": True})).status == 201
    assert json.loads(saved.read_text())["workflow"]["2"]["inputs"]["width"] == 999


async def test_bundled_template_cannot_be_overwritten(env):
    await error_of(await post(env, "/templates", {"id": "text-card", "workflow": user_workflow(), "replace": True}), 409)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"id": "Bad Id!", "workflow": user_workflow()}, 400),
        ({"id": "../escape", "workflow": user_workflow()}, 400),
        ({"id": "ui", "workflow": {"nodes": [], "links": []}}, 400),
        ({"id": "nope", "workflow": {"1": {"class_type": "NoSuchNode", "inputs": {}}}}, 422),  # preflight: missing node type
        ({"id": "nope2", "workflow": user_workflow(), "bindings": {"x": "99.text"}}, 400),
        ({"id": "noflow", "name": "no workflow"}, 400),
    ],
)
async def test_bad_template_is_rejected_and_nothing_is_saved(env, body, status):
    await error_of(await post(env, "/templates", body), status)
    folder = env.user_dir / "templates"
    assert not folder.exists() or not list(folder.iterdir())


async def test_unknown_template_detail_is_404(env):
    body = await error_of(await env.client.get(f"{API}/templates/no-such-template"), 404)
    assert body["error"] == "template_not_found"


# -- control routes ----------------------------------------------------------------------------


async def test_pause_resume_priority(env):
    bid = (await create(env, card(4)))["id"]
    paused = await (await post(env, f"/batches/{bid}/pause")).json()
    assert paused["status"] == "paused" and paused["paused"] is True
    await env.dispatcher.step()
    assert not env.host.pending, "a paused batch was fed"
    resumed = await (await post(env, f"/batches/{bid}/resume")).json()
    assert resumed["status"] == "pending" and resumed["paused"] is False
    resp = await post(env, f"/batches/{bid}/priority", {"priority": 7})
    assert resp.status == 200 and (await resp.json())["priority"] == 7
    await error_of(await post(env, f"/batches/{bid}/priority", {"priority": "high"}), 400)
    await error_of(await post(env, f"/batches/{bid}/priority", {}), 400)
    await error_of(await post(env, f"/batches/{bid}/priority", {"priority": 10_000}), 400)
    assert (await (await env.client.get(f"{API}/batches/{bid}")).json())["priority"] == 7
    await env.host.run_all(env.dispatcher)
    assert (await (await env.client.get(f"{API}/batches/{bid}")).json())["status"] == "succeeded"


async def test_control_routes_accept_an_empty_json_body(env):
    bid = (await create(env, card(1)))["id"]
    resp = await env.client.post(f"{API}/batches/{bid}/pause", data=b"", headers={"Content-Type": "application/json"})
    assert resp.status == 200 and (await resp.json())["paused"] is True


async def test_cancel_then_retry(env):
    bid = (await create(env, card(3)))["id"]
    await env.dispatcher.step()
    cancelled = await (await post(env, f"/batches/{bid}/cancel")).json()
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] == 3
    assert not env.host.pending
    body = await error_of(await post(env, f"/batches/{bid}/cancel"), 409)
    assert body["error"] == "batch_finished"
    await error_of(await post(env, f"/batches/{bid}/pause"), 409)
    retried = await (await post(env, f"/batches/{bid}/retry")).json()
    assert retried["retried"] == 3 and retried["status"] == "pending" and retried["counts"]["pending"] == 3
    await env.host.run_all(env.dispatcher)
    final = await (await env.client.get(f"{API}/batches/{bid}")).json()
    assert final["status"] == "succeeded"
    await error_of(await post(env, f"/batches/{bid}/retry"), 409)  # nothing left to retry


async def test_retry_one_failed_job(env):
    bid = (await create(env, {"template": {"workflow": {
        "1": {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "x"}},
        "2": {"class_type": "FailNode", "inputs": {"text": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "f"}}}}, "prompts": ["a", "b"]}))["id"]
    await env.host.run_all(env.dispatcher)
    jobs = (await (await env.client.get(f"{API}/batches/{bid}/jobs")).json())["jobs"]
    assert [j["status"] for j in jobs] == ["failed", "failed"]
    assert jobs[0]["error"]["node_type"] == "FailNode"
    resp = await post(env, f"/jobs/{jobs[0]['id']}/retry")
    job = await resp.json()
    assert resp.status == 200 and job["status"] == "pending" and job["error"] is None
    batch = await (await env.client.get(f"{API}/batches/{bid}")).json()
    assert (batch["counts"]["pending"], batch["counts"]["failed"]) == (1, 1)
    await error_of(await post(env, f"/jobs/{jobs[0]['id']}/retry"), 409)  # it is pending now


async def test_control_routes_refuse_non_json_posts(env):
    # A browser form on another site cannot cancel batches: state changes require JSON.
    bid = (await create(env, card(2)))["id"]
    for action in ("cancel", "pause", "priority", "retry"):
        resp = await env.client.post(f"{API}/batches/{bid}/{action}", data={"priority": "5"})
        await error_of(resp, 415)
    batch = await (await env.client.get(f"{API}/batches/{bid}")).json()
    assert (batch["status"], batch["paused"], batch["priority"]) == ("pending", False, 0)


async def test_delete_only_finished_batches_and_optionally_their_images(env):
    bid = (await create(env, card(2)))["id"]
    body = await error_of(await env.client.delete(f"{API}/batches/{bid}"), 409)
    assert body["error"] == "batch_active" and db_counts(env) == (1, 2)
    await env.host.run_all(env.dispatcher)
    folder = env.host.output_dir / (await (await env.client.get(f"{API}/batches/{bid}")).json())["output_subfolder"]
    assert len(list(folder.iterdir())) == 2
    await error_of(await env.client.delete(f"{API}/batches/{bid}?images=maybe"), 400)
    assert db_counts(env) == (1, 2)
    resp = await env.client.delete(f"{API}/batches/{bid}?images=true")
    data = await resp.json()
    assert resp.status == 200 and data["files_removed"] == 2
    assert not folder.exists() and db_counts(env) == (0, 0)
    await error_of(await env.client.get(f"{API}/batches/{bid}"), 404)


async def test_delete_keeps_images_by_default(env):
    bid = (await create(env, card(1)))["id"]
    await env.host.run_all(env.dispatcher)
    folder = env.host.output_dir / (await (await env.client.get(f"{API}/batches/{bid}")).json())["output_subfolder"]
    resp = await env.client.delete(f"{API}/batches/{bid}")
    assert resp.status == 200 and (await resp.json())["files_removed"] == 0
    assert len(list(folder.iterdir())) == 1


async def test_finished_batch_cannot_be_resumed_or_reprioritised(env):
    bid = (await create(env, card(1)))["id"]
    await env.host.run_all(env.dispatcher)
    for action, body in (("resume", {}), ("priority", {"priority": 3}), ("pause", {})):
        assert (await error_of(await post(env, f"/batches/{bid}/{action}", body), 409))["error"] == "batch_finished"
    final = await (await env.client.get(f"{API}/batches/{bid}")).json()
    assert (final["status"], final["priority"], final["paused"]) == ("succeeded", 0, False)


# -- idempotency -------------------------------------------------------------------------------


async def test_idempotency_key_replays_and_rejects_a_different_body(env):
    headers = {"Idempotency-Key": "order-42"}
    first = await post(env, "/batches", card(3), headers=headers)
    assert first.status == 201
    again = await post(env, "/batches", card(3), headers=headers)
    assert again.status == 200
    assert (await again.json())["id"] == (await first.json())["id"]
    body = await error_of(await post(env, "/batches", card(4), headers=headers), 422)
    assert body["error"] == "idempotency_key_reused"
    assert db_counts(env) == (1, 3)
    other = await post(env, "/batches", card(3), headers={"Idempotency-Key": "order-43"})
    assert other.status == 201 and db_counts(env) == (2, 6)


async def test_concurrent_requests_with_one_idempotency_key_create_one_batch(env):
    headers = {"Idempotency-Key": "race"}
    resps = await asyncio.gather(*(post(env, "/batches", card(2), headers=headers) for _ in range(5)))
    statuses = sorted(r.status for r in resps)
    ids = {(await r.json())["id"] for r in resps}
    assert statuses == [200, 200, 200, 200, 201] and len(ids) == 1
    assert db_counts(env) == (1, 2)


async def test_invalid_idempotency_key_is_400(env):
    await error_of(await post(env, "/batches", card(1), headers={"Idempotency-Key": "x" * 201}), 400)
    assert db_counts(env) == (0, 0)


# -- bad input: nothing may change --------------------------------------------------------------


@pytest.fixture
async def seeded(env):
    """env with one batch already stored, to check that bad requests change nothing."""
    await create(env, card(2))
    return env


async def expect_rejected(env, resp, status: int, code: str | None = None) -> dict:
    before = (1, 2)
    body = await error_of(resp, status)
    if code:
        assert body["error"] == code, body
    assert db_counts(env) == before, "a rejected request changed the database"
    assert not env.host.pending
    return body


async def test_malformed_json_is_400(seeded):
    resp = await seeded.client.post(f"{API}/batches", data=b'{"template": "text-card", "prompts": [', headers={"Content-Type": "application/json"})
    body = await expect_rejected(seeded, resp, 400, "invalid_json")
    assert "line 1" in body["message"]


async def test_non_utf8_body_is_400(seeded):
    resp = await seeded.client.post(f"{API}/batches", data=b'{"name": "\xff"}', headers={"Content-Type": "application/json"})
    await expect_rejected(seeded, resp, 400, "invalid_json")


@pytest.mark.parametrize("body", [b"", b"   ", b"[]", b'"text-card"', b"null"])
async def test_empty_or_non_object_body_is_400(seeded, body):
    resp = await seeded.client.post(f"{API}/batches", data=body, headers={"Content-Type": "application/json"})
    await expect_rejected(seeded, resp, 400)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"template": "text-card", "prompts": "a"}},  # form-encoded
        {"data": json.dumps(card(1)), "headers": {"Content-Type": "text/plain"}},
        {"data": json.dumps(card(1)).encode()},  # no content type at all
    ],
)
async def test_wrong_content_type_is_415(seeded, kwargs):
    await expect_rejected(seeded, await seeded.client.post(f"{API}/batches", **kwargs), 415, "unsupported_media_type")


async def test_unknown_template_is_404(seeded):
    body = await expect_rejected(seeded, await post(seeded, "/batches", {"template": "no-such", "prompts": ["a"]}), 404, "template_not_found")
    assert "no-such" in body["message"]


async def test_missing_template_is_400(seeded):
    await expect_rejected(seeded, await post(seeded, "/batches", {"prompts": ["a"]}), 400, "missing_template")


async def test_unbound_parameter_is_400_naming_it(seeded):
    resp = await post(seeded, "/batches", {"template": "text-card", "jobs": [{"prompt": "a"}, {"prompt": "b", "cfg_scale": 7}]})
    body = await expect_rejected(seeded, resp, 400, "unbound_parameter")
    assert "cfg_scale" in body["message"] and body["details"]["param"] == "cfg_scale"


async def test_bad_parameter_value_is_400_naming_it(seeded):
    resp = await post(seeded, "/batches", {"template": "text-card", "prompts": ["a"], "params": {"width": "wide"}})
    body = await expect_rejected(seeded, resp, 400, "invalid_param_value")
    assert "width" in body["message"]


async def test_empty_batch_is_422(seeded):
    await expect_rejected(seeded, await post(seeded, "/batches", {"template": "text-card", "prompts": []}), 422, "empty_batch")


async def test_oversized_batch_is_413(seeded):
    set_config(seeded, limits=Limits(max_jobs=5))
    resp = await post(seeded, "/batches", card(6))
    body = await expect_rejected(seeded, resp, 413, "too_many_jobs")
    assert body["details"]["limit"] == 5
    resp = await post(seeded, "/batches", {"template": "text-card", "prompts": ["a", "b"], "matrix": {"width": [64, 128, 256]}})
    await expect_rejected(seeded, resp, 413, "too_many_jobs")
    assert (await post(seeded, "/batches", card(5))).status == 201


async def test_overlong_prompt_is_422(seeded):
    set_config(seeded, limits=Limits(max_text_length=50))
    await expect_rejected(seeded, await post(seeded, "/batches", {"template": "text-card", "prompts": ["x" * 51]}), 422, "value_too_long")


async def test_body_over_max_body_bytes_is_413(seeded):
    set_config(seeded, max_body_bytes=2000)
    big = card(1, name="n" * 100, params={"prompt": "p" * 3000})
    await expect_rejected(seeded, await post(seeded, "/batches", big), 413, "body_too_large")


async def test_body_over_max_body_bytes_without_content_length_is_413(seeded):
    set_config(seeded, max_body_bytes=2000)
    payload = json.dumps(card(200)).encode()
    assert len(payload) > 2000

    async def chunks():
        for i in range(0, len(payload), 512):
            yield payload[i:i + 512]
            await asyncio.sleep(0.005)

    resp = await seeded.client.post(f"{API}/batches", data=chunks(), headers={"Content-Type": "application/json"})
    await expect_rejected(seeded, resp, 413, "body_too_large")


async def test_workflow_with_an_unknown_node_fails_preflight_naming_it(seeded):
    wf = user_workflow()
    wf["9"] = {"class_type": "SomeMissingCustomNode", "inputs": {"image": ["2", 0]}}
    resp = await post(seeded, "/batches", {"template": {"workflow": wf}, "jobs": [{"title": "a"}]})
    body = await expect_rejected(seeded, resp, 422, "preflight_failed")
    assert "node type SomeMissingCustomNode (no known node pack provides it)" in body["message"], body["message"]
    assert body["details"]["missing_nodes"] == [{"class_type": "SomeMissingCustomNode", "node_ids": ["9"], "pack": None}]


async def test_ui_format_inline_workflow_is_400_with_a_hint(seeded):
    resp = await post(seeded, "/batches", {"template": {"workflow": {"nodes": [{"id": 1}], "links": []}}, "prompts": ["a"]})
    body = await expect_rejected(seeded, resp, 400, "invalid_workflow")
    assert "API" in body["message"]


async def test_image_not_in_input_folder_is_422(seeded):
    wf = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "in.png", "upload": "image"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}},
    }
    seeded.host.input_files = {"in.png", "a.png"}
    resp = await post(seeded, "/batches", {"template": {"workflow": wf}, "jobs": [{"image": "a.png"}, {"image": "missing.png"}]})
    body = await expect_rejected(seeded, resp, 422, "image_not_found")
    assert "missing.png" in body["details"]["missing"]
    assert (await post(seeded, "/batches", {"template": {"workflow": wf}, "jobs": [{"image": "a.png"}]})).status == 201


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("get", "/batches/nope", "batch_not_found"),
        ("get", "/batches/nope/jobs", "batch_not_found"),
        ("post", "/batches/nope/cancel", "batch_not_found"),
        ("post", "/batches/nope/pause", "batch_not_found"),
        ("post", "/batches/nope/resume", "batch_not_found"),
        ("post", "/batches/nope/priority", "batch_not_found"),
        ("post", "/batches/nope/retry", "batch_not_found"),
        ("delete", "/batches/nope", "batch_not_found"),
        ("get", "/jobs/999999", "job_not_found"),
        ("get", "/jobs/abc", "job_not_found"),
        ("get", "/jobs/-1", "job_not_found"),
        ("post", "/jobs/999999/retry", "job_not_found"),
    ],
)
async def test_unknown_batch_or_job_is_404(seeded, method, path, code):
    if method == "post":
        resp = await post(seeded, path, {"priority": 1} if path.endswith("/priority") else {})
    else:
        resp = await getattr(seeded.client, method)(API + path)
    await expect_rejected(seeded, resp, 404, code)


@pytest.mark.parametrize("path", ["/jobs/99999999999999999999999", "/jobs/99999999999999999999999/retry"])
async def test_huge_job_id_is_404_not_500(seeded, path):
    resp = await (post(seeded, path) if path.endswith("retry") else seeded.client.get(API + path))
    await expect_rejected(seeded, resp, 404, "job_not_found")


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "limit=abc", "offset=-1", "offset=1.5", "status=bogus", "status=pending,bogus", "status=queued"],
)
async def test_invalid_batch_listing_query_is_400(seeded, query):
    body = await expect_rejected(seeded, await seeded.client.get(f"{API}/batches?{query}"), 400)
    assert body["error"] in ("invalid_pagination", "invalid_status")


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "offset=x", "status=paused", "status=done"])
async def test_invalid_job_listing_query_is_400(seeded, query):
    bid = (await (await seeded.client.get(f"{API}/batches")).json())["batches"][0]["id"]
    await expect_rejected(seeded, await seeded.client.get(f"{API}/batches/{bid}/jobs?{query}"), 400)


async def test_huge_offset_is_400_not_500(seeded):
    await expect_rejected(seeded, await seeded.client.get(f"{API}/batches?offset=99999999999999999999999"), 400, "invalid_pagination")


# -- large and chunked bodies -------------------------------------------------------------------


async def test_large_batch_body_is_read_completely(env):
    # ~1 MB of prompts arrives in many TCP segments; the whole body must be read, not just the first one.
    prompts = [f"prompt number {i} " + "lorem ipsum " * 8 for i in range(10_000)]
    resp = await post(env, "/batches", {"template": "text-card", "prompts": prompts})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["total"] == 10_000 and db_counts(env) == (1, 10_000)


async def test_chunked_body_is_read_completely(env):
    payload = json.dumps(card(50)).encode()

    async def chunks():
        for i in range(0, len(payload), 256):
            yield payload[i:i + 256]
            await asyncio.sleep(0.002)

    resp = await env.client.post(f"{API}/batches", data=chunks(), headers={"Content-Type": "application/json"})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["total"] == 50


# -- store trouble -------------------------------------------------------------------------------


async def test_locked_database_gives_503_with_retry_after_and_writes_nothing(aiohttp_client, tmp_path):
    store = Store(tmp_path / "db.sqlite3", busy_timeout_ms=50)
    await store.open()
    try:
        host = FakeHost(output_dir=tmp_path / "output")
        config = Config()
        dispatcher = Dispatcher(store, host, config)
        service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", tmp_path / "templates"), dispatcher, config, "test")
        routes = web.RouteTableDef()
        register(routes, service)
        app = web.Application()
        app.add_routes(routes)
        client = await aiohttp_client(app)
        other = sqlite3.connect(store.path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            resp = await client.post(f"{API}/batches", json=card(2))
            body = await error_of(resp, 503)
            assert body["error"] == "store_busy" and resp.headers.get("Retry-After")
        finally:
            other.execute("ROLLBACK")
            other.close()
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 0
        assert (await client.post(f"{API}/batches", json=card(2))).status == 201
    finally:
        await store.close()


async def test_closed_store_gives_503(env):
    await env.store.close()
    body = await error_of(await post(env, "/batches", card(1)), 503)
    assert body["error"] == "store_unavailable"
    await env.store.open()  # the fixture closes it again


async def test_health_reports_the_parts(env):
    await create(env, card(2))
    data = await (await env.client.get(f"{API}/health")).json()
    assert data["store"]["ready"] is True and data["store"]["jobs"]["pending"] == 2
    assert data["dispatcher"]["window"] == 2
    assert data["status"] == "degraded"  # the dispatcher loop is not started in these tests


async def test_slowly_sent_body_with_content_length_is_read_completely(env):
    # A client on a slow link: Content-Length is right, the bytes just arrive in pieces.
    payload = json.dumps(card(20)).encode()

    async def slowly():
        for i in range(0, len(payload), 200):
            yield payload[i:i + 200]
            await asyncio.sleep(0.002)

    resp = await env.client.post(f"{API}/batches", data=slowly(),
                                 headers={"Content-Type": "application/json", "Content-Length": str(len(payload))})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["total"] == 20
