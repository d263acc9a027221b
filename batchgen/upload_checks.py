"""What an uploaded file is, decided from its bytes (never from its name alone), and the checks of table files.

The client's file name is display metadata only: it must be a plain name (no folders), and only its extension is a
hint for the format of a text table. The part's Content-Type, when it says something, must agree with the bytes:
an "image/png" that is HTML, or any "text/html" / "image/svg+xml", is a 415.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from urllib.parse import unquote

from . import tables, xlsx
from .errors import ApiError, bad_request
from .imaging import sniff, unsupported

TABLE_FORMATS = ("csv", "tsv", "jsonl", "xlsx")
KINDS = ("table", "image")
MAX_NAME = 200
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}
_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/pjpeg": "jpeg", "image/webp": "webp"}
# What browsers and tools send for table files (Windows browsers call a .csv "application/vnd.ms-excel").
_TABLE_TYPES = {"text/csv", "text/plain", "text/tab-separated-values", "application/csv", "application/json", "application/jsonl",
                "application/x-ndjson", "application/x-jsonlines", "application/vnd.ms-excel", "application/zip",
                "application/x-zip-compressed", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_NEUTRAL_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
ZIP_MAGIC = b"PK\x03\x04"


def display_name(raw: str | None) -> str:
    """The client's file name as display text; 400 if it carries a folder (``../x``, ``C:\\x``, ``/etc/x``)."""
    if raw is None or raw.strip() == "":
        return "upload"
    # Browsers percent-encode '"' and line breaks in a multipart file name, and aiohttp's client every non-ASCII byte.
    name = unicodedata.normalize("NFC", unquote(raw, errors="replace"))
    if "/" in name or "\\" in name or "\x00" in name or name.strip() in (".", "..") or (len(name) > 1 and name[1] == ":"):
        raise bad_request("invalid_file_name", f"the file name {raw[:80]!r} contains a folder or drive; send the plain file name "
                          "(e.g. prompts.csv) — the server chooses where the file is stored")
    cleaned = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return (cleaned or "upload")[:MAX_NAME]


def classify(head: bytes, name: str, content_type: str, kind: str | None, fmt: str | None) -> tuple[str, str]:
    """(kind, format) of an upload from its first bytes, checked against the declared kind, format and Content-Type."""
    ctype = content_type.split(";")[0].strip().lower()
    image = sniff(head)
    if ctype not in _NEUTRAL_TYPES and ctype not in _IMAGE_TYPES and ctype not in _TABLE_TYPES:
        raise ApiError(415, "unsupported_upload_type", f"Content-Type {ctype!r} is not accepted: upload PNG, JPEG or WEBP images "
                       "or CSV, TSV, JSONL or .xlsx tables")
    wants_image = kind == "image" or ctype in _IMAGE_TYPES or (kind is None and fmt is None and Path(name).suffix.lower()
                                                                in (".png", ".jpg", ".jpeg", ".webp"))
    if image is not None and kind != "table":
        if ctype in _IMAGE_TYPES and _IMAGE_TYPES[ctype] != image:
            raise unsupported(f"the file is a {image.upper()} but was sent as {ctype}")
        if fmt is not None and fmt != image:
            raise unsupported(f"the file is a {image.upper()}, not {fmt}")
        return "image", image
    if image is not None:
        raise ApiError(415, "unsupported_upload_type", "kind is table but the file is an image; tables are CSV, TSV, JSONL or .xlsx")
    if wants_image:
        raise unsupported("the file is not an image (its first bytes are not those of a PNG, JPEG or WEBP file)")
    if head.startswith(ZIP_MAGIC):
        if fmt not in (None, "xlsx"):
            raise ApiError(415, "unsupported_upload_type", f"the file is a zip archive (.xlsx), not {fmt}")
        return "table", "xlsx"
    found = fmt or _EXTENSIONS.get(Path(name).suffix.lower(), "csv")
    if found == "xlsx":
        raise bad_request("invalid_table", "the file is not an .xlsx file (an xlsx is a zip archive); for .xls, save as .xlsx or CSV")
    if head.lstrip()[:1] == b"<":
        # HTML/XML/SVG is never a table we take, and must never be stored where a browser might render it.
        raise ApiError(415, "unsupported_upload_type", "the file looks like HTML or XML, not a CSV, TSV or JSONL table")
    return "table", found


def check_table(path: Path, fmt: str, max_unzipped: int) -> dict[str, object]:
    """Check a stored table file reads as its format: {columns, rows}; 400/413 naming the problem."""
    if fmt == "xlsx":
        xlsx.check_archive(path, max_unzipped)
    data = path.read_bytes()
    columns, rows = tables.inspect(data, fmt)
    if rows == 0:
        raise bad_request("invalid_table", "the table has a header row but no data rows")
    return {"columns": columns[:200], "rows": rows}
