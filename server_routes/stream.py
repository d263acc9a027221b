"""GET /events/stream: the durable event log as Server-Sent Events (resumable, filtered, capped)."""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from typing import Any

from aiohttp import web

from ..batchgen.errors import ApiError, bad_request
from ..batchgen.store import StoreBusy
from ._http import log
from .table import Call

# Set by the CORS middleware on a request it lets past ComfyUI's chain: headers a streaming handler adds before prepare().
CORS_HEADERS_KEY: Any = web.RequestKey("batchgen_cors_headers", dict) if hasattr(web, "RequestKey") else "batchgen_cors_headers"
HEARTBEAT_SECONDS = 15.0
# Woken by every commit (Store.subscribe); this poll is only the safety net (e.g. a wake-up lost to a closed loop).
POLL_SECONDS = 1.0
PAGE = 500
RING = 2000
# Delivery latency added at most, for far fewer wake-ups under load (the target is p95 ≤ 100 ms after the commit).
COALESCE_SECONDS = 0.03


class StreamHub:
    """Open SSE streams: the cap, one delivery tick for all of them, and the recent frames, encoded and joined once.

    Why the ring: with N streams open, every commit would otherwise cost N reads of the log and
    N JSON encodings on the event loop (100 streams × ~0.3 ms per commit starves ComfyUI). The
    store hands each commit's events to subscribers in seq order and without gaps, so while
    streams are open the hub keeps the newest RING frames; a stream that is caught up reads
    from there, one that is behind (a replay) reads the log.

    Why one tick: a commit arms one timer (``coalesce_seconds``); when it fires, every stream is woken
    once (a future each, resolved together) and the caught-up ones write the same joined bytes (one join per
    filter and tick). Per stream and tick that is one task step and one write, instead of an event,
    a sleep timer, a ``wait_for`` task and a join each (100 streams cost a 2,000-job run 20-24 % of
    its throughput that way). The tick also fires every ``poll_seconds`` while streams are open, so a
    closed client is noticed and heartbeats go out without a timer per stream.
    """

    def __init__(self, store: Any, max_streams: int) -> None:
        self.store = store
        self.max_streams = max_streams
        self.heartbeat_seconds = HEARTBEAT_SECONDS
        self.poll_seconds = POLL_SECONDS
        self.coalesce_seconds = COALESCE_SECONDS
        self.waiters: set[object] = set()
        self._seqs: list[int] = []
        self._frames: list[tuple[str | None, bytes]] = []  # (batch id, encoded frame), parallel to _seqs
        self._joined: dict[tuple[int, str | None], bytes] = {}  # (after, batch) -> frames after it, joined (this tick)
        self._ticks: list[asyncio.Future[None]] = []  # one per waiting stream (a cancelled one must not cancel the others)
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False  # the armed timer is a delivery (coalesce_seconds), not the periodic one
        store.subscribe(self._wake)

    @property
    def open_streams(self) -> int:
        """How many streams are open now."""
        return len(self.waiters)

    def _wake(self, events: list[Any]) -> None:
        if not self.waiters:
            self._seqs, self._frames = [], []  # nobody reads: keep nothing (the ring must stay gap-free)
            return
        for event in events:
            if self._seqs and event.seq <= self._seqs[-1]:
                continue
            self._seqs.append(event.seq)
            self._frames.append((event.batch_id, _frame(event)))
        if len(self._seqs) > 2 * RING:
            del self._seqs[:-RING], self._frames[:-RING]
        self._joined = {}
        self._arm(self.coalesce_seconds, soon=True)

    def _arm(self, delay: float, soon: bool) -> None:
        """Fire the tick after ``delay`` unless a delivery is already due sooner."""
        if self._timer is not None:
            if self._soon or not soon:
                return
            self._timer.cancel()
        self._soon = soon
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._joined = {}
        ticks, self._ticks = self._ticks, []
        for tick in ticks:
            if not tick.done():
                tick.set_result(None)
        if self.waiters:
            self._arm(min(self.poll_seconds, self.heartbeat_seconds), soon=False)

    def next_tick(self) -> asyncio.Future[None]:
        """Resolved at the next delivery (after a commit) or periodic tick."""
        tick = asyncio.get_running_loop().create_future()
        self._ticks.append(tick)
        if self._timer is None:
            self._arm(min(self.poll_seconds, self.heartbeat_seconds), soon=False)
        return tick

    def recent(self, after: int, batch: str | None) -> bytes | None:
        """Frames after ``after`` from the ring, joined (None: the ring does not reach back that far; read the log)."""
        if not self._seqs or self._seqs[0] > after + 1:
            return None
        key = (after, batch)
        joined = self._joined.get(key)
        if joined is None:
            start = bisect.bisect_right(self._seqs, after)
            joined = b"".join(f for b, f in self._frames[start:] if batch is None or b == batch)
            self._joined[key] = joined
        return joined

    @property
    def newest(self) -> int:
        """The seq of the newest frame in the ring (0 if empty)."""
        return self._seqs[-1] if self._seqs else 0

    def acquire(self) -> object:
        """A stream's slot; 429 when the cap is reached."""
        if len(self.waiters) >= self.max_streams:
            raise ApiError(429, "too_many_streams", f"{self.max_streams} event streams are open (BATCHGEN_MAX_STREAMS); "
                           "close one or poll GET /batchgen/v1/events", {"limit": self.max_streams}, {"Retry-After": "5"})
        slot = object()
        self.waiters.add(slot)
        return slot

    def release(self, slot: object) -> None:
        """The stream ended."""
        self.waiters.discard(slot)


def _resume_from(request: web.Request, after: int) -> int:
    """Last-Event-ID (what EventSource and our clients send on reconnect) wins over ?after=."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None or raw.strip() == "":
        return after
    if not raw.strip().isascii() or not raw.strip().isdigit() or len(raw.strip()) > 18:
        raise bad_request("invalid_last_event_id", "Last-Event-ID must be the seq (an integer ≥ 0) of the last event received")
    return int(raw.strip())


def _frame(event: Any) -> bytes:
    data = json.dumps(event.as_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def stream_events(call: Call) -> web.StreamResponse:
    """GET /events/stream: every event after Last-Event-ID / ?after=, then new ones as they commit; a heartbeat comment every 15 s."""
    request, hub = call.request, call.context.streams
    after, batch = _resume_from(request, call.query.after), call.query.batch
    if batch is not None:
        await call.service.get_batch(batch)  # 404 batch_not_found before the stream opens
    slot = hub.acquire()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    response.headers.update(request.get(CORS_HEADERS_KEY) or {})
    try:
        await response.prepare(request)
        await response.write(b": batchgen event stream\nretry: 2000\n\n")
        beat = time.monotonic()
        while not _gone(request):
            tick = hub.next_tick()  # before reading: a commit during the read resolves it
            newest, data = hub.newest, hub.recent(after, batch)  # together: a commit during the write is not skipped
            if data is not None:  # caught up: the bytes every such stream shares, no read of the log
                if data:
                    await response.write(data)
                    beat = time.monotonic()
                after = max(after, newest)
            else:
                try:
                    events, last_seq, _oldest, has_more = await call.service.store.list_events(after, batch, PAGE)
                except StoreBusy:  # another process holds the file for a moment: try again, the stream stays open
                    await asyncio.sleep(hub.poll_seconds)
                    continue
                if events:
                    await response.write(b"".join(_frame(e) for e in events))
                    after = events[-1].seq
                    beat = time.monotonic()
                if has_more:
                    continue
                after = max(after, last_seq)  # one snapshot: nothing ≤ last_seq of this filter is left unread
            # Gathers the commits of the next few ms into one write: a busy run commits hundreds of times a second.
            await tick
            if time.monotonic() - beat >= hub.heartbeat_seconds:
                await response.write(b": heartbeat\n\n")
                beat = time.monotonic()
    except ConnectionError:
        pass  # the client went away: nothing to clean up but our slot
    except Exception:
        log.exception("[batchgen] event stream failed")
    finally:
        hub.release(slot)
    return response
