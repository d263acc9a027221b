"""Server settings handlers: GET (what is in effect) and PATCH (check everything, then save and apply at once)."""

from __future__ import annotations

from aiohttp import web

from ..batchgen.errors import ApiError
from ..batchgen.server_settings import SettingsError
from ._http import json_response, log
from .table import Call


def _answer(call: Call) -> web.Response:
    settings = call.context.settings
    return json_response(settings.public(call.service.dispatcher.status()["window_now"]), headers={"Cache-Control": "no-store"})


async def get_settings(call: Call) -> web.Response:
    """GET /settings."""
    return _answer(call)


async def patch_settings(call: Call) -> web.Response:
    """PATCH /settings."""
    body = call.body
    try:
        call.context.settings.update(feed_window=body.feed_window, cors_origins=body.cors_origins)
    except SettingsError as exc:
        raise ApiError(exc.status, exc.code, str(exc), {"field": exc.field}) from None
    except OSError:
        log.exception("[batchgen] could not save the settings file")
        raise ApiError(507, "settings_not_saved", "the settings file could not be written; nothing changed; see the ComfyUI log") from None
    call.service.dispatcher.follow_window(force=True)
    call.service.dispatcher.wake()  # a wider window feeds at once
    return _answer(call)
