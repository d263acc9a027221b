"""Small JSON files only the ComfyUI user may read (tokens.json, webhook_secrets.json): written 0600, atomically."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

log = logging.getLogger("batchgen.files")
T = TypeVar("T")


def mtime_ns(path: Path | None) -> int | None:
    """The file's mtime in ns, or None when there is no path or no file (re-read it only when this changes)."""
    if path is None:
        return None
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def write_private_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path``: created 0600, synced, then swapped in (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Created 0600 from the start (no window where the contents are world-readable).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by umask only downwards; an existing tmp keeps its mode
    os.replace(tmp, path)


class PrivateJsonFile(Generic[T]):
    """One private JSON file, parsed again only when its mtime changes (another process — the CLI — may rewrite it).

    ``parse`` turns the file's JSON into the contents; a file that cannot be read or parsed keeps the contents loaded
    before (a half-written or hand-broken file must not silently open or lock out everything) with one logged error.
    ``path`` None: nothing is read or written (in-memory stores).
    """

    def __init__(self, path: Path | None, parse: Callable[[Any], T], what: str) -> None:
        self.path = path
        self.parse = parse
        self.what = what
        self._mtime: int | None = None

    def changed(self) -> T | None:
        """The file's contents if it changed since the last load or save (an absent file parses as ``{}``), else None."""
        mtime = mtime_ns(self.path)
        if self.path is None or mtime == self._mtime:
            return None
        try:
            contents = self.parse(json.loads(self.path.read_text(encoding="utf-8")) if mtime is not None else {})
        except (OSError, ValueError, TypeError, AttributeError):
            log.exception("[batchgen] could not read %s; keeping the %s loaded before", self.path, self.what)
            return None
        self._mtime = mtime
        return contents

    def save(self, data: Any) -> None:
        """Write ``data`` (0600, atomically) and remember its mtime, so this process does not read it back."""
        if self.path is None:
            return
        write_private_json(self.path, data)
        self._mtime = mtime_ns(self.path)
