"""Small JSON files only the ComfyUI user may read (tokens.json, webhook_secrets.json): written 0600, atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


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
