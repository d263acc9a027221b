"""httpx MockTransport handlers standing in for a batchgen server (only what a test needs)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx

BATCH = {"id": "b" * 32, "name": "t", "status": "running", "template_id": "text-card", "total": 2,
         "counts": {"pending": 1, "queued": 0, "running": 1, "succeeded": 0, "failed": 0, "cancelled": 0}, "done": 0,
         "progress": 0.0, "priority": 0, "paused": False, "max_attempts": 3, "output_subfolder": "batchgen/t-bbbbbbbb",
         "created_at": 1.0, "started_at": 1.0, "finished_at": None, "updated_at": 1.0, "elapsed_seconds": 0.0}


def batch(**changes: Any) -> dict[str, Any]:
    return {**BATCH, **changes}


def sse_frame(seq: int, type_: str, data: dict[str, Any]) -> bytes:
    event = {"seq": seq, "type": type_, "batch_id": BATCH["id"], "job_id": None, "created_at": 1.0, "data": data}
    return f"id: {seq}\nevent: {type_}\ndata: {json.dumps(event)}\n\n".encode()


class Chunks(httpx.AsyncByteStream):
    """A response body sent in pieces; raises ReadError at the end when ``cut`` (a connection that dropped)."""

    def __init__(self, chunks: Iterable[bytes], cut: bool = False) -> None:
        self.chunks = list(chunks)
        self.cut = cut

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.cut:
            raise httpx.ReadError("connection dropped")
