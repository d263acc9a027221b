"""Small thumbnails of job outputs for the tab's gallery: WEBP (JPEG without WEBP support), kept in a bounded LRU.

ComfyUI's /view?preview= re-encodes the full-size image on every request; a gallery of thousands needs a few KB
per cell, made once. Pure: gets a resolved, contained path from the caller and returns bytes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, features

SIZES = (64, 128, 200, 256, 384, 512)  # the sizes served: a small set keeps the cache useful
MAX_PIXELS = 100_000_000  # refuse to decode bigger files (a decompression bomb is no gallery image)
WEBP = features.check("webp")
MEDIA_TYPE = "image/webp" if WEBP else "image/jpeg"


@dataclass(frozen=True, slots=True)
class Thumb:
    """One encoded thumbnail and its validator."""

    data: bytes
    etag: str
    media_type: str = MEDIA_TYPE


def fit_size(requested: int) -> int:
    """The smallest served size ≥ requested (the largest for anything bigger)."""
    return next((s for s in SIZES if s >= requested), SIZES[-1])


def encode(path: Path, size: int) -> bytes:
    """Read an image and return it scaled to fit size×size, EXIF-rotated, as WEBP (or JPEG)."""
    with Image.open(path) as img:
        if img.width * img.height > MAX_PIXELS:
            raise ValueError(f"{path.name} is too large to thumbnail")
        img = ImageOps.exif_transpose(img)
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = BytesIO()
        if WEBP:
            img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
            img.save(out, "WEBP", quality=80, method=4)
        else:
            img.convert("RGB").save(out, "JPEG", quality=82, optimize=True)
        return out.getvalue()


class ThumbCache:
    """Thumbnails by (file, mtime, bytes, size), least recently used dropped beyond max_bytes."""

    def __init__(self, max_bytes: int = 48 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Thumb] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # get() runs in worker threads

    def get(self, path: Path, size: int) -> Thumb:
        """The thumbnail of path at size (made on first use; a changed file makes a new one)."""
        stat = path.stat()
        key = hashlib.sha1(f"{path}|{stat.st_mtime_ns}|{stat.st_size}|{size}".encode()).hexdigest()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        thumb = Thumb(encode(path, size), f'"{key[:32]}"')
        with self._lock:
            if key not in self._items:
                self._items[key] = thumb
                self._bytes += len(thumb.data)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old.data)
        return thumb

    def __len__(self) -> int:
        return len(self._items)
