"""Webhook signing secrets, kept as-is in webhook_secrets.json (mode 0600) beside tokens.json, never in the database.

A signing secret must be usable (HMAC needs the key itself), so it cannot be stored hashed
like a token. It lives in a file only the ComfyUI user can read, in our system user directory
(which ComfyUI's /userdata routes do not serve), and not in the SQLite file, which users copy
for backups and bug reports. The file is re-read when its mtime changes, so several ComfyUI
processes sharing one user directory (docs/multi-gpu.md) see each other's webhooks.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
from pathlib import Path

from .private_file import PrivateJsonFile

log = logging.getLogger("batchgen.webhooks")

SECRETS_FILENAME = "webhook_secrets.json"
SECRET_PREFIX = "whsec_"  # the Standard Webhooks form: whsec_ + base64 of the key bytes
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (whsec_<base64 of 32 random bytes>)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


class SecretStore:
    """webhook id -> secret; ``path`` None keeps them in memory only (tests, no user dir)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._secrets: dict[str, str] = {}
        self._file = PrivateJsonFile(path, lambda data: {str(k): str(v) for k, v in data.get("secrets", {}).items()},
                                     "webhook secrets")
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        found = self._file.changed()
        if found is not None:
            self._secrets = found

    def _save(self) -> None:
        self._file.save({"version": 1, "secrets": self._secrets})

    def create(self, webhook_id: str) -> str:
        """Generate, store and return the secret of a new webhook."""
        secret = new_secret()
        with self._lock:
            self._load()
            self._secrets[webhook_id] = secret
            self._save()
        return secret

    def get(self, webhook_id: str) -> str | None:
        """The secret of a webhook (None if it has none)."""
        with self._lock:
            self._load()
            return self._secrets.get(webhook_id)

    def delete(self, webhook_ids: list[str]) -> None:
        """Forget the secrets of deleted webhooks."""
        with self._lock:
            self._load()
            if any(i in self._secrets for i in webhook_ids):
                for webhook_id in webhook_ids:
                    self._secrets.pop(webhook_id, None)
                self._save()

    def ids(self) -> set[str]:
        """Every webhook id with a stored secret."""
        with self._lock:
            self._load()
            return set(self._secrets)
