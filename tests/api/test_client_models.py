"""The client's models are generated from the served OpenAPI document: regenerating gives the committed file."""

from __future__ import annotations

import importlib.util
import sys

from batchgen_ext.server_routes.openapi import openapi_document
from batchgen_ext.server_routes.routes import ROUTES

from tests.api.conftest import ROOT

GEN = ROOT / "client" / "tools" / "gen_models.py"


def generator():
    spec = importlib.util.spec_from_file_location("batchgen_gen_models", GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_regenerating_the_client_models_from_the_route_tables_openapi_gives_the_committed_file():
    gen = generator()
    text = gen.render(openapi_document(ROUTES, "test"))
    committed = (ROOT / "client" / "batchgen_client" / "models.py").read_text(encoding="utf-8")
    assert text == committed, "server models changed: run python client/tools/gen_models.py <openapi.json> (see its docstring)"


async def test_the_served_document_generates_the_same_models(env):
    resp = await env.client.get("/batchgen/v1/openapi.json")
    assert generator().render(await resp.json()) == (ROOT / "client" / "batchgen_client" / "models.py").read_text(encoding="utf-8")


def test_the_generated_models_are_what_the_client_operations_answer_each_after_what_it_refers_to():
    gen = generator()
    doc = openapi_document(ROUTES, "test")
    order = gen.collect(doc)
    schemas = doc["components"]["schemas"]
    for i, name in enumerate(order):
        for inner in gen._refs(schemas[name].get("properties", {})):
            assert inner in order[:i], f"{name} refers to {inner}, which must come first"
    assert order[0] == "Error" and len(order) == len(set(order))
    # Nested models nobody lists by hand are found through the operations' bodies.
    assert {"BatchCounts", "ContactSheet", "JobError", "Output", "ManifestFile", "Event"} <= set(order)
    assert "WebhookInfo" not in order, "only what the client's operations answer"


def test_an_operation_the_document_lacks_is_named(monkeypatch):
    gen = generator()
    monkeypatch.setattr(gen, "CLIENT_OPERATIONS", (*gen.CLIENT_OPERATIONS, "noSuchOperation"))
    try:
        gen.collect(openapi_document(ROUTES, "test"))
    except SystemExit as exc:
        assert "noSuchOperation" in str(exc)
    else:
        raise AssertionError("an unknown operation must stop the generator")
