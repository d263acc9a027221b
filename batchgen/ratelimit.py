"""Token-bucket rate limits on submission routes: per token, and per peer IP for loopback callers when configured.

Each key has a bucket of ``burst`` requests refilled at ``per_minute`` a minute; a request
finding it empty is answered 429 rate_limited with Retry-After (whole seconds until a
request fits again). In memory, per process: a limit protects this ComfyUI from one client,
it is not an accounting system.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ApiError

MAX_KEYS = 10_000  # idle buckets are dropped beyond this (a full bucket carries no state worth keeping)


@dataclass
class RateLimiter:
    """Buckets by key (``token:<id>`` or ``ip:<addr>``)."""

    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        """False when BATCHGEN_RATE_LIMIT=0."""
        return self.per_minute > 0

    def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket; ApiError 429 rate_limited if it is empty."""
        if not self.enabled:
            return
        rate = self.per_minute / 60.0
        now = self.clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            wait = max(1, math.ceil((1.0 - tokens) / rate))
            raise ApiError(429, "rate_limited", f"too many submissions: at most {self.per_minute} a minute (bursts of {self.burst}) "
                           f"per token; retry in {wait} s", {"limit_per_minute": self.per_minute, "burst": self.burst,
                                                            "retry_after": wait}, {"Retry-After": str(wait)})
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > MAX_KEYS:
            self._prune(now, rate)

    def _prune(self, now: float, rate: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * rate >= self.burst]
        for key in full:
            del self._buckets[key]
