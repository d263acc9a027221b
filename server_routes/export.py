"""GET /batches/{id}/manifest (NDJSON) and GET /batches/{id}/export (a zip), both streamed page by page."""

from __future__ import annotations

from aiohttp import web

from ..batchgen import manifest as mf
from ..batchgen.export import write_export
from ._http import log
from .stream import CORS_HEADERS_KEY
from .table import Call


def _abort(request: web.Request) -> None:
    """A failure after the headers went out: cut the connection so the client sees an incomplete body, not a short valid one."""
    transport = request.transport
    if transport is not None:
        transport.close()


async def _start(call: Call, content_type: str, extra: dict[str, str] | None = None) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-store", **(extra or {})})
    response.headers.update(call.request.get(CORS_HEADERS_KEY) or {})
    await response.prepare(call.request)
    return response


async def get_manifest(call: Call) -> web.StreamResponse:
    """GET /batches/{batch_id}/manifest: one JSON object per job, in index order."""
    batch = await call.service.get_batch(call.arg("batch_id"))  # 404 before anything is sent
    store, base = call.service.store, call.base
    tpl_hash = mf.template_hash(await store.get_batch_template(batch.id))
    cache = mf.HashCache(store, call.service.host)
    response = await _start(call, "application/x-ndjson; charset=utf-8")
    try:
        async for jobs in mf.job_pages(store, batch.id):
            files = await cache.page_files(jobs, base)
            text = "".join(mf.row_line(mf.manifest_row(j, batch, tpl_hash, files[j.id])) for j in jobs)
            await response.write(text.encode("utf-8"))
        await response.write_eof()
    except ConnectionError:
        pass
    except Exception:
        log.exception("[batchgen] manifest of batch %s failed", batch.id)
        _abort(call.request)
    return response


async def get_export(call: Call) -> web.StreamResponse:
    """GET /batches/{batch_id}/export: the batch's images, manifests and contact sheets as one streamed zip."""
    batch = await call.service.get_batch(call.arg("batch_id"))
    response = await _start(call, "application/zip",
                            {"Content-Disposition": f'attachment; filename="batch-{batch.id}.zip"'})
    try:
        count = await write_export(response.write, call.service.store, call.service.host, batch, call.base)
        await response.write_eof()
        log.info("[batchgen] exported batch %s (%d images)", batch.id, count)
    except ConnectionError:
        pass
    except Exception:
        log.exception("[batchgen] export of batch %s failed", batch.id)
        _abort(call.request)
    return response
