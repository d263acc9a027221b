"""Upload handlers: the multipart body is read part by part and the file streamed to disk in 64 KiB pieces."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import BodyPartReader, web

from ..batchgen.errors import ApiError, bad_request, too_large, unavailable
from ..batchgen.upload_checks import KINDS, TABLE_FORMATS, display_name
from ..batchgen.uploads import Incoming, Uploads, upload_json
from ._http import json_response
from .table import Call

MULTIPART = "multipart/form-data"
CHUNK = 1 << 16
_FIELD_LIMIT = 256
_SLACK = 64 * 1024  # multipart headers and boundaries around the file


def _uploads(call: Call) -> Uploads:
    uploads = getattr(call.service, "uploads", None)
    if uploads is None:
        raise unavailable("uploads_unavailable", "uploads are not set up on this server (no upload folder)")
    return uploads


async def _read(coro: Any, timeout: float) -> Any:
    """One read from the body: a client that stops sending for ``timeout`` seconds gets a 408."""
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, "request_timeout", f"the upload stalled: nothing arrived for {timeout:g} s",
                       headers={"Connection": "close"}) from None


async def _field(part: Any, timeout: float) -> str:
    data = b""
    while chunk := await _read(part.read_chunk(_FIELD_LIMIT), timeout):
        data += chunk
        if len(data) > _FIELD_LIMIT:
            raise bad_request("invalid_field", f"form field {part.name!r} is longer than {_FIELD_LIMIT} bytes", field=part.name)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise bad_request("invalid_field", f"form field {part.name!r} is not UTF-8 text", field=part.name) from None


async def create_upload(call: Call) -> web.Response:
    """POST /uploads: multipart/form-data with one part named file (and optional kind, format)."""
    uploads = _uploads(call)
    request = call.request
    if request.content_type != MULTIPART:
        got = request.headers.get("Content-Type") or "no Content-Type"
        raise ApiError(415, "unsupported_media_type", f"send the file as {MULTIPART} with a part named file "
                       f"(curl -F file=@prompts.csv); got {got}")
    if request.content_length is not None and request.content_length > uploads.max_bytes + _SLACK:
        raise too_large("upload_too_large", f"the request is {request.content_length} bytes; a file may have at most {uploads.max_bytes} "
                        "(BATCHGEN_MAX_UPLOAD_MB)", limit=uploads.max_bytes)
    await uploads.cleanup()
    timeout = call.service.config.read_timeout_seconds
    fields: dict[str, str] = {}
    incoming: Incoming | None = None
    name = content_type = ""
    try:
        try:
            reader = await request.multipart()
            while (part := await _read(reader.next(), timeout)) is not None:
                if not isinstance(part, BodyPartReader):
                    raise bad_request("invalid_multipart", "nested multipart parts are not accepted; send one file part")
                encoding = (part.headers.get("Content-Transfer-Encoding") or "binary").lower()
                if encoding not in ("binary", "8bit", "7bit"):
                    raise bad_request("invalid_multipart", f"Content-Transfer-Encoding {encoding} is not accepted; send the bytes as they are")
                if part.name == "file":
                    if incoming is not None:
                        raise bad_request("invalid_multipart", "one file per request: send each file in its own POST /uploads")
                    name = display_name(part.filename)  # before a byte is written: a path in the name is refused
                    content_type = part.headers.get("Content-Type", "")
                    incoming = uploads.incoming()
                    while chunk := await _read(part.read_chunk(CHUNK), timeout):
                        incoming.write(chunk)
                elif part.name in ("kind", "format"):
                    if part.name in fields:
                        raise bad_request("invalid_field", f"form field {part.name!r} is given twice", field=part.name)
                    fields[part.name] = await _field(part, timeout)
                else:
                    raise bad_request("unknown_field", f"unknown form field {str(part.name)[:60]!r}: send file, and optionally kind "
                                      "(table|image) and format (csv|tsv|jsonl|xlsx)", field=str(part.name)[:60])
        except (ApiError, asyncio.CancelledError):
            raise
        except Exception:
            # aiohttp raises ValueError/AssertionError/… for a broken multipart body, a cut-off one raises client errors.
            raise bad_request("invalid_multipart", "the multipart/form-data body could not be read (broken boundary or cut off)") from None
        if incoming is None:
            raise bad_request("missing_file", "no file part: send the file as a form part named file (curl -F file=@prompts.csv)")
        kind, fmt = fields.get("kind") or None, fields.get("format") or None
        if kind is not None and kind not in KINDS:
            raise bad_request("invalid_field", f"kind must be table or image, not {kind[:40]!r}", field="kind")
        if fmt is not None and fmt not in TABLE_FORMATS:
            raise bad_request("invalid_field", f"format must be csv, tsv, jsonl or xlsx, not {fmt[:40]!r}", field="format")
        record = await uploads.accept(incoming, name, content_type, kind, fmt)
        incoming = None
    finally:
        if incoming is not None:
            incoming.discard()
    return json_response(upload_json(record), status=201)


async def list_uploads(call: Call) -> web.Response:
    """GET /uploads."""
    uploads, q = _uploads(call), call.query
    await uploads.cleanup()
    records, total = await uploads.records.page(q.kind, q.limit, q.offset)
    return json_response({"uploads": [upload_json(r) for r in records], "total": total, "limit": q.limit, "offset": q.offset})


async def get_upload(call: Call) -> web.Response:
    """GET /uploads/{upload_id}."""
    return json_response(upload_json(await _uploads(call).get(call.arg("upload_id"))))


async def delete_upload(call: Call) -> web.Response:
    """DELETE /uploads/{upload_id}."""
    record = await _uploads(call).delete(call.arg("upload_id"))
    return json_response({"deleted": record.id})

