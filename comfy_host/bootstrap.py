"""Wiring into a running ComfyUI: where our data lives, whether ComfyUI runs, install()."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from ..batchgen import ids

log = logging.getLogger("batchgen.host")


def system_user_dir() -> Path:
    """<ComfyUI user dir>/__batchgen (not reachable through ComfyUI's /userdata routes)."""
    import folder_paths

    getter = getattr(folder_paths, "get_system_user_directory", None)
    if getter is not None:
        return Path(getter(ids.SYSTEM_USER_DIR_NAME))
    return Path(folder_paths.get_user_directory()) / f"__{ids.SYSTEM_USER_DIR_NAME}"


def output_directory() -> Path:
    """ComfyUI's output folder."""
    import folder_paths

    return Path(folder_paths.get_output_directory())


def input_directory() -> Path:
    """ComfyUI's input folder (LoadImage reads uploaded images from its batchgen/ subfolder)."""
    import folder_paths

    return Path(folder_paths.get_input_directory())


def wildcard_dirs(user_dir: Path) -> list[Path]:
    """Ours first, then Impact Pack's and dynamicprompts' wildcard folders when those packs are installed."""
    import folder_paths

    from ..batchgen.wildcards import peer_folders

    custom_nodes = [Path(p) for p in folder_paths.get_folder_paths("custom_nodes")]
    return [user_dir / ids.WILDCARDS_DIRNAME, *peer_folders(custom_nodes)]


def comfy_running() -> bool:
    """True when imported inside a running ComfyUI server."""
    # Look, don't import: importing ComfyUI's server module outside a running ComfyUI would load all of it.
    server = sys.modules.get("server")
    prompt_server = getattr(server, "PromptServer", None)
    return getattr(prompt_server, "instance", None) is not None


def install(package_dir: Path, version: str) -> None:
    """Wire the extension into the running PromptServer: routes now, store and dispatcher at startup."""
    from server import PromptServer

    from ..batchgen.config import Config
    from ..batchgen.dispatcher import Dispatcher
    from ..batchgen.registry import TemplateRegistry
    from ..batchgen.service import BatchService
    from ..batchgen.store import Store
    from ..batchgen.store.uploads_sql import UploadRecords
    from ..batchgen.uploads import Uploads
    from ..server_routes import make_context, register
    from ..server_routes.cors import cors_middleware
    from .adapter import ComfyHost

    server = PromptServer.instance
    config = Config.from_env()
    user_dir = system_user_dir()
    host = ComfyHost(server, history_keep=config.history_keep)
    store = Store(user_dir / ids.DB_FILENAME, inline_reads=config.reads == "inline")
    registry = TemplateRegistry(package_dir / "workflows", user_dir / ids.TEMPLATES_DIRNAME)
    dispatcher = Dispatcher(store, host, config)
    uploads = Uploads(UploadRecords(store), user_dir / ids.UPLOADS_DIRNAME, input_directory(), config.max_upload_bytes,
                      config.max_upload_pixels, config.upload_ttl_hours)
    service = BatchService(store, host, registry, dispatcher, config, version, wildcards_dir=wildcard_dirs(user_dir), uploads=uploads)
    mounted = register(server.routes, service, make_context(service, user_dir))
    # Outermost, before ComfyUI's origin check (the app is not frozen yet at import): it acts only on our own handlers.
    # The allow-list is read per cross-origin request: the environment's origins plus those saved in the settings.
    server.app.middlewares.insert(0, cors_middleware(mounted, mounted.context.settings.allowed_origins))
    if config.cors_origins:
        log.info("[batchgen] browser origins allowed on /batchgen by BATCHGEN_CORS_ORIGINS: %s", ", ".join(config.cors_origins))

    async def on_startup(_app: Any) -> None:
        try:
            await store.open()
            await dispatcher.start()
            log.info("[batchgen] ready: database %s, window %d", store.path, dispatcher.status()["window"])
            service.sheets.resume_soon(config.lease_seconds)  # contact sheets a crash cut off mid-render
        except Exception:
            log.exception("[batchgen] could not open the database at %s; batch routes answer 503", store.path)
            return
        try:
            await uploads.cleanup(force=True)
        except Exception:
            log.exception("[batchgen] cleanup of unused uploads failed; it is tried again later")
        try:
            await mounted.context.webhooks.start()
        except Exception:  # batches run without them; the routes still list and create webhooks
            log.exception("[batchgen] could not start webhook delivery")

    async def on_shutdown(_app: Any) -> None:
        await mounted.context.webhooks.stop()  # gives up the delivery leases; undelivered events stay after the cursor

    server.app.on_startup.append(on_startup)
    server.app.on_shutdown.append(on_shutdown)
    if config.debug:
        logging.getLogger(ids.LOGGER_NAME).setLevel(logging.DEBUG)
