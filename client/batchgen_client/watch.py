"""Watching batches: the SSE event stream with Last-Event-ID resume, polling GET /events when SSE is not available, wait()."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from .errors import ApiError, error_from_response
from .models import Batch
from .sse import ServerEvent, SSEParser

log = logging.getLogger("batchgen_client")
TERMINAL = frozenset({"succeeded", "partial", "failed", "cancelled"})
# Connection problems that end a stream; the client reconnects with Last-Event-ID.
STREAM_ERRORS = (httpx.TransportError, httpx.StreamError)
Progress = Callable[[dict[str, Any]], None]


class WatchMixin:
    """events() and wait() of AsyncClient."""

    base: str
    http: httpx.AsyncClient
    poll_seconds: float

    async def last_seq(self) -> int:
        """The event log's newest seq now (events after it are what happens from now on)."""
        data = await self.request("GET", "/events", params={"after": 2**62, "limit": 1})  # type: ignore[attr-defined]
        return int(data["last_seq"])

    async def events(self, batch: str | None = None, after: int = 0, *, sse: bool = True) -> AsyncIterator[ServerEvent]:
        """Every event after ``after`` (of one batch, if given), forever: SSE, reconnecting with Last-Event-ID; else polling."""
        last = after
        failures = 0
        while sse:
            try:
                async for event in self._stream(batch, last):
                    last = event.seq
                    failures = 0
                    yield event
                failures += 1  # the server ended the stream
            except ApiError as exc:
                if exc.status in (404, 405, 429, 501) and exc.code not in ("batch_not_found",):
                    log.info("event stream not available (%s): polling GET /events", exc.code)
                    break
                raise
            except STREAM_ERRORS as exc:
                failures += 1
                log.info("event stream interrupted (%s): resuming after seq %d", type(exc).__name__, last)
            if failures > 5:
                log.info("event stream keeps failing: polling GET /events")
                break
            await asyncio.sleep(min(0.25 * 2**failures, 5.0))
        async for event in self._poll(batch, last):
            yield event

    async def _stream(self, batch: str | None, after: int) -> AsyncIterator[ServerEvent]:
        url = self.base + "/events/stream"
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after), **self._auth(url)}  # type: ignore[attr-defined]
        params = {"batch": batch} if batch else None
        async with self.http.stream("GET", url, headers=headers, params=params,
                                    timeout=httpx.Timeout(30.0, read=60.0)) as resp:  # heartbeats every 15 s
            if resp.status_code != 200:
                await resp.aread()
                raise error_from_response(resp)
            parser = SSEParser()
            async for line in resp.aiter_lines():
                event = parser.feed(line.rstrip("\r\n"))
                if event is not None:
                    yield event

    async def _poll(self, batch: str | None, after: int) -> AsyncIterator[ServerEvent]:
        while True:
            params: dict[str, Any] = {"after": after, "limit": 1000, **({"batch": batch} if batch else {})}
            data = await self.request("GET", "/events", params=params)  # type: ignore[attr-defined]
            for item in data["events"]:
                after = int(item["seq"])
                yield ServerEvent(after, str(item["type"]), item)
            if not data["has_more"]:
                await asyncio.sleep(self.poll_seconds)

    async def wait(self, batch_id: str, *, timeout: float | None = None, on_progress: Progress | None = None,
                   sse: bool = True) -> Batch:
        """Return the batch once it is finished (succeeded, partial, failed or cancelled); TimeoutError after ``timeout`` s.

        ``on_progress`` gets the batch's state ({status, total, counts, …}) at the start and after every change.
        """
        return await asyncio.wait_for(self._wait(batch_id, on_progress, sse), timeout)

    async def _wait(self, batch_id: str, on_progress: Progress | None, sse: bool) -> Batch:
        after = await self.last_seq()  # first the log position, then the batch: no change falls between the two
        batch = await self.get_batch(batch_id)  # type: ignore[attr-defined]
        if on_progress:
            on_progress({"id": batch.id, "status": batch.status, "total": batch.total, "counts": _counts(batch)})
        if batch.status in TERMINAL:
            return batch
        started = time.monotonic()
        async for event in self.events(batch_id, after, sse=sse):
            if event.type != "batchgen.batch" or event.payload.get("id") != batch_id:
                continue
            if on_progress:
                on_progress({**event.payload, "elapsed": time.monotonic() - started})
            if event.payload.get("status") in TERMINAL:
                return await self.get_batch(batch_id)  # type: ignore[attr-defined]
        raise RuntimeError("the event stream ended")  # _poll never ends


def _counts(batch: Batch) -> dict[str, int]:
    c = batch.counts
    return {"pending": c.pending, "queued": c.queued, "running": c.running, "succeeded": c.succeeded, "failed": c.failed,
            "cancelled": c.cancelled}
