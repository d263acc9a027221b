"""GET /jobs/{id}/thumb: a small thumbnail of a job's image for the tab's gallery."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..batchgen.errors import not_found
from ..batchgen.thumbs import ThumbCache, fit_size
from .guards import job_id_arg
from .table import Call

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
CACHE = ThumbCache()  # one per process: thumbnails are of files, not of a service


async def get_thumb(call: Call) -> web.StreamResponse:
    """GET /jobs/{job_id}/thumb?size=&output=."""
    job = await call.service.get_job(str(job_id_arg(call.arg("job_id"))))
    images = [o for o in job.outputs if o.filename.lower().endswith(IMAGE_SUFFIXES)]
    q = call.query
    if q.output >= len(images):
        raise not_found("no_image", f"job {job.id} has {len(images)} image output(s); there is no output {q.output}",
                        job_id=job.id, images=len(images))
    out = images[q.output]
    path = await asyncio.to_thread(call.service.host.output_file, out.subfolder, out.filename, out.type)
    if path is None or not path.is_file():
        raise not_found("no_image", f"the image of job {job.id} ({out.filename}) is no longer in the output folder", job_id=job.id)
    try:
        thumb = await asyncio.to_thread(CACHE.get, path, fit_size(q.size))
    except (OSError, ValueError) as exc:
        raise not_found("no_image", f"the image of job {job.id} cannot be read: {exc}", job_id=job.id) from None
    headers = {"ETag": thumb.etag, "Cache-Control": "private, max-age=86400"}
    if call.request.headers.get("If-None-Match") == thumb.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=thumb.data, content_type=thumb.media_type, headers=headers)
