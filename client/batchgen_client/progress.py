"""A progress bar on stderr, fed by batch events: redrawn in place on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

WIDTH = 30


def render(state: dict[str, Any], elapsed: float) -> str:
    """One line: bar, done/total, percent, succeeded/failed, rate and ETA."""
    counts = state.get("counts") or {}
    total = int(state.get("total") or 0)
    done = sum(int(counts.get(k, 0)) for k in ("succeeded", "failed", "cancelled"))
    frac = done / total if total else 1.0
    filled = int(frac * WIDTH)
    bar = "#" * filled + "-" * (WIDTH - filled)
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = f" ETA {_clock((total - done) / rate)}" if rate > 0 and done < total else ""
    failed = int(counts.get("failed", 0))
    extra = f", {failed} failed" if failed else ""
    return (f"[{bar}] {done}/{total} {frac:4.0%} {state.get('status', '')} ({int(counts.get('succeeded', 0))} ok{extra}, "
            f"{int(counts.get('running', 0))} running) {rate:.1f}/s{eta}")


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class ProgressBar:
    """Call with each batch state (the on_progress of wait); close() ends the line."""

    def __init__(self, stream: TextIO | None = None, every: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self.started = time.monotonic()
        self.last_line = ""
        self.last_time = 0.0

    def __call__(self, state: dict[str, Any]) -> None:
        line = render(state, time.monotonic() - self.started)
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        elif line != self.last_line and (now - self.last_time >= self.every or state.get("status") in ("succeeded", "partial",
                                                                                                      "failed", "cancelled")):
            self.stream.write(line + "\n")
            self.last_time = now
        self.last_line = line
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.tty and self.last_line:
            self.stream.write("\n")
            self.stream.flush()
