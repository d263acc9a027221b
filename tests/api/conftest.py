"""An aiohttp app with our routes over a real SQLite file and the in-memory host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.dispatcher import Dispatcher
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.service import BatchService
from batchgen_ext.batchgen.store import Store
from batchgen_ext.batchgen.store.uploads_sql import UploadRecords
from batchgen_ext.batchgen.uploads import Uploads
from batchgen_ext.server_routes import register

from tests.fakehost import FakeHost

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    client: object
    store: Store
    host: FakeHost
    dispatcher: Dispatcher
    service: BatchService
    user_dir: Path


def make_uploads(store: Store, config: Config, user_dir: Path, input_dir: Path) -> Uploads:
    """Uploads over the store: tables in <user dir>/uploads, images in <input>/batchgen."""
    input_dir.mkdir(parents=True, exist_ok=True)
    return Uploads(UploadRecords(store), user_dir / "uploads", input_dir, config.max_upload_bytes, config.max_upload_pixels,
                   config.upload_ttl_hours)


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    user_dir = tmp_path / "user" / "__batchgen"
    store = Store(user_dir / "batchgen.sqlite3")
    await store.open()
    host = FakeHost(output_dir=tmp_path / "output", input_dir=tmp_path / "input")
    config = Config(window=2)
    dispatcher = Dispatcher(store, host, config)
    registry = TemplateRegistry(ROOT / "workflows", user_dir / "templates")
    service = BatchService(store, host, registry, dispatcher, config, "test", uploads=make_uploads(store, config, user_dir, tmp_path / "input"))
    routes = web.RouteTableDef()
    register(routes, service)
    app = web.Application()
    app.add_routes(routes)
    client = await aiohttp_client(app)
    yield Env(client, store, host, dispatcher, service, user_dir)
    await store.close()
