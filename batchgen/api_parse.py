"""Request text → checked JSON → typed model, with every failure an ApiError (never a 500).

JSON is parsed strictly: no NaN/Infinity, no number that overflows to infinity, no integer
literal Python refuses (over 4,300 digits), at most ``MAX_DEPTH`` levels of nesting and no
lone surrogate in any string — each of these used to reach a 500 somewhere further on.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from .api_models import ApiModel
from .errors import ApiError, bad_request

MAX_DEPTH = 64  # a batch is 3 levels deep and an inline workflow ~6 more; deepcopy overflows near 800
M = TypeVar("M", bound=ApiModel)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a float")
    return value


def loads_strict(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text into plain values, refusing what the API cannot store or send back (400 invalid_json)."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise bad_request("invalid_json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise bad_request("invalid_json", f"the JSON is nested too deeply; at most {max_depth} levels are accepted") from None
    except ValueError as exc:  # NaN/Infinity, 1e400, or an integer literal of more than 4,300 digits
        reason = str(exc) if "JSON number" in str(exc) or "too large" in str(exc) else "an integer literal is too long"
        raise bad_request("invalid_json", f"malformed JSON: {reason}") from None
    check_plain(value, max_depth, surrogates=_SURROGATE_ESCAPE.search(text) is not None)
    return value


def check_plain(value: Any, max_depth: int = MAX_DEPTH, surrogates: bool = True) -> None:
    """400 if ``value`` nests deeper than ``max_depth``, has a non-finite float or (when asked) a lone surrogate."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
            if surrogates:
                for key in node:
                    _check_text(key)
        elif isinstance(node, list):
            children = node
        else:
            _check_scalar(node, surrogates)
            continue
        if depth > max_depth:
            raise bad_request("invalid_json", f"the JSON is nested too deeply; at most {max_depth} levels are accepted")
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif surrogates or isinstance(child, float):
                _check_scalar(child, surrogates)


def _check_scalar(value: Any, surrogates: bool) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_request("invalid_json", "NaN and Infinity are not JSON numbers; send a finite number")
    if surrogates and isinstance(value, str):
        _check_text(value)


def _check_text(text: Any) -> None:
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request("invalid_json", "a string contains a lone surrogate escape (e.g. \\ud800); send valid Unicode text") from None


# -- model validation -------------------------------------------------------------------------


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name (case and -/_ insensitive), or None."""
    options = list(candidates)
    folded = {c.lower().replace("-", "_"): c for c in options}
    key = name.lower().replace("-", "_")
    if key in folded:
        return folded[key]
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


def unknown_field(name: str, where: str, fields: Iterable[str], params: Iterable[str] = ()) -> ApiError:
    """400 unknown_field naming the field, with the likely fix: a close field name, or "put it in params"."""
    fields, params = list(fields), set(params)
    label = f"{where}.{name}" if where else name
    if name in params:
        hint = f"put `{name}` in `params`" + (" (it is a parameter of the template)" if where == "" else "")
    else:
        close = suggest(name, fields)
        if close is None and params:
            close_param = suggest(name, params)
            hint = f"did you mean the template parameter `{close_param}`? put it in `params`" if close_param else ""
        else:
            hint = f"did you mean `{close}`?" if close else ""
        if not hint:
            hint = "known fields: " + ", ".join(fields)
    return bad_request("unknown_field", f"unknown field `{label}`: {hint}", field=label)


def parse_request(model: type[M], data: Any, params: Callable[[], Iterable[str]] | None = None) -> M:
    """Validate a JSON body into ``model``; ``params`` lists the template's parameter names for better hints."""
    if isinstance(data, model):
        return data
    if not isinstance(data, dict):
        raise bad_request("invalid_body", "expected a JSON object")
    model.precheck(data)
    if model.model_config.get("extra") == "forbid":
        extra = [k for k in data if k not in model.model_fields]
        if extra:
            raise unknown_field(extra[0], "", model.model_fields, params() if params else ())
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model, data) from None


def parse_query(model: type[M], query: Mapping[str, str]) -> M:
    """Validate query parameters (strings; list fields are comma-separated) into ``model``."""
    data: dict[str, Any] = {}
    for key in query:
        if key not in model.model_fields:
            raise unknown_field(key, "", model.model_fields)
        values = query.getall(key) if hasattr(query, "getall") else [query[key]]  # type: ignore[attr-defined]
        value = values[-1]
        data[key] = [v.strip() for v in value.split(",") if v.strip()] if _is_list(model, key) else value
    check_plain(data)  # e.g. %ED%A0%80 decodes to a lone surrogate
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model, data) from None


def _is_list(model: type[BaseModel], name: str) -> bool:
    return any(getattr(a, "__origin__", None) is list for a in (model.model_fields[name].annotation, *get_args(model.model_fields[name].annotation)))


_WORDS = {
    "string_type": "must be a string", "int_type": "must be an integer", "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number", "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "dict_type": "must be an object", "list_type": "must be a list", "model_type": "must be an object",
    "missing": "is required", "float_type": "must be a number", "float_parsing": "must be a number",
}


def _path(loc: tuple[Any, ...], data: Any, missing: bool = False) -> str:
    """loc in words ("jobs[3].width"), skipping the parts that name no part of the request (union branches)."""
    out = ""
    node = data
    for i, part in enumerate(loc):
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            out += f"[{part}]"
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            out += f".{part}" if out else part
            node = node[part]
        elif missing and i == len(loc) - 1 and isinstance(part, str):
            out += f".{part}" if out else part  # the field that is missing
    return out


def _nested_fields(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    names: set[str] = set()
    stack = [f.annotation for f in model.model_fields.values()]
    while stack:
        ann = stack.pop()
        if isinstance(ann, type) and issubclass(ann, BaseModel) and ann not in seen:
            seen.add(ann)
            names |= set(ann.model_fields)
            stack += [f.annotation for f in ann.model_fields.values()]
        else:
            stack += list(get_args(ann))
    return names


def validation_error(exc: ValidationError, model: type[ApiModel], data: Any) -> ApiError:
    """The first pydantic error as our {error, message, details}, the field path in words."""
    errors = exc.errors(include_url=False)
    # In a union (seed: name | int | {policy, base}) the error that reaches deepest into the request is the telling one.
    first = max(errors, key=lambda e: len(_path(tuple(e["loc"]), data, e["type"] in ("missing", "extra_forbidden"))))
    loc = tuple(first["loc"])
    top = loc[0] if loc and isinstance(loc[0], str) else ""
    path = _path(loc, data, first["type"] in ("missing", "extra_forbidden")) or top
    if first["type"] == "extra_forbidden":
        where, _, name = path.rpartition(".")
        return unknown_field(name, where, sorted(_nested_fields(model)))
    code = (model.missing_codes.get(top) if first["type"] == "missing" else None) or model.codes.get(top, "invalid_field")
    hint = model.hints.get(top)
    words = _WORDS.get(first["type"]) or first["msg"][:1].lower() + first["msg"][1:]
    if first["type"] == "missing" and top in model.missing_codes and hint:
        message = hint
    elif path == top and hint:
        message = hint
    else:
        message = f"{path} {words}" if path else words
        if hint and hint not in message:
            message += f" ({hint})"
    details: dict[str, Any] = {"field": path}
    for key in ("index",):
        if key in first.get("ctx", {}):
            details[key] = first["ctx"][key]
    return bad_request(code, message, **details)
