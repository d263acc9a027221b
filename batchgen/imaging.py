"""Uploaded images checked and re-encoded with Pillow: PNG, JPEG and WEBP only; bombs, fakes and truncated files refused.

Order of checks, cheapest first, so a hostile file costs as little as possible: the magic bytes, then the header's size
(width × height against our pixel limit, before anything is decoded), then ``Image.verify`` (structure and checksums),
then a full decode of the first frame. The stored file is a fresh encoding of those pixels with the EXIF orientation
applied: no metadata (EXIF, XMP, ICC text chunks, comments) and one frame, so an animated file cannot make LoadImage
decode thousands of frames.

Pillow's own decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``) is a process-wide setting that ComfyUI's LoadImage
also obeys; rather than change it for every node, our limit is checked from the header here, and Pillow's
``DecompressionBombWarning`` is raised as an error inside these checks, so both limits hold.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import ApiError, bad_request, too_large

FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


def sniff(head: bytes) -> str | None:
    """"png", "jpeg" or "webp" from a file's first bytes; None for anything else (HTML, SVG, GIF, …)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """What was stored: format, pixel size."""

    format: str
    width: int
    height: int


def unsupported(what: str) -> ApiError:
    """415: the file is not one of the image types we take."""
    return ApiError(415, "unsupported_upload_type", f"{what}; images must be PNG, JPEG or WEBP files")


def reencode(source: Path, target: Path, max_pixels: int) -> CheckedImage:
    """Verify ``source`` and write its pixels, re-encoded without metadata, to ``target``; 400/413/415 on a bad file."""
    from PIL import Image, ImageOps  # imported here: only image uploads need Pillow at import time

    with source.open("rb") as fh:
        head = fh.read(16)
    kind = sniff(head)
    if kind is None:
        raise unsupported("the file is not an image (its first bytes are not those of a PNG, JPEG or WEBP file)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source) as probe:
                if FORMATS.get(probe.format or "") != kind:
                    raise unsupported(f"the file looks like {kind} but Pillow reads it as {probe.format}")
                width, height = probe.size
                _check_size(width, height, max_pixels)
                probe.verify()
            with Image.open(source) as img:
                img.seek(0)
                img.load()
                upright = ImageOps.exif_transpose(img)
                pixels = _plain_mode(upright, kind)
        except ApiError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_large("image_too_large", f"the image has too many pixels; the limit is {max_pixels}", limit=max_pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise bad_request("invalid_image", f"the {kind.upper()} file is damaged or truncated ({str(exc)[:120] or type(exc).__name__}); "
                              "save it again and upload the new file") from None
    _check_size(pixels.width, pixels.height, max_pixels)
    options = {"png": {"optimize": False}, "jpeg": {"quality": 95}, "webp": {"quality": 95}}[kind]
    with target.open("xb") as out:
        pixels.save(out, format=kind.upper(), **options)
    return CheckedImage(kind, pixels.width, pixels.height)


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise bad_request("invalid_image", f"the image is {width}×{height} pixels; it needs at least one pixel")
    if width * height > max_pixels:
        raise too_large("image_too_large", f"the image is {width}×{height} = {width * height} pixels; the limit is {max_pixels} "
                        "(BATCHGEN_MAX_UPLOAD_MEGAPIXELS)", limit=max_pixels, width=width, height=height)


def _plain_mode(img, kind: str):  # type: ignore[no-untyped-def]
    """The pixels in a mode the target format stores directly (palette and 16-bit images become RGB(A))."""
    keep = {"png": ("RGB", "RGBA", "L", "LA"), "jpeg": ("RGB", "L"), "webp": ("RGB", "RGBA")}[kind]
    keyed = "transparency" in img.info  # a tRNS colour key lives in .info, which is not written again: make it real alpha
    if img.mode in keep and not keyed:
        out = img.copy()
    else:
        has_alpha = keyed or img.mode in ("RGBA", "LA", "PA", "RGBa", "La")
        out = img.convert("RGBA" if has_alpha and "RGBA" in keep else "RGB")
    out.info = {}  # PNG writes .info's ICC profile back unless it is gone
    return out
