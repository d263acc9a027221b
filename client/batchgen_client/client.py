"""Client: the synchronous API. It runs an AsyncClient on a private event loop in a daemon thread.

One implementation for both APIs (the async one); the sync calls block on it. That also works where an event loop
is already running in the calling thread (a notebook), which ``asyncio.run`` per call would not.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from .aio import DEFAULT_URL, AsyncClient
from .download import DownloadResult, FileProgress
from .models import Batch, BatchList, Deleted, GenerateResult, Job, JobList, ManifestRow, RetryResult
from .sse import ServerEvent
from .watch import Progress

T = TypeVar("T")


class _Portal:
    """An event loop in a daemon thread; coroutines submitted from other threads run there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="batchgen-client", daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl+C in the caller: stop the work in the loop too
            raise

    def iterate(self, agen: Any) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self.call(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self.call(agen.aclose())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Client:
    """A synchronous batchgen client: ``with Client(url, token) as c: c.wait(c.submit("text-card", prompts=[...]).id)``."""

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, **options: Any) -> None:
        self._portal = _Portal()

        async def make() -> AsyncClient:
            return AsyncClient(url, token, **options)

        self.aio = self._portal.call(make())
        self.base = self.aio.base

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and the loop thread."""
        self._portal.call(self.aio.aclose())
        self._portal.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._portal.call(coro)

    def submit(self, template: str | dict[str, Any], **kwargs: Any) -> Batch:
        """POST /batches (see AsyncClient.submit)."""
        return self._run(self.aio.submit(template, **kwargs))

    def submit_file(self, path: str | os.PathLike[str], template: str | dict[str, Any], **kwargs: Any) -> Batch:
        """Submit a prompts file or a CSV/TSV/JSONL/xlsx table."""
        return self._run(self.aio.submit_file(path, template, **kwargs))

    def generate(self, template: str | None = None, **kwargs: Any) -> GenerateResult:
        """POST /generate."""
        return self._run(self.aio.generate(template, **kwargs))

    def get_batch(self, batch_id: str) -> Batch:
        """GET /batches/{id}."""
        return self._run(self.aio.get_batch(batch_id))

    def list_batches(self, status: list[str] | None = None, limit: int = 50, offset: int = 0) -> BatchList:
        """GET /batches."""
        return self._run(self.aio.list_batches(status, limit, offset))

    def list_jobs(self, batch_id: str, status: list[str] | None = None, limit: int = 100, offset: int = 0) -> JobList:
        """GET /batches/{id}/jobs."""
        return self._run(self.aio.list_jobs(batch_id, status, limit, offset))

    def iter_jobs(self, batch_id: str, status: list[str] | None = None) -> Iterator[Job]:
        """Every job of a batch."""
        return self._portal.iterate(self.aio.iter_jobs(batch_id, status))

    def get_job(self, job_id: int) -> Job:
        """GET /jobs/{id}."""
        return self._run(self.aio.get_job(job_id))

    def cancel(self, batch_id: str) -> Batch:
        """Cancel what has not finished."""
        return self._run(self.aio.cancel(batch_id))

    def pause(self, batch_id: str) -> Batch:
        """Stop feeding a batch."""
        return self._run(self.aio.pause(batch_id))

    def resume(self, batch_id: str) -> Batch:
        """Feed a paused batch again."""
        return self._run(self.aio.resume(batch_id))

    def retry(self, batch_id: str) -> RetryResult:
        """Run failed and cancelled jobs again."""
        return self._run(self.aio.retry(batch_id))

    def retry_job(self, job_id: int) -> Job:
        """Retry one failed or cancelled job."""
        return self._run(self.aio.retry_job(job_id))

    def delete(self, batch_id: str, images: bool = False) -> Deleted:
        """Delete a finished batch."""
        return self._run(self.aio.delete(batch_id, images))

    def events(self, batch: str | None = None, after: int = 0, *, sse: bool = True) -> Iterator[ServerEvent]:
        """Events as they happen (SSE with resume, or polling)."""
        return self._portal.iterate(self.aio.events(batch, after, sse=sse))

    def wait(self, batch_id: str, *, timeout: float | None = None, on_progress: Progress | None = None, sse: bool = True) -> Batch:
        """Block until the batch is finished."""
        return self._run(self.aio.wait(batch_id, timeout=timeout, on_progress=on_progress, sse=sse))

    def manifest(self, batch_id: str) -> Iterator[ManifestRow]:
        """The batch's manifest rows."""
        return self._portal.iterate(self.aio.manifest(batch_id))

    def manifest_lines(self, batch_id: str) -> Iterator[str]:
        """The manifest's raw NDJSON lines."""
        return self._portal.iterate(self.aio.manifest_lines(batch_id))

    def download(self, batch_id: str, dest: str | os.PathLike[str], *, on_file: FileProgress | None = None) -> DownloadResult:
        """Download every output, verified and resumable."""
        return self._run(self.aio.download(batch_id, dest, on_file=on_file))

    def export(self, batch_id: str, path: str | os.PathLike[str]) -> int:
        """Save the export zip."""
        return self._run(self.aio.export(batch_id, path))

    def get_settings(self) -> dict[str, Any]:
        """The server's feed window and browser origins (scope admin)."""
        return self._run(self.aio.get_settings())

    def update_settings(self, *, feed_window: int | str | None = None, cors_origins: list[str] | None = None) -> dict[str, Any]:
        """Change the feed window and/or replace the saved browser origins (scope admin)."""
        return self._run(self.aio.update_settings(feed_window=feed_window, cors_origins=cors_origins))

    def upload(self, path: str | os.PathLike[str], kind: str | None = None) -> dict[str, Any]:
        """POST /uploads (needs the server's uploads feature)."""
        return self._run(self.aio.upload(path, kind))
