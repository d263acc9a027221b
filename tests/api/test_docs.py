"""Every example in docs/api.md is checked against the models the server parses with and the OpenAPI is made of."""

from __future__ import annotations

import re
from typing import Any, get_args
from urllib.parse import parse_qsl, urlsplit

import pytest
from batchgen_ext.batchgen import api_export, api_models, api_remote, api_responses, api_settings, api_uploads, api_webhooks
from batchgen_ext.batchgen.api_parse import loads_strict, parse_query, parse_request
from batchgen_ext.server_routes.routes import ROUTES
from pydantic import BaseModel, TypeAdapter

from tests.api.conftest import ROOT

DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"(?:<!-- schema: (?P<schema>[^>]*?) -->\n)?```(?P<lang>json|bash)\n(?P<body>.*?)```", re.S)
JSON_BLOCKS = [(m["schema"], m["body"], DOC.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(DOC) if m["lang"] == "json"]
BASH_BLOCKS = [(m["body"], DOC.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(DOC) if m["lang"] == "bash"]


def model_named(name: str) -> type[BaseModel]:
    return (getattr(api_responses, name, None) or getattr(api_remote, name, None) or getattr(api_export, name, None)
            or getattr(api_uploads, name, None)
            or getattr(api_webhooks, name, None)
            or getattr(api_settings, name, None)
            or getattr(api_models, name))


def has_ellipsis(value: Any) -> bool:
    if isinstance(value, dict):
        return "..." in value or any(has_ellipsis(v) for v in value.values())
    if isinstance(value, list):
        return any(has_ellipsis(v) for v in value)
    return False


def inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = inner_model(arg)
        if found:
            return found
    return None


def check_excerpt(model: type[BaseModel], value: Any, where: str) -> None:
    """An excerpt ("...": "..." stands for the fields left out): every field shown exists and has a valid value."""
    assert isinstance(value, dict), where
    for key, item in value.items():
        if key == "...":
            continue
        assert key in model.model_fields, f"{where}: {key!r} is not a field of {model.__name__}"
        annotation = model.model_fields[key].annotation
        if not has_ellipsis(item):
            TypeAdapter(annotation).validate_python(item)
            continue
        nested = inner_model(annotation)
        for part in item if isinstance(item, list) else [item]:
            if nested is not None and isinstance(part, dict):
                check_excerpt(nested, part, f"{where}.{key}")


@pytest.mark.parametrize(("schema", "body", "line"), JSON_BLOCKS, ids=[f"line{b[2]}" for b in JSON_BLOCKS])
def test_json_example_matches_its_model(schema, body, line):
    assert schema, f"docs/api.md line {line}: say which model the example shows with <!-- schema: Name --> (or none)"
    value = loads_strict(body)
    name, _, kind = schema.partition(" ")
    if name == "none":
        return
    model = model_named(name)
    if kind == "(excerpt)":
        check_excerpt(model, value, f"line {line}")
    elif issubclass(model, api_models.ApiModel):
        parse_request(model, value)
    else:
        model.model_validate(value)


def curl_commands():
    for body, line in BASH_BLOCKS:
        text = body.replace("\\\n", " ")
        heredoc = re.search(r"<<'EOF'\n(.*?)\nEOF", text, re.S)
        for command in re.findall(r"curl .*", text):
            url = re.search(r"http://127\.0\.0\.1:8188(/batchgen/v1[^\s'\"]*)", command)
            if not url:
                continue
            method = re.search(r"-X (\w+)", command)
            data = re.search(r"-d '(.*?)'", command, re.S)
            payload = heredoc.group(1) if "-d @-" in command and heredoc else (data.group(1) if data else None)
            yield line, (method.group(1) if method else ("POST" if payload else "GET")), url.group(1), payload


CURLS = list(curl_commands())


def test_docs_show_a_curl_for_most_routes():
    shown = {(m, re.sub(r"\$\w+", "x", u.split("?")[0])) for _, m, u, _ in CURLS}
    assert len(shown) >= len(ROUTES) - 3


@pytest.mark.parametrize(("line", "method", "url", "payload"), CURLS, ids=[f"line{c[0]}" for c in CURLS])
def test_curl_example_names_a_route_and_sends_a_valid_body(line, method, url, payload):
    parts = urlsplit(re.sub(r"\$\w+", "1", url))
    path = parts.path[len("/batchgen/v1"):]
    matches = [r for r in ROUTES if r.method == method and r.pattern().match(path)]
    assert matches, f"docs/api.md line {line}: {method} {url} is no route"
    route = matches[0]
    if route.query is not None:
        parse_query(route.query, dict(parse_qsl(parts.query)))
    if payload is not None:
        assert route.body is not None, f"line {line}: {method} {path} takes no body"
        parse_request(route.body, loads_strict(payload))


async def test_batch_request_examples_are_accepted_by_the_server(env):
    """The request examples of "The batch request" really create batches."""
    examples = [body for schema, body, _ in JSON_BLOCKS if schema == "BatchRequest"]
    assert len(examples) >= 5
    for body in examples:
        resp = await env.client.post("/batchgen/v1/batches", json=loads_strict(body))
        assert resp.status == 201, await resp.text()
