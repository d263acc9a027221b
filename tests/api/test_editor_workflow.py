"""A template keeps its editor-format graph beside the API graph, so it (and its jobs) can be opened on the canvas again."""

from __future__ import annotations

import json

import pytest

API = "/batchgen/v1"


def api_graph() -> dict:
    return {
        "1": {"class_type": "BatchGenInputText", "inputs": {"name": "title", "value": "hi"}},
        "2": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 0], "width": 64, "height": 64, "seed": 0, "font_size": 0}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "mine"}},
    }


def editor_graph() -> dict:
    return {"last_node_id": 3, "last_link_id": 2, "version": 0.4, "extra": {"ds": {"scale": 1, "offset": [0, 0]}},
            "nodes": [{"id": 1, "type": "BatchGenInputText", "widgets_values": ["title", "hi"]},
                      {"id": 2, "type": "BatchGenTextCard", "widgets_values": [64, 64, 0, "fixed", 0]},
                      {"id": 3, "type": "SaveImage", "widgets_values": ["mine"]}],
            "links": [[1, 1, 0, 2, 0, "STRING"], [2, 2, 0, 3, 0, "IMAGE"]]}


async def post(env, body: dict):
    return await env.client.post(f"{API}/templates", data=json.dumps(body), headers={"Content-Type": "application/json"})


async def test_saved_template_answers_its_editor_graph_and_lists_stay_small(env):
    resp = await post(env, {"id": "canvas-card", "workflow": api_graph(), "editor_workflow": editor_graph()})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["editor_workflow"] == editor_graph()
    detail = await (await env.client.get(f"{API}/templates/canvas-card")).json()
    assert detail["editor_workflow"] == editor_graph() and detail["workflow"] == api_graph()
    listing = await (await env.client.get(f"{API}/templates")).json()
    assert all("editor_workflow" not in t for t in listing["templates"])


async def test_a_template_saved_without_an_editor_graph_answers_null(env):
    assert (await post(env, {"id": "plain", "workflow": api_graph()})).status == 201
    assert (await (await env.client.get(f"{API}/templates/plain")).json())["editor_workflow"] is None


async def test_a_bundled_template_answers_its_editor_file_without_repeating_the_api_graph(env):
    detail = await (await env.client.get(f"{API}/templates/text-card")).json()
    editor = detail["editor_workflow"]
    assert {n["type"] for n in editor["nodes"]} >= {"BatchGenTextCard", "SaveImage"}
    assert "batchgen" not in editor.get("extra", {})
    assert sorted(str(n["id"]) for n in editor["nodes"]) == sorted(detail["workflow"])


@pytest.mark.parametrize("bad", [{"1": {"class_type": "SaveImage", "inputs": {}}}, {"nodes": "x"}, {"nodes": [{"type": "A"}]}, []])
async def test_an_editor_graph_that_is_not_one_is_400_and_nothing_is_saved(env, bad):
    resp = await post(env, {"id": "bad-editor", "workflow": api_graph(), "editor_workflow": bad})
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_editor_workflow", body
    assert "editor" in body["message"]
    assert not (env.user_dir / "templates" / "bad-editor.json").exists()


async def test_preview_of_an_inline_workflow_lists_all_its_parameters_also_those_no_job_sets(env):
    body = {"template": {"workflow": api_graph()}}
    resp = await env.client.post(f"{API}/batches/preview", data=json.dumps(body), headers={"Content-Type": "application/json"})
    data = await resp.json()
    assert resp.status == 200, data
    by_name = {p["name"]: p for p in data["parameters"]}
    assert by_name["title"]["source"] == "input_node" and by_name["title"]["slots"] == ["1.value"]
    assert by_name["seed"]["source"] == "auto" and by_name["seed"]["slots"] == ["2.seed"]
    assert {b["name"] for b in data["bindings"]} < set(by_name)
