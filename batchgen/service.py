"""Use cases behind the REST API: the BatchService facade over intake and control."""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .control import ControlMixin
from .dispatcher import Dispatcher
from .host import Host
from .intake import IntakeMixin, request_hash, slugify
from .output_hasher import OutputHasher
from .preview import PreviewMixin
from .registry import TemplateRegistry
from .sheets import ContactSheets
from .store import Store
from .uploads import Uploads

__all__ = ["BatchService", "request_hash", "slugify"]


class BatchService(IntakeMixin, PreviewMixin, ControlMixin):
    """Glue between routes, store, registry, host and dispatcher."""

    def __init__(self, store: Store, host: Host, registry: TemplateRegistry, dispatcher: Dispatcher, config: Config,
                 version: str = "0", wildcards_dir: Path | list[Path] | None = None, uploads: Uploads | None = None) -> None:
        self.store = store
        self.host = host
        self.registry = registry
        self.dispatcher = dispatcher
        self.config = config
        self.version = version
        # __name__ wildcard files: <system user dir>/wildcards/name.txt, then peer packs' folders (None: refused).
        self.wildcards_dir = wildcards_dir
        # Contact sheets of grid batches, made when a batch's finish is committed (batchgen/sheets.py).
        self.sheets = ContactSheets(store, host, owner=getattr(dispatcher, "owner", None))
        # sha256 of each succeeded job's files, computed once when its success is committed (exports reuse them).
        self.hashes = OutputHasher(store, host)
        # Uploaded tables and images (None: the upload routes answer 503 and batches cannot name uploads).
        self.uploads = uploads
