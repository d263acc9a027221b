"""A process-wide setting held while any of several holders (requests, threads) is inside its block.

The garbage collector's pause and the short GIL switch interval of bulk work are such settings: the first holder in
applies it, the last one out puts back what was there before the first came in (batchgen/gcpause.py, breather.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["SharedSetting"]


class SharedSetting:
    """``apply()`` changes the setting and returns the function that undoes that change."""

    def __init__(self, apply: Callable[[], Callable[[], None]]) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._undo: Callable[[], None] | None = None
        self.depth = 0  # holders inside right now

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Within the block (and any block nested or concurrent with it) the setting is applied."""
        with self._lock:
            if self.depth == 0:
                self._undo = self._apply()
            self.depth += 1
        try:
            yield
        finally:
            with self._lock:
                self.depth -= 1
                if self.depth == 0 and self._undo is not None:
                    undo, self._undo = self._undo, None
                    undo()
