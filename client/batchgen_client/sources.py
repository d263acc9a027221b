"""Files to submit → the request's ``prompts`` (a .txt file, one prompt a line) or inline ``table`` (CSV/TSV/JSONL/xlsx).

Tables are sent as their bytes (``data_base64``), so the server detects the encoding (UTF-8, UTF-16, GBK) and reads
xlsx itself, exactly as for an uploaded file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}
PROMPT_SUFFIXES = {".txt", ".prompts", ""}


def table_source(data: bytes, fmt: str, columns: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The request's ``table`` for a file's bytes."""
    if fmt not in set(TABLE_FORMATS.values()):
        raise ValueError(f"unknown table format {fmt!r}: use csv, tsv, jsonl or xlsx")
    table: dict[str, Any] = {"format": fmt, "data_base64": base64.b64encode(data).decode("ascii")}
    if columns:
        table["columns"] = dict(columns)
    return table


def read_prompts(text: str) -> list[str]:
    """One prompt per non-empty line (a line starting with # is a comment)."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def from_file(path: str | os.PathLike[str], fmt: str | None = None, columns: dict[str, str | None] | None = None) -> dict[str, Any]:
    """{"table": …} or {"prompts": […]} for a file, by its suffix (or ``fmt``: csv, tsv, jsonl, xlsx, prompts)."""
    p = Path(path)
    data = p.read_bytes()
    kind = fmt or TABLE_FORMATS.get(p.suffix.lower()) or ("prompts" if p.suffix.lower() in PROMPT_SUFFIXES else None)
    if kind is None:
        raise ValueError(f"{p.name}: cannot tell the format from the suffix; say --format csv|tsv|jsonl|xlsx|prompts")
    if kind == "prompts":
        prompts = read_prompts(data.decode("utf-8-sig"))
        if not prompts:
            raise ValueError(f"{p.name} has no prompts (one per line)")
        return {"prompts": prompts}
    return {"table": table_source(data, kind, columns)}
