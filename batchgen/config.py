"""Server-side configuration: every BATCHGEN_* environment variable is read and checked here, once.

A bad value never stops ComfyUI: it is replaced by the default (or clamped into range) and one
log line says which variable was wrong and what is used instead.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .expansion import Limits

log = logging.getLogger("batchgen.config")


class _Reader:
    """Reads variables from one environment mapping and remembers what was wrong."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not an integer; using {default}")
            return default
        if not low <= value <= high:
            clamped = max(low, min(high, value))
            self.problems.append(f"{name}={value} is outside {low}-{high}; using {clamped}")
            return clamped
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a number; using {default}")
            return default
        if not low <= value <= high:  # also false for NaN
            clamped = default if value != value else max(low, min(high, value))
            self.problems.append(f"{name}={raw} is outside {low}-{high}; using {clamped}")
            return clamped
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.raw(name)
        if raw is None:
            return default
        if raw.lower() not in choices:
            self.problems.append(f"{name}={raw!r} is not one of {', '.join(choices)}; using {default}")
            return default
        return raw.lower()

    def url(self, name: str) -> str | None:
        raw = self.raw(name)
        if raw is None:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            self.problems.append(f"{name}={raw!r} is not an http(s) base URL like https://gpu.example.com/comfy; ignored")
            return None
        return raw.rstrip("/")

    def flag(self, name: str) -> bool:
        raw = self.raw(name)
        if raw is None:
            return False
        if raw.lower() not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            self.problems.append(f"{name}={raw!r} is not 1 or 0; using 0")
            return False
        return raw.lower() in ("1", "true", "yes", "on")

    def _listed(self, name: str) -> list[str]:
        """The non-empty, stripped items of a comma-separated variable."""
        return [item.strip() for item in (self.raw(name) or "").split(",") if item.strip()]

    def ips(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for item in self._listed(name):
            try:
                found.append(str(ipaddress.ip_address(item)))
            except ValueError:
                self.problems.append(f"{name}: {item!r} is not an IP address; ignored")
        return tuple(found)

    def items(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for item in self._listed(name):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                if not item.replace("-", "").replace(".", "").replace("_", "").isalnum() or not item.isascii():
                    self.problems.append(f"{name}: {item!r} is neither an IP, a CIDR nor a host name; ignored")
                    continue
            found.append(item.lower())
        return tuple(dict.fromkeys(found))

    def origins(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for item in self._listed(name):
            origin = normalise_origin(item)
            if origin is None:
                self.problems.append(f"{name}: {item!r} is not an exact origin like https://app.example.com or "
                                     "http://localhost:3000 (no *, null, path or query); ignored")
            else:
                found.append(origin)
        return tuple(dict.fromkeys(found))


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lowercase, default port dropped; None for ``*``, ``null``, paths, queries, credentials."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "*" in value:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


@dataclass(frozen=True, slots=True)
class Config:
    """Tunables of the dispatcher, the store and the API."""

    window: int = 4
    # The deepest the window grows while our jobs finish in milliseconds (batchgen/pacing.py); <= window: never grows.
    window_max: int = 0
    # BATCHGEN_WINDOW was set: the window is pinned to it and the feed-window setting cannot change it.
    window_pinned: bool = False
    tick_seconds: float = 1.0
    stall_seconds: float = 30.0
    default_max_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    retry_backoff_max_seconds: float = 60.0
    max_body_bytes: int = 32 * 1024 * 1024
    limits: Limits = Limits()
    # A job claimed by a process stays its own while it renews the lease; a dead owner's jobs are
    # adopted by another process this long after its last renewal.
    lease_seconds: float = 15.0
    # Events kept in the durable log (oldest dropped first).
    event_retention: int = 100_000
    # How many of our finished prompts stay in ComfyUI's in-memory history (the sidebar of every user).
    history_keep: int = 20
    # Public base URL for output links (behind a reverse proxy the Host header is not what clients use).
    public_url: str | None = None
    # A request body that has not arrived completely after this long is answered 408.
    read_timeout_seconds: float = 30.0
    # "inline": reads on the event loop (WAL); "thread": in aiosqlite's thread.
    reads: str = "inline"
    debug: bool = False
    # Remote access: loopback callers need no token unless require_token; proxies whose X-Forwarded-For is believed;
    # browser origins our own CORS answers for (exact scheme://host[:port]); concurrent SSE streams.
    require_token: bool = False
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_streams: int = 64
    # Uploads (batchgen/uploads.py): bytes of one file, pixels of one image, hours an unused upload is kept (0: forever).
    max_upload_bytes: int = 64 * 1024 * 1024
    max_upload_pixels: int = 70_000_000
    upload_ttl_hours: int = 168
    # Webhooks (batchgen/webhooks.py): targets beyond public addresses, timing of deliveries.
    webhook_allow_private: bool = False
    webhook_allow: tuple[str, ...] = ()
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_seconds: float = 1.0
    webhook_backoff_max_seconds: float = 300.0
    webhook_concurrency: int = 8
    # A webhook whose deliveries failed this many times in a row, for at least this long, is disabled (0: never).
    webhook_disable_after: int = 50
    webhook_disable_hours: float = 24.0
    # Submissions per token (and per loopback caller when rate_limit_loopback): a token bucket; 0 = no limit.
    rate_per_minute: int = 120
    rate_burst: int = 30
    rate_limit_loopback: bool = False
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from BATCHGEN_* variables (see the README's Configuration table)."""
        env = _Reader(os.environ if environ is None else environ)
        window = env.integer("BATCHGEN_WINDOW", 4, 1, 64)
        # A window set by hand is kept as set unless BATCHGEN_WINDOW_MAX is set too.
        window_max_default = window if env.raw("BATCHGEN_WINDOW") is not None else 32
        config = cls(
            window=window,
            window_max=env.integer("BATCHGEN_WINDOW_MAX", window_max_default, 1, 256),
            window_pinned=env.raw("BATCHGEN_WINDOW") is not None,
            default_max_attempts=env.integer("BATCHGEN_MAX_ATTEMPTS", 3, 1, 20),
            stall_seconds=float(env.integer("BATCHGEN_STALL_SECONDS", 30, 2, 86_400)),
            max_body_bytes=env.integer("BATCHGEN_MAX_BODY_MB", 32, 1, 1024) * 1024 * 1024,
            limits=Limits(
                max_jobs=env.integer("BATCHGEN_MAX_JOBS", 100_000, 1, 1_000_000),
                max_text_length=env.integer("BATCHGEN_MAX_TEXT", 20_000, 1, 1_000_000),
            ),
            lease_seconds=env.number("BATCHGEN_LEASE_SECONDS", 15.0, 3.0, 3600.0),
            event_retention=env.integer("BATCHGEN_EVENT_RETENTION", 100_000, 1_000, 10_000_000),
            history_keep=env.integer("BATCHGEN_HISTORY_KEEP", 20, 0, 10_000),
            public_url=env.url("BATCHGEN_PUBLIC_URL"),
            read_timeout_seconds=env.number("BATCHGEN_READ_TIMEOUT", 30.0, 1.0, 3600.0),
            reads=env.choice("BATCHGEN_READS", "inline", ("inline", "thread")),
            debug=env.raw("BATCHGEN_DEBUG") is not None,
            require_token=env.flag("BATCHGEN_REQUIRE_TOKEN"),
            trusted_proxies=env.ips("BATCHGEN_TRUSTED_PROXIES"),
            cors_origins=env.origins("BATCHGEN_CORS_ORIGINS"),
            max_streams=env.integer("BATCHGEN_MAX_STREAMS", 64, 1, 10_000),
            max_upload_bytes=env.integer("BATCHGEN_MAX_UPLOAD_MB", 64, 1, 4096) * 1024 * 1024,
            max_upload_pixels=env.integer("BATCHGEN_MAX_UPLOAD_MEGAPIXELS", 70, 1, 1000) * 1_000_000,
            upload_ttl_hours=env.integer("BATCHGEN_UPLOAD_TTL_HOURS", 168, 0, 87_600),
            webhook_allow_private=env.flag("BATCHGEN_WEBHOOK_ALLOW_PRIVATE"),
            webhook_allow=env.items("BATCHGEN_WEBHOOK_ALLOW"),
            webhook_timeout_seconds=env.number("BATCHGEN_WEBHOOK_TIMEOUT", 10.0, 0.5, 120.0),
            webhook_backoff_seconds=env.number("BATCHGEN_WEBHOOK_BACKOFF", 1.0, 0.01, 600.0),
            webhook_backoff_max_seconds=env.number("BATCHGEN_WEBHOOK_BACKOFF_MAX", 300.0, 0.01, 86_400.0),
            webhook_concurrency=env.integer("BATCHGEN_WEBHOOK_CONCURRENCY", 8, 1, 64),
            webhook_disable_after=env.integer("BATCHGEN_WEBHOOK_DISABLE_AFTER", 50, 0, 1_000_000),
            webhook_disable_hours=env.number("BATCHGEN_WEBHOOK_DISABLE_HOURS", 24.0, 0.0, 8_760.0),
            rate_per_minute=env.integer("BATCHGEN_RATE_LIMIT", 120, 0, 1_000_000),
            rate_burst=env.integer("BATCHGEN_RATE_BURST", 30, 1, 100_000),
            rate_limit_loopback=env.flag("BATCHGEN_RATE_LIMIT_LOOPBACK"),
            problems=tuple(env.problems),
        )
        for problem in config.problems:
            log.warning("[batchgen] configuration: %s", problem)
        return config
