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

    def ips(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for item in (self.raw(name) or "").split(","):
            item = item.strip()
            if not item:
                continue
            try:
                found.append(str(ipaddress.ip_address(item)))
            except ValueError:
                self.problems.append(f"{name}: {item!r} is not an IP address; ignored")
        return tuple(found)

    def origins(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for item in (self.raw(name) or "").split(","):
            item = item.strip()
            if not item:
                continue
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
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from BATCHGEN_* variables (see the README's Configuration table)."""
        env = _Reader(os.environ if environ is None else environ)
        config = cls(
            window=env.integer("BATCHGEN_WINDOW", 4, 1, 64),
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
            problems=tuple(env.problems),
        )
        for problem in config.problems:
            log.warning("[batchgen] configuration: %s", problem)
        return config
