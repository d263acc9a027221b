"""GET /batchgen/v1/openapi.json is generated from the route table: the table, the served routes and the document agree."""

from __future__ import annotations

import json
from typing import Any

from batchgen_ext.batchgen import api_responses as r
from batchgen_ext.batchgen.ids import API_PREFIX
from batchgen_ext.server_routes.openapi import openapi_document
from batchgen_ext.server_routes.routes import ROUTES

METHODS = {"get", "post", "put", "patch", "delete"}


async def fetch_document(env) -> dict[str, Any]:
    """The document as served."""
    resp = await env.client.get(f"{API_PREFIX}/openapi.json")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    return await resp.json()


def registered_operations(env) -> set[tuple[str, str]]:
    """(path below the API prefix, lower-case method) of every route the app serves, HEAD and the catch-all excepted."""
    found = set()
    for route in env.client.app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        path = route.resource.canonical
        assert path.startswith(API_PREFIX + "/"), path
        found.add((path[len(API_PREFIX):], route.method.lower()))
    return found


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, method) of every operation in the document."""
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}


def walk_refs(node: Any, where: str = "#"):
    """Yield (location, $ref) for every reference in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield where, value
            else:
                yield from walk_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_refs(value, f"{where}/{i}")


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer."""
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref}: no {part!r}"
        node = node[part]
    return node


def operations(doc: dict[str, Any]):
    """(path, method, operation) of every operation."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


async def test_served_document_is_generated_from_the_table(env):
    doc = await fetch_document(env)
    assert doc == json.loads(json.dumps(openapi_document(ROUTES, env.service.version)))
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["version"] == env.service.version


async def test_table_routes_served_routes_and_documented_operations_are_the_same(env):
    doc = await fetch_document(env)
    table = {(route.path, route.method.lower()) for route in ROUTES}
    assert len(table) == len(ROUTES), "a route is in the table twice"
    assert registered_operations(env) == table
    assert documented_operations(doc) == table


async def test_every_ref_resolves(env):
    doc = await fetch_document(env)
    refs = list(walk_refs(doc))
    assert refs
    for where, ref in refs:
        assert isinstance(resolve(doc, ref), dict), f"{where}: {ref}"


async def test_servers_are_relative_to_the_host(env):
    doc = await fetch_document(env)
    assert [s["url"] for s in doc["servers"]] == [API_PREFIX, "/api" + API_PREFIX]


async def test_operations_are_complete(env):
    doc = await fetch_document(env)
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)), "duplicate operationId"
    for path, method, op in operations(doc):
        assert op["x-scope"] in ("read", "submit", "admin"), (method, path)
        params = op.get("parameters", [])
        in_path = {p["name"] for p in params if p["in"] == "path"}
        assert in_path == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (method, path)
        codes = {int(code) for code in op["responses"]}
        assert any(200 <= c < 300 for c in codes), (method, path)
        for code in codes:
            if code >= 400:
                assert op["responses"][str(code)]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                assert "Codes: " in op["responses"][str(code)]["description"], (method, path, code)
        if method == "post":
            assert {400, 408, 413, 415} <= codes, f"POST {path} must document the JSON body errors"
            assert "requestBody" in op
        headers = {p["name"] for p in params if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (path in ("/batches", "/generate") and method == "post"), (method, path)


async def test_status_filters_have_an_enum(env):
    doc = await fetch_document(env)
    for path, statuses in (("/batches", {"pending", "running", "paused", "succeeded", "partial", "failed", "cancelled"}),
                           ("/batches/{batch_id}/jobs", {"pending", "queued", "running", "succeeded", "failed", "cancelled"})):
        (status,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "status"]
        assert set(status["schema"]["items"]["enum"]) == statuses
        assert (status["style"], status["explode"]) == ("form", False)


async def test_finished_batch_409_is_documented_on_resume_and_priority(env):
    doc = await fetch_document(env)
    for action in ("resume", "priority", "pause", "cancel"):
        assert "batch_finished" in doc["paths"][f"/batches/{{batch_id}}/{action}"]["post"]["responses"]["409"]["description"]


async def test_responses_match_their_models(env):
    """Real responses validate against the (extra-forbidding) response models the schema is made from."""
    resp = await env.client.post(f"{API_PREFIX}/generate", json={"template": "text-card", "prompt": "schema 检查 ✅"})
    assert resp.status == 201, await resp.text()
    generated = r.GenerateResult.model_validate(await resp.json())
    await env.host.run_all(env.dispatcher)
    job = r.Job.model_validate(await (await env.client.get(f"{API_PREFIX}/jobs/{generated.job.id}")).json())
    assert job.status == "succeeded" and job.outputs
    r.JobList.model_validate(await (await env.client.get(f"{API_PREFIX}/batches/{generated.id}/jobs")).json())
    r.BatchList.model_validate(await (await env.client.get(f"{API_PREFIX}/batches")).json())
    r.Template.model_validate(await (await env.client.get(f"{API_PREFIX}/templates/text-card")).json())
    r.TemplateList.model_validate(await (await env.client.get(f"{API_PREFIX}/templates")).json())
    r.Health.model_validate(await (await env.client.get(f"{API_PREFIX}/health")).json())
    error = r.Error.model_validate(await (await env.client.get(f"{API_PREFIX}/batches/nope")).json())
    assert error.error == "batch_not_found"
