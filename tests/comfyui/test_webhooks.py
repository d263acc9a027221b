"""Signed webhooks on a real ComfyUI: a local receiver that verifies every signature, fails the first attempts, is down
while ComfyUI is killed (-9) in the middle of a delivery and restarted: every event arrives, none is lost, duplicates
are counted and carry the same webhook-id. Afterwards no secret or token is in ComfyUI's log or our database."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

from aiohttp import web
from batchgen_ext.batchgen.events import Event
from batchgen_ext.batchgen.webhook_events import matches, webhook_type
from standardwebhooks import Webhook

from .harness import free_port

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_WEBHOOK_ALLOW_PRIVATE": "1", "BATCHGEN_WEBHOOK_BACKOFF": "0.2", "BATCHGEN_WEBHOOK_BACKOFF_MAX": "1",
             "BATCHGEN_WEBHOOK_TIMEOUT": "5"}
FILTER = ["job.started", "job.succeeded", "job.failed", "batch.completed"]


class Receiver:
    """An aiohttp receiver in its own thread: verifies signatures; can fail, be slow, or be down (its port closed)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret = ""
        self.fail_next = 0
        self.delay = 0.0
        self.requests = 0
        self.bad_signatures = 0
        self.ids: list[str] = []  # webhook-id of every verified 2xx answer, duplicates included
        self.bodies: dict[str, dict] = {}
        self.in_flight = 0
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        raw = await request.read()
        try:
            body = Webhook(self.secret).verify(raw, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return web.Response(status=400)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500)
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.ids.append(request.headers["webhook-id"])
        self.bodies[request.headers["webhook-id"]] = body
        return web.Response(status=200, text="ok")

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)

    def up(self) -> None:
        async def start() -> None:
            app = web.Application()
            app.router.add_post("/hook", self.handle)
            self.runner = web.AppRunner(app, shutdown_timeout=0.1)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        self._call(start())

    def down(self) -> None:
        if self.runner is not None:
            self._call(self.runner.cleanup())
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def expected_ids(comfy, after: int, batch_id: str) -> set[str]:
    """The webhook events the durable log holds for this batch (what must arrive)."""
    found: set[str] = set()
    cursor = after
    while True:
        page = comfy.get(f"{API}/events?after={cursor}&batch={batch_id}&limit=1000")
        for e in page["events"]:
            event = Event(e["seq"], e["type"], e["batch_id"], e["job_id"], e["created_at"], e["data"])
            kind = webhook_type(event)
            if kind is not None and matches(kind, FILTER):
                found.add(f"evt_{e['seq']}")
        if not page["events"]:
            return found
        cursor = page["events"][-1]["seq"]


def test_every_event_arrives_signed_across_failures_an_outage_and_a_kill9(comfy):
    receiver = Receiver()
    receiver.up()
    status, token = comfy.post(f"{API}/tokens", {"name": "webhook-suite", "scope": "admin"})
    assert status == 201, token
    auth = {"Authorization": f"Bearer {token['token']}"}
    status, hook, _ = comfy.request("POST", f"{API}/webhooks", {"url": receiver.url, "events": FILTER}, auth)
    assert status == 201, hook
    receiver.secret = hook["secret"]
    start_seq = hook["cursor"]
    receiver.fail_next = 3  # the first attempts fail with 500
    prompts = [f"card {i}" for i in range(16)]
    status, batch = comfy.post(f"{API}/batches", {"template": "text-card", "prompts": prompts,
                                                  "params": {"width": 64, "height": 64}})
    assert status == 201, batch
    wait(lambda: len(set(receiver.ids)) >= 4, 120, "the first deliveries after the 500s")

    # Slow answers, so a POST is in flight when ComfyUI is killed; then the receiver goes down.
    receiver.delay = 1.5
    wait(lambda: receiver.in_flight > 0, 60, "a delivery in flight")
    comfy.stop(kill=True)
    receiver.down()
    receiver.delay = 0.0
    comfy.start()

    def refused() -> bool:
        _, listed, _ = comfy.request("GET", f"{API}/webhooks/{hook['id']}/deliveries?limit=1000", headers=auth)
        return any(d["status_code"] is None and not d["ok"] for d in listed["deliveries"])

    # Deliveries fail (connection refused) and back off while the receiver is down. The restarted process may first
    # have to wait for the killed one's delivery lease, so wait for a refused attempt rather than a fixed time.
    wait(refused, 90, "a delivery refused while the receiver is down")
    receiver.up()
    comfy.wait_batch(batch["id"], timeout=300)
    want = expected_ids(comfy, start_seq, batch["id"])
    assert len(want) >= len(prompts) + 1  # succeeded per job (started when a job ran > 0.1 s), and batch.completed
    wait(lambda: want <= set(receiver.ids), 120, "every event to arrive")

    got = receiver.ids
    duplicates = len(got) - len(set(got))
    assert receiver.bad_signatures == 0
    assert want <= set(got), f"lost: {sorted(want - set(got))}"
    assert all(receiver.bodies[i]["data"]["seq"] == int(i[4:]) for i in set(got))  # ids are the log's seq
    kinds = sorted(receiver.bodies[i]["type"] for i in want)
    assert kinds.count("batch.completed") == 1 and kinds.count("job.succeeded") == len(prompts)

    status, deliveries, _ = comfy.request("GET", f"{API}/webhooks/{hook['id']}/deliveries?limit=1000", headers=auth)
    attempts = deliveries["deliveries"]
    failed = [d for d in attempts if not d["ok"]]
    assert sum(1 for d in failed if d["status_code"] == 500) >= 3
    assert any(d["status_code"] is None for d in failed)  # refused while the receiver was down
    status, listed, _ = comfy.request("GET", f"{API}/webhooks", headers=auth)
    assert "secret" not in json.dumps(listed) and hook["secret"] not in json.dumps(listed)
    figures = {"events": len(want), "received": len(got), "duplicates": duplicates, "attempts": len(attempts),
               "failed_attempts": len(failed), "receiver_requests": receiver.requests}
    sys.stderr.write(f"webhook suite: {json.dumps(figures)}\n")  # shown with -s; recorded in docs/benchmarks.md

    # No secret and no token value in ComfyUI's logs, our database (and its WAL) or the event log.
    comfy.stop()
    secrets = [hook["secret"], hook["secret"][len("whsec_"):], token["token"]]
    files = list(Path(comfy.data_dir).glob("comfyui-*.log")) + list(Path(comfy.db_path).parent.glob("batchgen.sqlite3*"))
    assert files
    for path in files:
        data = path.read_bytes()
        for value in secrets:
            assert value.encode() not in data, f"a secret or token is in {path.name}"
    secret_file = Path(comfy.db_path).parent / "webhook_secrets.json"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    receiver.down()
