"""Settings an admin changes while ComfyUI runs (feed window, browser origins), kept in settings.json in our user dir.

How they combine with the environment:
- BATCHGEN_WINDOW set: the window is pinned to it (with BATCHGEN_WINDOW_MAX); a saved value is kept but not used, and a
  change is refused (409 setting_pinned) so the settings dialog never shows a value that is not in effect.
- otherwise the saved feed window applies: "auto" (the default) starts at 4 and grows up to BATCHGEN_WINDOW_MAX (32)
  while our jobs finish in milliseconds (batchgen/pacing.py); a number N keeps at most N of our prompts in ComfyUI's queue.
- BATCHGEN_CORS_ORIGINS are always allowed and listed read-only ("from environment"); saved origins are allowed too.
The file sits beside the database, so every process sharing the database shares the settings: a change made through one
applies in the others at their next dispatcher step or cross-origin request (the file is re-read when its mtime changes).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, normalise_origin
from .private_file import PrivateJsonFile

log = logging.getLogger("batchgen.settings")

SETTINGS_FILENAME = "settings.json"
AUTO = "auto"
WINDOW_LIMIT = 64
MAX_ORIGINS = 100


class SettingsError(ValueError):
    """A value a setting does not take: ``code`` and ``field`` name what to fix."""

    def __init__(self, code: str, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.status = status


def check_window(value: Any) -> int | str:
    """``"auto"`` or an integer 1..64; SettingsError otherwise."""
    if value == AUTO or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= WINDOW_LIMIT):
        return value
    raise SettingsError("invalid_feed_window", "feed_window", f'feed_window must be "auto" or an integer 1-{WINDOW_LIMIT}')


def check_origins(values: Any) -> tuple[str, ...]:
    """Each item normalised like BATCHGEN_CORS_ORIGINS, duplicates dropped; SettingsError naming the first bad one."""
    if not isinstance(values, (list, tuple)) or len(values) > MAX_ORIGINS:
        raise SettingsError("invalid_cors_origins", "cors_origins", f"cors_origins must be a list of at most {MAX_ORIGINS} origins")
    found: list[str] = []
    for index, item in enumerate(values):
        origin = normalise_origin(item) if isinstance(item, str) else None
        if origin is None:
            raise SettingsError("invalid_cors_origin", f"cors_origins[{index}]",
                                f"cors_origins[{index}] = {str(item)[:100]!r} is not an exact origin like https://app.example.com "
                                "or http://localhost:3000 (no *, null, path or query)")
        found.append(origin)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Saved:
    """What settings.json holds."""

    feed_window: int | str = AUTO
    cors_origins: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The file's contents."""
        return {"feed_window": self.feed_window, "cors_origins": list(self.cors_origins)}


def _parse(data: Any) -> Saved:
    """settings.json → Saved; a bad value falls back to its default with one log line (a hand edit must not stop us)."""
    window: int | str = AUTO
    origins: tuple[str, ...] = ()
    try:
        window = check_window(data.get("feed_window", AUTO))
    except SettingsError as exc:
        log.warning("[batchgen] %s: %s; using auto", SETTINGS_FILENAME, exc)
    try:
        origins = check_origins(data.get("cors_origins", []))
    except SettingsError as exc:
        log.warning("[batchgen] %s: %s; no saved origins used", SETTINGS_FILENAME, exc)
    return Saved(window, origins)


class ServerSettings:
    """The live settings: the environment's pins and origins plus settings.json (``path`` None: in memory only)."""

    def __init__(self, config: Config, path: Path | None) -> None:
        self.config = config
        self.env_origins = tuple(config.cors_origins)
        self._file = PrivateJsonFile(path, _parse, "settings")
        self._lock = threading.Lock()
        self.saved = Saved()
        self._allowed = frozenset(self.env_origins)
        self.refresh()

    def refresh(self) -> None:
        """Take settings.json again if another process (or a hand edit) changed it."""
        changed = self._file.changed()
        if changed is not None:
            self._take(changed)

    def _take(self, saved: Saved) -> None:
        self.saved = saved
        self._allowed = frozenset(self.env_origins + saved.cors_origins)

    @property
    def pinned(self) -> bool:
        """True when BATCHGEN_WINDOW fixes the window."""
        return self.config.window_pinned

    def window(self) -> tuple[int, int]:
        """(window, deepest it may grow) in effect now."""
        self.refresh()
        value = self.saved.feed_window
        if self.pinned or value == AUTO:
            return self.config.window, max(self.config.window, self.config.window_max)
        return int(value), int(value)

    def allowed_origins(self) -> frozenset[str]:
        """Every origin our CORS answers for now: the environment's and the saved ones."""
        self.refresh()
        return self._allowed

    def update(self, feed_window: Any = None, cors_origins: Any = None) -> Saved:
        """Check every given value, then save them all (or nothing: a SettingsError or OSError changes nothing)."""
        with self._lock:
            self.refresh()
            window = self.saved.feed_window
            origins = self.saved.cors_origins
            if feed_window is not None:
                window = check_window(feed_window)
                if self.pinned and window != self.saved.feed_window:
                    raise SettingsError("setting_pinned", "feed_window",
                                        f"the feed window is pinned by BATCHGEN_WINDOW={self.config.window} in ComfyUI's "
                                        "environment; unset it and restart ComfyUI to change it here", 409)
            if cors_origins is not None:
                origins = tuple(o for o in check_origins(cors_origins) if o not in self.env_origins)
            new = Saved(window, origins)
            if new != self.saved:
                self._file.save(new.to_json())
                log.info("[batchgen] settings changed: feed window %s, %d saved browser origin(s)", window, len(origins))
            self._take(new)
            return new

    def public(self, window_now: int) -> dict[str, Any]:
        """The settings as GET /settings answers them."""
        window, window_max = self.window()
        value = self.config.window if self.pinned else self.saved.feed_window
        return {
            "feed_window": {"value": value, "saved": self.saved.feed_window, "pinned": self.pinned,
                            "window": window, "window_max": window_max, "window_now": window_now,
                            "limit": WINDOW_LIMIT},
            "cors_origins": {"saved": list(self.saved.cors_origins), "environment": list(self.env_origins)},
        }
