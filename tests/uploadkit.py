"""Files for upload tests: real images made with Pillow, hostile ones made by hand, and an image-to-image graph."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image, PngImagePlugin

# LoadImage → ImageInvert → SaveImage: model-free image-to-image, with an `image` binding.
INVERT_TEMPLATE = {
    "workflow": {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inverted"}},
    },
    "bindings": {"image": "1.image"},
    "autodetect": False,
}


def colour(i: int) -> tuple[int, int, int]:
    """A distinct colour per image index."""
    return (20 * i % 256, 255 - 13 * i % 256, 7 * i % 256)


def png(i: int = 0, size: tuple[int, int] = (32, 24), text: str | None = None) -> bytes:
    """A PNG of one colour with a left-half/right-half split so orientation is visible; optional tEXt metadata."""
    img = Image.new("RGB", size, colour(i))
    img.paste((255, 255, 255), (0, 0, size[0] // 4, size[1]))
    buf = io.BytesIO()
    info = None
    if text is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", text)
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def jpeg_rotated() -> bytes:
    """A 40×20 JPEG whose EXIF says "rotate 90° clockwise to view" (orientation 6): upright it is 20×40."""
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header says width×height (the first rows of zeros only: what a decompression bomb looks like up front)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * ((width + 1) * 4), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def zip_bomb(unpacked_mb: int = 300) -> bytes:
    """A .xlsx-shaped zip whose sheet unpacks to ``unpacked_mb`` MB of zeros (a few hundred KB packed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked_mb):
                member.write(block)
    return buf.getvalue()


HTML_AS_PNG = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'


def multipart(data: bytes, filename: str, content_type: str = "application/octet-stream", **fields: str) -> tuple[bytes, str]:
    """A multipart/form-data body with the fields, then one part named file (for urllib clients: tests, bench)."""
    boundary = "----batchgen-test-boundary-7d3a"
    out = b""
    for key, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
    disposition = f'form-data; name="file"; filename="{filename}"'.encode()
    out += (f"--{boundary}\r\n".encode() + b"Content-Disposition: " + disposition + b"\r\n"
            + f"Content-Type: {content_type}\r\n\r\n".encode() + data + f"\r\n--{boundary}--\r\n".encode())
    return out, f"multipart/form-data; boundary={boundary}"
