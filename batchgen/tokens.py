"""API tokens with scopes (read < submit < admin), kept hashed in tokens.json in our system user directory.

Only the sha256 of a token is stored. A slow password KDF (bcrypt, scrypt) exists to make
guessing low-entropy passwords expensive; our tokens are 32 random bytes, so a brute force
over the hash is hopeless anyway and a fast hash keeps every request's check cheap.
The file is re-read when its mtime changes, so a token made with cli.py while ComfyUI
runs works at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .private_file import PrivateJsonFile

log = logging.getLogger("batchgen.tokens")

SCOPES = ("read", "submit", "admin")
TOKEN_PREFIX = "bg_"
TOKENS_FILENAME = "tokens.json"
# last_used_at is written at most this often per token (a write per request would be a disk write per request).
LAST_USED_EVERY = 60.0
MAX_NAME = 100


def scope_allows(granted: str, needed: str) -> bool:
    """True if a token of scope ``granted`` may call a route of scope ``needed`` (admin ⊇ submit ⊇ read)."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


def hash_token(token: str) -> str:
    """The stored form of a token: hex sha256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class TokenRecord:
    """One stored token (never the token itself)."""

    id: str
    name: str
    scope: str
    hash: str
    created_at: float
    last_used_at: float | None = None
    revoked: bool = False

    def public(self) -> dict[str, Any]:
        """What the API and CLI show: everything but the hash."""
        return {"id": self.id, "name": self.name, "scope": self.scope, "created_at": self.created_at,
                "last_used_at": self.last_used_at, "revoked": self.revoked}


def _parse_tokens(data: Any) -> dict[str, TokenRecord]:
    """tokens.json's contents: id → record (records with an unknown scope are dropped)."""
    records = (TokenRecord(**item) for item in data.get("tokens", []))
    return {r.id: r for r in records if r.scope in SCOPES}


class TokenError(ValueError):
    """A bad name or scope given to create()."""


class TokenStore:
    """tokens.json: create, list, revoke, verify. ``path`` None keeps tokens in memory only (tests, no user dir)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._records: dict[str, TokenRecord] = {}
        self._file = PrivateJsonFile(path, _parse_tokens, "tokens")
        self._lock = threading.Lock()  # the CLI and the server share the code; the server calls from one loop
        self._load()

    # -- file ---------------------------------------------------------------------------------

    def _load(self) -> None:
        found = self._file.changed()
        if found is not None:
            self._records = found

    def _save(self) -> None:
        self._file.save({"version": 1, "tokens": [asdict(r) for r in self._records.values()]})

    # -- operations ---------------------------------------------------------------------------

    def create(self, name: str, scope: str) -> tuple[TokenRecord, str]:
        """A new token: (its record, the token value — shown once, never stored)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise TokenError(f"name must be 1-{MAX_NAME} printable characters")
        if scope not in SCOPES:
            raise TokenError(f"scope must be one of {', '.join(SCOPES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._load()
            record = TokenRecord(secrets.token_hex(8), name, scope, hash_token(token), round(time.time(), 3))
            self._records[record.id] = record
            self._save()
        log.info("[batchgen] token %s (%s, scope %s) created", record.id, record.name, record.scope)
        return record, token

    def list(self) -> list[TokenRecord]:
        """Every token, oldest first (revoked ones included, marked)."""
        with self._lock:
            self._load()
            return sorted(self._records.values(), key=lambda r: r.created_at)

    def revoke(self, token_id: str) -> TokenRecord | None:
        """Mark a token revoked (None if there is no such id)."""
        with self._lock:
            self._load()
            record = self._records.get(token_id)
            if record is None:
                return None
            if not record.revoked:
                record.revoked = True
                self._save()
                log.info("[batchgen] token %s (%s) revoked", record.id, record.name)
            return record

    def any_active(self) -> bool:
        """True if at least one token is not revoked."""
        with self._lock:
            self._load()
            return any(not r.revoked for r in self._records.values())

    def verify(self, token: str) -> TokenRecord | None:
        """The active record whose hash matches ``token``, else None; compared in constant time."""
        digest = hash_token(token)
        found: TokenRecord | None = None
        with self._lock:
            self._load()
            # Compare against every record (no early exit) so the time does not say how many hashes share a prefix.
            for record in self._records.values():
                if hmac.compare_digest(record.hash, digest) and not record.revoked:
                    found = record
            if found is not None:
                now = time.time()
                if found.last_used_at is None or now - found.last_used_at >= LAST_USED_EVERY:
                    found.last_used_at = round(now, 0)
                    try:
                        self._save()
                    except OSError:
                        log.warning("[batchgen] could not record the last use of token %s", found.id)
        return found
