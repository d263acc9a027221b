"""schemathesis against the served OpenAPI document on the fast app: no 5xx, every response as documented.

The app (real SQLite store, FakeHost) runs on a loopback port in a thread with its own event loop;
schemathesis' synchronous client calls it. Bounded and deterministic: a fixed number of examples per
operation, derandomised, so the suite stays fast and a failure reproduces.
"""

from __future__ import annotations

import asyncio
import ipaddress
import tempfile
import threading
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import Store
from batchgen_ext.server_routes import make_context, register
from batchgen_ext.server_routes.openapi import openapi_document
from batchgen_ext.server_routes.routes import ROUTES
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.api.conftest import ROOT, make_uploads
from tests.fakehost import FakeHost

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
HAS_EVENTS = hasattr(BatchService, "list_events")


async def public_dns(host: str, port: int) -> list:
    """Webhook targets resolve to a documentation address (no real DNS lookups from generated host names)."""
    return [ipaddress.ip_address("93.184.216.34")]


class ServedApp:
    """The fast app on 127.0.0.1:<port>, served from a background thread; ``require_token``: an admin token is needed."""

    def __init__(self, require_token: bool = False) -> None:
        self.require_token = require_token
        self.token: str | None = None
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        tmp = Path(self.tmp.name)
        self.store = Store(tmp / "user" / "batchgen.sqlite3")
        await self.store.open()
        host = FakeHost(output_dir=tmp / "output", input_dir=tmp / "input")
        config = Config(window=2, read_timeout_seconds=5, require_token=self.require_token, rate_per_minute=0)
        service = BatchService(self.store, host, TemplateRegistry(ROOT / "workflows", tmp / "user" / "templates"),
                               Dispatcher(self.store, host, config), config, "test",
                               uploads=make_uploads(self.store, config, tmp / "user", tmp / "input"))
        context = make_context(service, None)
        context.webhooks.resolver = public_dns
        if self.require_token:
            _, self.token = context.access.tokens.create("schemathesis", "admin")
        routes = web.RouteTableDef()
        register(routes, service, context)
        app = web.Application()
        app.add_routes(routes)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(10), "the app did not start"

    def stop(self) -> None:
        async def close() -> None:
            await self.runner.cleanup()
            await self.store.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.tmp.cleanup()


@pytest.fixture(scope="module")
def served():
    app = ServedApp()
    app.start()
    yield f"http://127.0.0.1:{app.port}/batchgen/v1"
    app.stop()


schema = schemathesis.openapi.from_dict(openapi_document(ROUTES, "test"))
if not HAS_EVENTS:
    # GET /events needs BatchService.list_events (the engine side of interface 1); until it is merged that operation is skipped.
    schema = schema.exclude(operation_id="listEvents")
# The event stream never ends by design (a call would only time out); its answers are tested in tests/api/test_sse.py.
schema = schema.exclude(operation_id="streamEvents")


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, served):
    case.call_and_validate(base_url=served, checks=CHECKS, timeout=20)
