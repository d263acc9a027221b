"""Where the token comes from: a file, the BATCHGEN_TOKEN environment variable, or a prompt — never the command line.

A token on the command line is visible to every user of the machine (``ps``, /proc/<pid>/cmdline) and is kept in
shell history; a file (mode 0600) or the environment of one process is not.
"""

from __future__ import annotations

import getpass
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from .errors import TokenError

log = logging.getLogger("batchgen_client")
ENV_TOKEN = "BATCHGEN_TOKEN"


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in a file (first line, stripped); warns if others may read the file."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
        mode = p.stat().st_mode
    except OSError as exc:
        raise TokenError(f"cannot read the token file {p}: {exc.strerror or exc}") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise TokenError(f"the token file {p} is empty")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the token file %s can be read by other users: chmod 600 %s", p, p)
    return token


def resolve_token(token_file: str | os.PathLike[str] | None = None, *, ask: bool = False,
                  environ: Mapping[str, str] | None = None) -> str | None:
    """The token to send: --token-file, else $BATCHGEN_TOKEN, else a hidden prompt when ``ask``; None (loopback) otherwise."""
    if token_file is not None:
        return read_token_file(token_file)
    env = os.environ if environ is None else environ
    if env.get(ENV_TOKEN, "").strip():
        return env[ENV_TOKEN].strip()
    if ask:
        token = getpass.getpass("batchgen token: ").strip()
        if not token:
            raise TokenError("no token entered")
        return token
    return None
