"""One webhook's delivery task: read the event log after its cursor, sign, POST, record, advance only after a 2xx.

At least once: the cursor (in SQLite) moves past an event only once that event was answered
2xx (or is not one this webhook receives), so a restart — even a kill -9 in the middle of a
POST — sends again what was not confirmed. Failures are retried with exponential backoff and
jitter; a few events are in flight at once (``concurrency``) and the cursor advances over the
longest confirmed prefix. Runs on the event loop with aiohttp; DNS is resolved off the loop
and re-checked before every round (webhook_targets.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import aiohttp
from standardwebhooks import Webhook

from . import webhook_events as we
from .events import Event
from .store import StoreBusy
from .store import webhooks_sql as sql
from .webhook_targets import CheckedResolver, TargetRefused, check_target, parse_url

log = logging.getLogger("batchgen.webhooks")

PAGE = 200
POLL_SECONDS = 1.0
MAX_ERROR = 300
SKIP_WRITE_SECONDS = 5.0


@dataclass(frozen=True)
class DeliverySettings:
    """Timing of deliveries (from the configuration)."""

    timeout: float = 10.0
    backoff: float = 1.0
    backoff_max: float = 300.0
    concurrency: int = 8
    lease_seconds: float = 15.0
    disable_after: int = 50  # failed attempts in a row … (0: never disable)
    disable_seconds: float = 86_400.0  # … spanning at least this long disable the webhook


def backoff_delay(settings: DeliverySettings, failures: int) -> float:
    """Seconds before retry number ``failures`` (1, 2, …): doubling up to the cap, times a jitter in [0.5, 1)."""
    base = min(settings.backoff * (2 ** min(failures - 1, 30)), settings.backoff_max)
    return base * random.uniform(0.5, 1.0)


class WebhookWorker:
    """The delivery loop of one webhook."""

    def __init__(self, manager: Any, webhook_id: str) -> None:
        self.manager = manager
        self.id = webhook_id
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._lease_until = 0.0
        self._finals: dict[str, tuple[str, int]] = {}  # batch -> final status last delivered (a batch event repeats its status)
        self._attempts: dict[int, int] = {}  # seq -> attempts made by this process
        self._session: aiohttp.ClientSession | None = None
        self._pinned: dict[str, list[Any]] = {}
        self._skipped_at = float("-inf")
        self._confirmed: set[int] = set()  # seqs after the cursor already answered 2xx (not sent again)
        self._resumed = False

    def start(self) -> None:
        """Start the task on the running loop."""
        self.task = asyncio.create_task(self._run(), name=f"batchgen-webhook-{self.id}")

    async def stop(self) -> None:
        """Cancel the task and close its HTTP session."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self._close_session()

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- loop ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                failed = await self._round()
            except asyncio.CancelledError:
                raise
            except StoreBusy:
                failed = None
                await asyncio.sleep(POLL_SECONDS)
            except Exception:
                log.exception("[batchgen] webhook %s: delivery round failed", self.id)
                failed = True
            if failed is False:
                await self._close_session()
                return  # deleted or disabled
            if failed:
                failures += 1
                await self._sleep(backoff_delay(self.manager.settings, failures), wakeable=False)
            else:
                failures = 0

    async def _sleep(self, seconds: float, wakeable: bool = True) -> None:
        if not wakeable:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)

    async def _claim(self, store: Any) -> bool:
        now = time.time()
        if self._lease_until - now > self.manager.settings.lease_seconds / 2:
            return True
        until = now + self.manager.settings.lease_seconds
        if await store.run_in_transaction(sql.claim_sync, self.id, self.manager.owner_id, now, until):
            self._lease_until = until
            return True
        self._lease_until = 0.0
        return False

    async def _round(self) -> bool | None:
        """One pass: None = nothing to send (waited), True = an attempt failed (back off), False = the webhook is gone."""
        store = self.manager.store
        self.wake.clear()
        hook = await store.run_read(sql.get_sync, self.id)
        if hook is None or hook.disabled_at is not None:
            if hook is not None:
                log.warning("[batchgen] webhook %s disabled: %s; enable it with POST /batchgen/v1/webhooks/%s/enable",
                            self.id, hook.disabled_reason, self.id)
            return False  # deleted, or disabled after failing too long (POST /webhooks/{id}/enable starts it again)
        if not await self._claim(store):
            await self._sleep(self.manager.settings.lease_seconds / 3, wakeable=False)  # another process delivers it
            self._resumed = False
            return None
        if not self._resumed:  # after a restart or a takeover: what was confirmed beyond the cursor is not sent again
            self._confirmed |= await store.run_read(sql.confirmed_after_sync, self.id, hook.cursor)
            self._resumed = True
        events, last_seq, oldest, has_more = await store.list_events(hook.cursor, hook.batch_id, PAGE)
        if hook.cursor and oldest > hook.cursor + 1 and hook.batch_id is None:
            log.warning("[batchgen] webhook %s fell behind the event log's retention: events %d-%d were pruned before "
                        "delivery", self.id, hook.cursor + 1, oldest - 1)
        work = self._select(events, hook.events)
        end = events[-1].seq if events else hook.cursor
        if not has_more:
            end = max(end, last_seq)  # one snapshot: nothing of this filter up to last_seq is left unread
        if not work:
            # Skipping unwatched events costs a write: done when a page is full, or at most every SKIP_WRITE_SECONDS.
            if end > hook.cursor and (has_more or end - hook.cursor >= PAGE or time.monotonic() - self._skipped_at >= SKIP_WRITE_SECONDS):
                await store.run_in_transaction(sql.record_sync, self.id, self.manager.owner_id, [], end, self._lease_until)
                self._skipped_at = time.monotonic()
            else:
                await self._sleep(POLL_SECONDS)
            return None
        return await self._deliver(hook, work, end)

    def _select(self, events: list[Event], filters: list[str]) -> list[tuple[Event, str]]:
        work: list[tuple[Event, str]] = []
        for event in events:
            kind = we.webhook_type(event)
            if kind is None:
                continue
            if kind.startswith("batch.") and event.batch_id is not None:
                status = str(event.data.get("status", kind))
                seen = self._finals.get(event.batch_id)
                if seen is not None and seen[0] == status and seen[1] != event.seq:
                    continue  # the same final status logged again (counts refreshed): one message per outcome
                self._finals[event.batch_id] = (status, event.seq)
            elif event.batch_id is not None:
                self._finals.pop(event.batch_id, None)  # a job moved again (retry): the batch may finish again
            if we.matches(kind, filters) and event.seq not in self._confirmed:
                work.append((event, kind))
        return work

    async def _deliver(self, hook: sql.WebhookRow, work: list[tuple[Event, str]], end: int) -> bool | None:
        """Send ``work`` in order, a few at a time; advance the cursor over what was confirmed; True at the first failure."""
        secret = self.manager.secrets.get(self.id)
        if secret is None:
            log.error("[batchgen] webhook %s has no signing secret (webhook_secrets.json lost?); not delivering", self.id)
            await self._sleep(POLL_SECONDS * 30, wakeable=False)
            return None
        signer = Webhook(secret)
        step = max(1, self.manager.settings.concurrency)
        for start in range(0, len(work), step):
            chunk = work[start:start + step]
            attempts = await self._send_chunk(hook.url, signer, chunk)
            confirmed = 0
            for attempt in attempts:
                if not attempt.ok:
                    break
                confirmed += 1
            if confirmed == len(chunk):
                cursor = end if start + step >= len(work) else work[start + step][0].seq - 1
            else:
                cursor = chunk[confirmed][0].seq - 1  # the longest confirmed prefix; later successes are remembered
            settings = self.manager.settings
            if not await self.manager.store.run_in_transaction(sql.record_sync, self.id, self.manager.owner_id, attempts,
                                                               cursor, self._lease_until, settings.disable_after,
                                                               settings.disable_seconds):
                self._lease_until = 0.0
                return None  # lost the lease meanwhile: the other process delivers from the cursor
            self.manager.note(attempts)
            for attempt in attempts:
                if attempt.ok:
                    self._attempts.pop(attempt.event_seq, None)
                    self._confirmed.add(attempt.event_seq)
            self._confirmed = {seq for seq in self._confirmed if seq > cursor}
            if confirmed < len(chunk):
                return True
        return None

    async def _send_chunk(self, url: str, signer: Webhook, chunk: list[tuple[Event, str]]) -> list[sql.Attempt]:
        started = time.time()
        try:
            _scheme, host, _port = parse_url(url)
            self._pinned[host] = await check_target(self.manager.policy, url, self.manager.resolver)
        except (TargetRefused, Exception) as exc:  # an ApiError for a URL that became invalid is a failure too
            error = str(exc)[:MAX_ERROR] or type(exc).__name__
            log.warning("[batchgen] webhook %s: target refused or unresolvable: %s", self.id, error)
            return [self._attempt(e, k, started, 0.0, None, False, error) for e, k in chunk]
        return list(await asyncio.gather(*(self._send(url, signer, e, k) for e, k in chunk)))

    def _attempt(self, event: Event, kind: str, started: float, ms: float, status: int | None, ok: bool,
                 error: str | None) -> sql.Attempt:
        n = self._attempts.get(event.seq, 0) + 1
        self._attempts[event.seq] = n
        return sql.Attempt(event.seq, kind, n, round(started, 3), ms, status, ok, error)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Our resolver answers only with addresses that passed the check; no DNS cache of aiohttp's own.
            connector = aiohttp.TCPConnector(resolver=CheckedResolver(self._pinned), use_dns_cache=False,
                                             limit=max(1, self.manager.settings.concurrency))
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": "comfyui-batchgen-webhooks"})
        return self._session

    async def _send(self, url: str, signer: Webhook, event: Event, kind: str) -> sql.Attempt:
        started, ms, status, ok, error = await post_signed(self._client(), url, signer, we.message_id(event), we.body(event, kind),
                                                           self.manager.settings.timeout)
        return self._attempt(event, kind, started, ms, status, ok, error)


async def post_signed(session: aiohttp.ClientSession, url: str, signer: Webhook, msg_id: str, body: str,
                      timeout_s: float) -> tuple[float, float, int | None, bool, str | None]:
    """POST one signed message (Standard Webhooks headers); (started, ms, status, ok, error). Redirects are not followed."""
    now = int(time.time())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "Content-Type": "application/json",
               "webhook-signature": signer.sign(msg_id, datetime.fromtimestamp(now, tz=timezone.utc), body)}
    started, mono = time.time(), time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        async with session.post(url, data=body.encode("utf-8"), headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            status = response.status
            await response.content.read(64 * 1024)  # a little of the answer, so the connection can be reused
    except asyncio.TimeoutError:
        error = f"no answer within {timeout_s:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = "redirects are not followed" if 300 <= status < 400 else f"answered HTTP {status}"
    return started, (time.monotonic() - mono) * 1000, status, ok, error
