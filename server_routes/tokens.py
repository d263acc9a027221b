"""Token admin handlers: create (the value is answered once), list (never values or hashes), revoke."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.errors import ApiError, bad_request
from ..batchgen.tokens import TokenError
from ._http import json_response, log
from .table import Call


async def create_token(call: Call) -> web.Response:
    """POST /tokens."""
    try:
        record, token = call.context.access.tokens.create(call.body.name, call.body.scope)
    except TokenError as exc:
        raise bad_request("invalid_name", str(exc)) from None
    except OSError:
        log.exception("[batchgen] could not save the token file")
        raise ApiError(507, "token_not_saved", "the token file could not be written; see the ComfyUI log") from None
    return json_response({**record.public(), "token": token}, 201, {"Cache-Control": "no-store"})


async def list_tokens(call: Call) -> web.Response:
    """GET /tokens."""
    return json_response({"tokens": [r.public() for r in call.context.access.tokens.list()]})


async def revoke_token(call: Call) -> web.Response:
    """DELETE /tokens/{token_id}."""
    record = call.context.access.tokens.revoke(call.arg("token_id"))
    if record is None:
        raise ApiError(404, "token_not_found", f"no token with id {call.arg('token_id')!r}; see GET /batchgen/v1/tokens")
    return json_response(record.public())
