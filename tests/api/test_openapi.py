"""GET /batchgen/v1/openapi.json describes exactly the registered routes, and its references resolve."""

from __future__ import annotations

import json
from typing import Any

from batchgen_ext.batchgen.ids import API_PREFIX
from batchgen_ext.server_routes.openapi import openapi_document

METHODS = {"get", "post", "put", "patch", "delete"}


async def fetch_document(env) -> dict[str, Any]:
    """The document as served."""
    resp = await env.client.get(f"{API_PREFIX}/openapi.json")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    return await resp.json()


def registered_operations(env) -> set[tuple[str, str]]:
    """(path below the API prefix, lower-case method) of every route the app serves, HEAD excepted."""
    found = set()
    for route in env.client.app.router.routes():
        if route.method == "HEAD":
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


async def test_served_document_is_the_module_document(env):
    doc = await fetch_document(env)
    assert doc == json.loads(json.dumps(openapi_document(env.service.version)))
    assert doc["openapi"] == "3.0.3"
    assert doc["info"]["version"] == env.service.version


async def test_every_registered_route_is_documented_and_nothing_else(env):
    doc = await fetch_document(env)
    registered = registered_operations(env)
    documented = documented_operations(doc)
    assert registered, "no routes registered"
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "documented operations that no route serves"


async def test_every_ref_resolves(env):
    doc = await fetch_document(env)
    refs = list(walk_refs(doc))
    assert refs
    for where, ref in refs:
        assert isinstance(resolve(doc, ref), dict), f"{where}: {ref}"


async def test_servers_are_relative_to_the_host(env):
    doc = await fetch_document(env)
    urls = [s["url"] for s in doc["servers"]]
    assert urls == [API_PREFIX, "/api" + API_PREFIX]


async def test_operations_are_complete(env):
    doc = await fetch_document(env)
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)), "duplicate operationId"
    for path, method, op in operations(doc):
        params = [resolve(doc, p["$ref"]) if "$ref" in p else p for p in op.get("parameters", [])]
        in_path = {p["name"] for p in params if p["in"] == "path"}
        assert in_path == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (method, path)
        codes = {int(code) for code in op["responses"]}
        assert any(200 <= c < 300 for c in codes), (method, path)
        for code in codes - {200, 201}:
            response = resolve(doc, op["responses"][str(code)]["$ref"])
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path, code)
        if method == "post":
            assert 415 in codes, f"POST {path} must document the JSON-only 415"
        headers = {p["name"] for p in params if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (path in ("/batches", "/generate") and method == "post"), (method, path)


async def test_required_schemas_exist(env):
    doc = await fetch_document(env)
    schemas = doc["components"]["schemas"]
    for name in ("Batch", "Job", "Output", "JobError", "Template", "Parameter", "BatchRequest", "Error"):
        assert name in schemas, name
    assert set(schemas["Output"]["properties"]) == {"node_id", "filename", "subfolder", "type", "kind", "path", "url"}


async def test_batch_and_job_schemas_match_responses(env):
    """The Batch and Job schemas list exactly the fields the routes send."""
    doc = await fetch_document(env)
    schemas = doc["components"]["schemas"]
    resp = await env.client.post(f"{API_PREFIX}/generate", json={"template": "text-card", "prompt": "schema 检查 ✅"})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    job = body.pop("job")
    assert set(body) == set(schemas["Batch"]["properties"])
    assert set(job) == set(schemas["Job"]["properties"])
    assert set(body["counts"]) == set(schemas["BatchCounts"]["properties"])
    resp = await env.client.get(f"{API_PREFIX}/templates/text-card")
    template = await resp.json()
    assert set(template) == set(schemas["Template"]["properties"])
    assert set(template["parameters"][0]) == set(schemas["Parameter"]["properties"])
    resp = await env.client.get(f"{API_PREFIX}/batches/nope")
    error = await resp.json()
    assert resp.status == 404 and set(error) <= set(schemas["Error"]["properties"])
