"""Signed webhooks: create / list / delete, and one delivery task per webhook on the server's event loop.

A webhook is global (every batch) or tied to one batch; it receives the event types of its
filter (webhook_events.py) in the Standard Webhooks format, signed with a secret generated
here and shown once. Global webhooks start after the newest logged event; a batch's webhook
starts at the batch's first event, so one added right after POST /batches misses nothing.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from .errors import ApiError, not_found
from .store import webhooks_sql as sql
from .webhook_delivery import DeliverySettings, WebhookWorker
from .webhook_events import DEFAULT_FILTER
from .webhook_secrets import SecretStore
from .webhook_targets import TargetPolicy, TargetRefused, check_target, parse_url

log = logging.getLogger("batchgen.webhooks")

MAX_WEBHOOKS = 100


def public(hook: sql.WebhookRow) -> dict[str, Any]:
    """A webhook as the API shows it: never its secret."""
    return {"id": hook.id, "url": hook.url, "events": hook.events, "batch_id": hook.batch_id, "description": hook.description,
            "created_at": hook.created_at, "cursor": hook.cursor, "delivered": hook.delivered, "failures": hook.failures,
            "last_status": hook.last_status, "last_attempt_at": hook.last_attempt_at, "failure_streak": hook.streak,
            "disabled_at": hook.disabled_at, "disabled_reason": hook.disabled_reason}


class WebhookManager:
    """The webhooks of this process: their rows (store), secrets (file) and delivery tasks."""

    def __init__(self, store: Any, secret_store: SecretStore, policy: TargetPolicy, owner_id: str,
                 settings: DeliverySettings | None = None, resolver: Any = None) -> None:
        self.store = store
        self.secrets = secret_store
        self.policy = policy
        self.owner_id = owner_id
        self.settings = settings or DeliverySettings()
        self.resolver = resolver  # tests: a fake DNS; None = the system's, off the loop
        self.workers: dict[str, WebhookWorker] = {}
        self.sent = 0
        self.failed = 0
        self.started = False
        store.subscribe(self._wake)

    def _wake(self, _events: list[Any]) -> None:
        for worker in self.workers.values():
            worker.wake.set()

    def note(self, attempts: list[sql.Attempt]) -> None:
        """Count attempts (for /health-like introspection and the benchmark)."""
        ok = sum(1 for a in attempts if a.ok)
        self.sent += ok
        self.failed += len(attempts) - ok

    async def start(self) -> None:
        """Start a delivery task for every stored webhook (after a restart: from each one's cursor)."""
        self.started = True
        hooks = await self.store.run_read(sql.list_sync, None)
        known = {h.id for h in hooks}
        stale = sorted(self.secrets.ids() - known)
        if stale:
            self.secrets.delete(stale)  # webhooks removed with their batch (ON DELETE CASCADE)
        for hook in hooks:
            self._spawn(hook.id)
        if hooks:
            log.info("[batchgen] delivering %d webhook(s)", len(hooks))

    async def stop(self) -> None:
        """Stop every task and give up the leases (another process may take over at once)."""
        self.started = False
        for worker in list(self.workers.values()):
            await worker.stop()
        self.workers.clear()
        if self.store.ready:
            try:
                await self.store.run_in_transaction(sql.release_sync, self.owner_id)
            except Exception:  # the leases then expire
                log.warning("[batchgen] could not release the webhook leases at shutdown")

    def _spawn(self, webhook_id: str) -> None:
        if self.started and webhook_id not in self.workers:
            worker = WebhookWorker(self, webhook_id)
            self.workers[webhook_id] = worker
            worker.start()
            worker.task.add_done_callback(lambda _t, i=webhook_id: self.workers.pop(i, None))  # type: ignore[union-attr]

    async def create(self, url: str, events: list[str] | None, batch_id: str | None, description: str) -> tuple[dict[str, Any], str]:
        """A new webhook: (its public form, its secret — shown this once)."""
        parse_url(url)
        if batch_id is not None and await self.store.get_batch(batch_id) is None:
            raise not_found("batch_not_found", f"no batch with id {batch_id!r}")
        if len(await self.store.run_read(sql.list_sync, None)) >= MAX_WEBHOOKS:
            raise ApiError(409, "too_many_webhooks", f"at most {MAX_WEBHOOKS} webhooks; delete one first")
        try:
            await check_target(self.policy, url, self.resolver)
        except TargetRefused as exc:
            raise ApiError(422, "webhook_target_not_allowed", str(exc)) from None
        webhook_id = "wh_" + secrets.token_hex(8)
        cursor = 0 if batch_id is not None else await self.store.run_read(sql.max_seq_sync)
        hook = sql.WebhookRow(webhook_id, url, list(dict.fromkeys(events or DEFAULT_FILTER)), batch_id, description,
                              round(time.time(), 3), cursor, 0, 0, None, None)
        try:
            secret = self.secrets.create(webhook_id)
        except OSError:
            log.exception("[batchgen] could not save the webhook secret file")
            raise ApiError(507, "webhook_not_saved", "the webhook secret file could not be written; see the ComfyUI log") from None
        try:
            await self.store.run_in_transaction(sql.insert_sync, hook)
        except BaseException:
            self.secrets.delete([webhook_id])
            raise
        _scheme, host, _port = parse_url(url)
        log.info("[batchgen] webhook %s created for %s (%s)", webhook_id, host, f"batch {batch_id}" if batch_id else "every batch")
        self._spawn(webhook_id)
        return public(hook), secret

    async def get(self, webhook_id: str) -> sql.WebhookRow:
        """One webhook; 404 webhook_not_found."""
        hook = await self.store.run_read(sql.get_sync, webhook_id)
        if hook is None:
            raise not_found("webhook_not_found", f"no webhook with id {webhook_id!r}; see GET /batchgen/v1/webhooks")
        return hook

    async def list(self, batch_id: str | None = None) -> list[sql.WebhookRow]:
        """Every webhook (or a batch's)."""
        return await self.store.run_read(sql.list_sync, batch_id)

    async def delete(self, webhook_id: str) -> sql.WebhookRow:
        """Delete a webhook: its task stops, its secret and attempts are removed."""
        hook = await self.get(webhook_id)
        await self.store.run_in_transaction(sql.delete_sync, webhook_id)
        worker = self.workers.pop(webhook_id, None)
        if worker is not None:
            await worker.stop()
        self.secrets.delete([webhook_id])
        log.info("[batchgen] webhook %s deleted", webhook_id)
        return hook

    async def enable(self, webhook_id: str) -> sql.WebhookRow:
        """Deliver again to a webhook that was disabled after failing too long (from its cursor); a no-op when enabled."""
        await self.get(webhook_id)
        await self.store.run_in_transaction(sql.enable_sync, webhook_id)
        self._spawn(webhook_id)
        log.info("[batchgen] webhook %s enabled", webhook_id)
        return await self.get(webhook_id)

    async def deliveries(self, webhook_id: str, limit: int, before: int | None) -> list[dict[str, Any]]:
        """A webhook's attempts, newest first."""
        await self.get(webhook_id)
        return await self.store.run_read(sql.deliveries_sync, webhook_id, limit, before)
