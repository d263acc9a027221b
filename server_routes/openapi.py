"""The OpenAPI 3.1 document, generated from the route table and its pydantic models (nothing written by hand)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..batchgen.api_responses import Error
from ..batchgen.ids import API_PREFIX
from .table import Route

REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "Malformed request: the message names the field and what to send instead.",
    401: "A token is needed (send Authorization: Bearer <token>), or the one sent is unknown or revoked.",
    403: "The token's scope is too low, or the browser origin is not in BATCHGEN_CORS_ORIGINS.",
    404: "No such batch, job, template or route.",
    408: "The request body did not arrive completely in time (BATCHGEN_READ_TIMEOUT).",
    409: "Conflicts with the current state of the batch, job or template.",
    413: "The body or the batch is larger than the server accepts (details.limit holds the limit).",
    415: "The body must be sent with Content-Type: application/json (send {} when there is nothing to say); "
         "an upload must be multipart/form-data with a PNG, JPEG or WEBP image or a CSV, TSV, JSONL or .xlsx table.",
    422: "Well-formed but not acceptable.",
    429: "Too many open event streams (BATCHGEN_MAX_STREAMS); retry after Retry-After seconds.",
    503: "The batch database is not open or is locked by another process; retry after Retry-After seconds.",
}


def _schemas(routes: list[Route]) -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
    """$refs of every model the routes use, and components/schemas with every $def."""
    wanted: list[tuple[type[BaseModel], str]] = [(Error, "serialization")]
    for route in routes:
        if route.body is not None:
            wanted.append((route.body, "validation"))
        if route.form is not None:
            wanted.append((route.form, "validation"))
        wanted += [(model, "serialization") for model in route.responses.values()]
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=REF)
    return refs, top.get("$defs", {})


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch of an optional field."""
    options = schema.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default") or (k == "default" and v is not None)}
            return {**kept[0], **rest}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null({k: v for k, v in prop.items() if k != "title"})
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop.pop("description")
        if prop.get("type") == "array":
            param.update(style="form", explode=False)  # ?status=a,b
        params.append(param)
    return params


def _operation(route: Route, refs: dict[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "tags": [route.tag], "summary": route.summary, "x-scope": route.scope,
                          # A token (of x-scope or higher), or nothing for a caller on the ComfyUI machine itself.
                          "security": [{"bearer": []}, {}]}
    if route.description:
        op["description"] = route.description
    params = [{"name": n, "in": "path", "required": True, **spec} for n, spec in route.path_params.items()]
    if route.query is not None:
        params += _query_parameters(route.query)
    if route.idempotency_key:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "1-200 visible ASCII characters. The same key with the same body returns the batch created the "
                                      "first time (200); with a different body it is a 422 idempotency_key_reused.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"}})
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": route.body_required,
                             "content": {"application/json": {"schema": refs[(route.body, "validation")]}}}
    if route.form is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": refs[(route.form, "validation")]}}}
    responses: dict[str, Any] = {}
    for status, model in sorted(route.responses.items()):
        description = (model.__doc__ or "").strip().splitlines()[0] or "OK"
        if route.stream and status == 200:
            schema = {"type": "string", "contentMediaType": route.media_type} if route.media_type != "text/event-stream" else {"type": "string"}
            content: dict[str, Any] = {"schema": schema}
            if model is not None and model.model_fields:
                content["x-item-schema"] = refs[(model, "serialization")]  # each NDJSON line
            responses[str(status)] = {"description": description, "content": {route.media_type: content}}
            continue
        responses[str(status)] = {"description": description,
                                  "content": {"application/json": {"schema": refs[(model, "serialization")]}}}
    for status, codes in route.all_errors().items():
        response: dict[str, Any] = {"description": f"{_STATUS_TEXT.get(status, 'Error.')} Codes: {', '.join(codes)}.",
                                    "content": {"application/json": {"schema": refs[(Error, "serialization")]}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"description": "Bearer challenge.", "schema": {"type": "string"}}}
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
        responses[str(status)] = response
    op["responses"] = responses
    return op


@functools.lru_cache(maxsize=4)
def _document(routes: tuple[Route, ...], version: str) -> dict[str, Any]:
    refs, schemas = _schemas(list(routes))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "comfyui-batchgen",
            "version": version,
            "description": ("Batch image generation inside ComfyUI. Bodies are JSON: every POST must send Content-Type: application/json "
                            "(415 otherwise). Errors are {error, message, details?}. Unknown fields are errors. Served by ComfyUI under "
                            "/batchgen/v1 and /api/batchgen/v1. x-scope is the access a remote client will need (read, submit, admin)."),
            "license": {"name": "MIT"},
        },
        "servers": [{"url": API_PREFIX}, {"url": "/api" + API_PREFIX, "description": "The same routes under ComfyUI's /api prefix."}],
        "tags": [{"name": t} for t in dict.fromkeys(r.tag for r in routes)],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "An API token (bg_…) from cli.py or POST /tokens; loopback callers may omit it. Never in the URL."}}},
    }


def openapi_document(routes: list[Route], version: str) -> dict[str, Any]:
    """OpenAPI 3.1 description of the routes (built once per version; the caller must not modify it)."""
    return _document(tuple(routes), version)
