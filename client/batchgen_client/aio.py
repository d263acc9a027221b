"""AsyncClient: the batchgen REST API over httpx.AsyncClient (the sync Client in client.py drives this one)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import sources
from .download import DownloadMixin
from .errors import NotAvailable, error_from_response
from .models import Batch, BatchList, Deleted, GenerateResult, Job, JobList, RetryResult
from .watch import WatchMixin

PREFIX = "/batchgen/v1"
DEFAULT_URL = "http://127.0.0.1:8188"
USER_AGENT = "batchgen-client/0.1"


def api_base(url: str) -> str:
    """http://host:port/batchgen/v1 for a ComfyUI URL (given with or without the /batchgen/v1 or /api/batchgen/v1 tail)."""
    url = url.rstrip("/")
    for tail in ("/api" + PREFIX, PREFIX):
        if url.endswith(tail):
            return url
    return url + PREFIX


class AsyncClient(WatchMixin, DownloadMixin):
    """An async batchgen client for one server: ``async with AsyncClient(url, token) as c: batch = await c.submit(...)``."""

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None, poll_seconds: float = 1.0) -> None:
        self.base = api_base(url)
        parts = urlsplit(self.base)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.poll_seconds = poll_seconds
        headers = {"User-Agent": USER_AGENT}
        self._token = token
        # The token is sent only to this server's origin (see _auth): a manifest URL on another host never gets it.
        self.http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout, read=max(timeout, 60.0)),
                                      transport=transport, follow_redirects=False)

    def _auth(self, url: str) -> dict[str, str]:
        same = url.startswith(self.origin + "/") or url == self.origin
        return {"Authorization": f"Bearer {self._token}"} if self._token and same else {}

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def request(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        """One JSON call below /batchgen/v1; an error status raises ApiError with the server's code and message."""
        url = self.base + path
        hdrs = {**self._auth(url), **(headers or {})}
        content = None
        if body is not None or method in ("POST", "PUT", "PATCH"):
            content = json.dumps({} if body is None else body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        resp = await self.http.request(method, url, content=content, params=params, headers=hdrs)
        if resp.status_code not in expect:
            raise error_from_response(resp)
        return resp.json()

    # -- batches ------------------------------------------------------------------------------

    async def submit(self, template: str | dict[str, Any], *, prompts: list[str] | None = None,
                     jobs: list[dict[str, Any]] | None = None, table: dict[str, Any] | None = None,
                     params: dict[str, Any] | None = None, idempotency_key: str | None = None, **fields: Any) -> Batch:
        """POST /batches: prompts, jobs and/or an inline table; other BatchRequest fields (name, matrix, seed, …) as keywords."""
        body: dict[str, Any] = {"template": template, **{k: v for k, v in fields.items() if v is not None}}
        for key, value in (("prompts", prompts), ("jobs", jobs), ("table", table), ("params", params)):
            if value is not None:
                body[key] = value
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return Batch.from_dict(await self.request("POST", "/batches", body=body, headers=headers))

    async def submit_file(self, path: str | os.PathLike[str], template: str | dict[str, Any], *, fmt: str | None = None,
                          columns: dict[str, str | None] | None = None, **kwargs: Any) -> Batch:
        """Submit a prompts file (.txt, one a line) or a table (.csv, .tsv, .jsonl, .xlsx) sent inline."""
        return await self.submit(template, **sources.from_file(path, fmt, columns), **kwargs)

    async def generate(self, template: str | None = None, *, prompt: str | None = None, **fields: Any) -> GenerateResult:
        """POST /generate: one image (a batch of one job), with the job."""
        body = {k: v for k, v in {"template": template, "prompt": prompt, **fields}.items() if v is not None}
        return GenerateResult.from_dict(await self.request("POST", "/generate", body=body))

    async def get_batch(self, batch_id: str) -> Batch:
        """GET /batches/{id}."""
        return Batch.from_dict(await self.request("GET", f"/batches/{batch_id}"))

    async def list_batches(self, status: list[str] | None = None, limit: int = 50, offset: int = 0) -> BatchList:
        """GET /batches, newest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset, **({"status": ",".join(status)} if status else {})}
        return BatchList.from_dict(await self.request("GET", "/batches", params=params))

    async def list_jobs(self, batch_id: str, status: list[str] | None = None, limit: int = 100, offset: int = 0) -> JobList:
        """GET /batches/{id}/jobs, in index order."""
        params: dict[str, Any] = {"limit": limit, "offset": offset, **({"status": ",".join(status)} if status else {})}
        return JobList.from_dict(await self.request("GET", f"/batches/{batch_id}/jobs", params=params))

    async def iter_jobs(self, batch_id: str, status: list[str] | None = None) -> AsyncIterator[Job]:
        """Every job of a batch, page by page."""
        offset = 0
        while True:
            page = await self.list_jobs(batch_id, status, 500, offset)
            for job in page.jobs:
                yield job
            offset += len(page.jobs)
            if not page.jobs or offset >= page.total:
                return

    async def cancel(self, batch_id: str) -> Batch:
        """POST /batches/{id}/cancel."""
        return Batch.from_dict(await self.request("POST", f"/batches/{batch_id}/cancel"))

    async def pause(self, batch_id: str) -> Batch:
        """POST /batches/{id}/pause."""
        return Batch.from_dict(await self.request("POST", f"/batches/{batch_id}/pause"))

    async def resume(self, batch_id: str) -> Batch:
        """POST /batches/{id}/resume."""
        return Batch.from_dict(await self.request("POST", f"/batches/{batch_id}/resume"))

    async def retry(self, batch_id: str) -> RetryResult:
        """POST /batches/{id}/retry: failed and cancelled jobs run again."""
        return RetryResult.from_dict(await self.request("POST", f"/batches/{batch_id}/retry"))

    async def retry_job(self, job_id: int) -> Job:
        """POST /jobs/{id}/retry."""
        return Job.from_dict(await self.request("POST", f"/jobs/{job_id}/retry"))

    async def get_job(self, job_id: int) -> Job:
        """GET /jobs/{id}."""
        return Job.from_dict(await self.request("GET", f"/jobs/{job_id}"))

    async def delete(self, batch_id: str, images: bool = False) -> Deleted:
        """DELETE /batches/{id} (a finished batch; its images too when asked)."""
        return Deleted.from_dict(await self.request("DELETE", f"/batches/{batch_id}", params={"images": str(images).lower()}))

    # -- server settings (scope admin) --------------------------------------------------------

    async def get_settings(self) -> dict[str, Any]:
        """GET /settings: the feed window and browser origins in effect (as docs/api.md shows them)."""
        return await self.request("GET", "/settings")

    async def update_settings(self, *, feed_window: int | str | None = None, cors_origins: list[str] | None = None) -> dict[str, Any]:
        """PATCH /settings with what is given (``cors_origins`` replaces the saved list); the settings afterwards."""
        body = {k: v for k, v in (("feed_window", feed_window), ("cors_origins", cors_origins)) if v is not None}
        if not body:
            raise ValueError("update_settings: give feed_window and/or cors_origins")
        return await self.request("PATCH", "/settings", body=body)

    # -- uploads (server side: the uploads feature; not on every server yet) -------------------

    async def upload(self, path: str | os.PathLike[str], kind: str | None = None) -> dict[str, Any]:
        """POST /uploads (multipart) → {id, kind, name, bytes, …}. NotAvailable when the server has no uploads route yet."""
        p = Path(path)
        url = self.base + "/uploads"
        files = {"file": (p.name, await asyncio.to_thread(p.read_bytes))}
        resp = await self.http.post(url, files=files, data={"kind": kind} if kind else None, headers=self._auth(url))
        if resp.status_code == 404 and error_from_response(resp).code == "no_such_route":
            raise NotAvailable("this server has no POST /batchgen/v1/uploads route (the uploads feature is not installed); "
                               "pass input_image as the name of a file already in ComfyUI's input folder instead")
        if resp.status_code not in (200, 201):
            raise error_from_response(resp)
        return resp.json()
