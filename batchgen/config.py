"""Server-side configuration, built once from environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .expansion import Limits


def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return max(low, min(high, value))


@dataclass(frozen=True, slots=True)
class Config:
    """Tunables of the dispatcher and the API."""

    window: int = 2
    tick_seconds: float = 1.0
    stall_seconds: float = 30.0
    default_max_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    retry_backoff_max_seconds: float = 60.0
    max_body_bytes: int = 32 * 1024 * 1024
    limits: Limits = Limits()

    @classmethod
    def from_env(cls) -> Config:
        """BATCHGEN_WINDOW, _MAX_JOBS, _MAX_TEXT, _MAX_BODY_MB, _MAX_ATTEMPTS, _STALL_SECONDS."""
        return cls(
            window=_int_env("BATCHGEN_WINDOW", 2, 1, 64),
            default_max_attempts=_int_env("BATCHGEN_MAX_ATTEMPTS", 3, 1, 20),
            stall_seconds=float(_int_env("BATCHGEN_STALL_SECONDS", 30, 2, 86_400)),
            max_body_bytes=_int_env("BATCHGEN_MAX_BODY_MB", 32, 1, 1024) * 1024 * 1024,
            limits=Limits(
                max_jobs=_int_env("BATCHGEN_MAX_JOBS", 100_000, 1, 1_000_000),
                max_text_length=_int_env("BATCHGEN_MAX_TEXT", 20_000, 1, 1_000_000),
            ),
        )
