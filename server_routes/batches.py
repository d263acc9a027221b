"""Batch, generate and job handlers (thin: typed input in, domain call, JSON out)."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.models import Batch
from ._http import batch_json, job_json, json_response
from .guards import idempotency_key, job_id_arg
from .table import Call


async def _batch(call: Call, batch: Batch) -> dict:
    """The batch JSON with its contact sheets (a grid batch's pages once it finished)."""
    sheets = await call.service.sheets.pages([batch.id])
    return batch_json(batch, sheets.get(batch.id), call.base)


async def create_batch(call: Call) -> web.Response:
    """POST /batches."""
    batch, created = await call.service.create_batch(call.body, idempotency_key(call.request))
    return json_response(batch_json(batch), status=201 if created else 200)


async def preview_batch(call: Call) -> web.Response:
    """POST /batches/preview."""
    return json_response(await call.service.preview_batch(call.body, call.query.rows))


async def generate(call: Call) -> web.Response:
    """POST /generate."""
    batch, created, job = await call.service.generate(call.body, idempotency_key(call.request))
    return json_response({**batch_json(batch), "job": job_json(job, call.base)}, status=201 if created else 200)


async def list_batches(call: Call) -> web.Response:
    """GET /batches."""
    q = call.query
    batches, total = await call.service.store.list_batches(q.status or [], q.limit, q.offset, q.q.strip())
    sheets, base = await call.service.sheets.pages([b.id for b in batches]), call.base
    return json_response({"batches": [batch_json(b, sheets.get(b.id), base) for b in batches], "total": total, "limit": q.limit,
                          "offset": q.offset})


async def get_batch(call: Call) -> web.Response:
    """GET /batches/{batch_id}."""
    return json_response(await _batch(call, await call.service.get_batch(call.arg("batch_id"))))


async def delete_batch(call: Call) -> web.Response:
    """DELETE /batches/{batch_id}."""
    batch_id = call.arg("batch_id")
    removed = await call.service.delete_batch(batch_id, call.query.images in ("true", "1"))
    return json_response({"deleted": batch_id, "files_removed": removed})


async def list_jobs(call: Call) -> web.Response:
    """GET /batches/{batch_id}/jobs."""
    batch_id, q = call.arg("batch_id"), call.query
    await call.service.get_batch(batch_id)
    jobs, total = await call.service.store.list_jobs(batch_id, q.status or [], q.limit, q.offset)
    base = call.base
    return json_response({"jobs": [job_json(j, base) for j in jobs], "total": total, "limit": q.limit, "offset": q.offset})


async def cancel_batch(call: Call) -> web.Response:
    """POST /batches/{batch_id}/cancel."""
    return json_response(await _batch(call, await call.service.cancel_batch(call.arg("batch_id"))))


async def pause_batch(call: Call) -> web.Response:
    """POST /batches/{batch_id}/pause."""
    return json_response(await _batch(call, await call.service.pause_batch(call.arg("batch_id"))))


async def resume_batch(call: Call) -> web.Response:
    """POST /batches/{batch_id}/resume."""
    return json_response(await _batch(call, await call.service.resume_batch(call.arg("batch_id"))))


async def set_priority(call: Call) -> web.Response:
    """POST /batches/{batch_id}/priority."""
    return json_response(await _batch(call, await call.service.set_priority(call.arg("batch_id"), {"priority": call.body.priority})))


async def retry_batch(call: Call) -> web.Response:
    """POST /batches/{batch_id}/retry."""
    batch, moved = await call.service.retry(call.arg("batch_id"))
    return json_response({**await _batch(call, batch), "retried": moved})


async def get_job(call: Call) -> web.Response:
    """GET /jobs/{job_id}."""
    job = await call.service.get_job(str(job_id_arg(call.arg("job_id"))))
    return json_response(job_json(job, call.base))


async def retry_job(call: Call) -> web.Response:
    """POST /jobs/{job_id}/retry."""
    job = await call.service.retry_job(str(job_id_arg(call.arg("job_id"))))
    return json_response(job_json(job, call.base))


async def list_events(call: Call) -> web.Response:
    """GET /events: the durable event log after a sequence number."""
    q = call.query
    return json_response(await call.service.list_events(q.after, q.batch, q.limit))
