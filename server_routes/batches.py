"""Batch and job routes."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.errors import bad_request
from ..batchgen.ids import API_PREFIX
from ..batchgen.models import BatchStatus, JobStatus
from ..batchgen.service import BatchService
from ._http import api, base_url, batch_json, job_json, json_response, page_args, read_json, require_json_post, status_filter
from .guards import idempotency_key, job_id_arg, require_store

_BATCH_STATUSES = {s.value for s in BatchStatus}
_JOB_STATUSES = {s.value for s in JobStatus}


def add_batch_routes(routes: web.RouteTableDef, service: BatchService) -> None:
    """/batches, /generate, /jobs."""

    async def _create(request: web.Request, single: bool) -> web.Response:
        require_store(service)
        key = idempotency_key(request)
        body = await read_json(request, service.config.max_body_bytes)
        if not single:
            batch, created = await service.create_batch(body, key)
            return json_response(batch_json(batch), status=201 if created else 200)
        batch, created, job = await service.generate(body, key)
        return json_response({**batch_json(batch), "job": job_json(job, base_url(request))}, status=201 if created else 200)

    @routes.post(f"{API_PREFIX}/batches")
    @api
    async def create_batch(request: web.Request) -> web.Response:
        return await _create(request, single=False)

    @routes.post(f"{API_PREFIX}/generate")
    @api
    async def generate(request: web.Request) -> web.Response:
        return await _create(request, single=True)

    @routes.get(f"{API_PREFIX}/batches")
    @api
    async def list_batches(request: web.Request) -> web.Response:
        require_store(service)
        limit, offset = page_args(request)
        statuses = status_filter(request, _BATCH_STATUSES)
        batches, total = await service.store.list_batches(statuses, limit, offset)
        return json_response({"batches": [batch_json(b) for b in batches], "total": total, "limit": limit, "offset": offset})

    @routes.get(f"{API_PREFIX}/batches/{{batch_id}}")
    @api
    async def get_batch(request: web.Request) -> web.Response:
        require_store(service)
        return json_response(batch_json(await service.get_batch(request.match_info["batch_id"])))

    @routes.delete(f"{API_PREFIX}/batches/{{batch_id}}")
    @api
    async def delete_batch(request: web.Request) -> web.Response:
        require_store(service)
        images = request.query.get("images", "false").lower()
        if images not in ("true", "false", "1", "0"):
            raise bad_request("invalid_images", "images must be true or false")
        removed = await service.delete_batch(request.match_info["batch_id"], images in ("true", "1"))
        return json_response({"deleted": request.match_info["batch_id"], "files_removed": removed})

    @routes.get(f"{API_PREFIX}/batches/{{batch_id}}/jobs")
    @api
    async def list_jobs(request: web.Request) -> web.Response:
        require_store(service)
        batch_id = request.match_info["batch_id"]
        await service.get_batch(batch_id)
        limit, offset = page_args(request, default_limit=100, max_limit=1000)
        statuses = status_filter(request, _JOB_STATUSES)
        jobs, total = await service.store.list_jobs(batch_id, statuses, limit, offset)
        base = base_url(request)
        return json_response({"jobs": [job_json(j, base) for j in jobs], "total": total, "limit": limit, "offset": offset})

    def _control(action: str):
        async def handler(request: web.Request) -> web.Response:
            require_store(service)
            require_json_post(request)
            batch_id = request.match_info["batch_id"]
            body = await read_json(request, 64 * 1024, allow_empty=True)
            if action == "cancel":
                batch = await service.cancel_batch(batch_id)
            elif action == "pause":
                batch = await service.pause_batch(batch_id)
            elif action == "resume":
                batch = await service.resume_batch(batch_id)
            elif action == "priority":
                batch = await service.set_priority(batch_id, body)
            else:
                batch, moved = await service.retry(batch_id)
                return json_response({**batch_json(batch), "retried": moved})
            return json_response(batch_json(batch))

        handler.__name__ = f"{action}_batch"
        return api(handler)

    for action in ("cancel", "pause", "resume", "priority", "retry"):
        routes.post(f"{API_PREFIX}/batches/{{batch_id}}/{action}")(_control(action))

    @routes.get(f"{API_PREFIX}/jobs/{{job_id}}")
    @api
    async def get_job(request: web.Request) -> web.Response:
        require_store(service)
        job = await service.get_job(str(job_id_arg(request.match_info["job_id"])))
        return json_response(job_json(job, base_url(request)))

    @routes.post(f"{API_PREFIX}/jobs/{{job_id}}/retry")
    @api
    async def retry_job(request: web.Request) -> web.Response:
        require_store(service)
        require_json_post(request)
        await read_json(request, 64 * 1024, allow_empty=True)
        job = await service.retry_job(str(job_id_arg(request.match_info["job_id"])))
        return json_response(job_json(job, base_url(request)))
