"""A fast app with our routes, a tokens.json, and optionally a simulated TCP peer and ComfyUI-like middlewares.

What is simulated, honestly: aiohttp's test server listens on 127.0.0.1, so a non-loopback caller
is made by a test-only middleware that clones the request with another ``remote`` (aiohttp's
Request.clone) before our handler runs. The decision itself reads only ``request.remote`` and the
headers, so this is the same input a real remote peer produces; tests/comfyui/test_remote_live.py
uses a real one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import Store
from batchgen_ext.server_routes import make_context, register
from batchgen_ext.server_routes.table import Context, Mounted

from tests.api.conftest import ROOT
from tests.fakehost import FakeHost

API = "/batchgen/v1"
PEER_HEADER = "X-Test-Peer"  # read only by the test middleware below


@web.middleware
async def fake_peer(request: web.Request, handler):
    """Test only: pretend the TCP peer is the address in X-Test-Peer."""
    peer = request.headers.get(PEER_HEADER)
    if peer:
        request = request.clone(remote=peer)
    return await handler(request)


@dataclass
class RemoteEnv:
    client: object
    store: Store
    host: FakeHost
    service: BatchService
    context: Context
    mounted: Mounted
    user_dir: Path

    @property
    def tokens(self):
        return self.context.access.tokens


async def make_env(aiohttp_client, tmp_path: Path, middlewares=lambda mounted: [fake_peer], **config) -> RemoteEnv:
    """The app; ``middlewares(mounted)`` gives its middleware list, outermost first."""
    user_dir = tmp_path / "user" / "__batchgen"
    store = Store(user_dir / "batchgen.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp_path / "output")
    cfg = dataclasses.replace(Config(window=2), **config)
    service = BatchService(store, host, TemplateRegistry(ROOT / "workflows", user_dir / "templates"),
                           Dispatcher(store, host, cfg), cfg, "test")
    context = make_context(service, user_dir)
    routes = web.RouteTableDef()
    mounted = register(routes, service, context)
    app = web.Application(middlewares=middlewares(mounted))
    app.add_routes(routes)
    client = await aiohttp_client(app)
    return RemoteEnv(client, store, host, service, context, mounted, user_dir)
