"""The items of a Prompts From File node: one per line of a .txt, or one per row of a named column of a CSV/TSV/JSONL/xlsx
(plus, per item, the cells of further named columns of the same row).

The same function serves the node under ComfyUI's Run and intake when the workflow is submitted as
a batch, so both ways see the same items. Bytes are decoded as tables are (UTF-8/UTF-16 with BOM,
else UTF-8, else GBK/GB18030: what Chinese Excel and WPS export); a bad file or a missing column is a
400 naming the file, and the row where it applies.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from . import xlsx
from .api_parse import loads_strict
from .errors import ApiError, bad_request
from .tables import decode

FORMATS = {".txt": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".xlsx": "xlsx"}
MAX_FILE_BYTES = 32 * 1024 * 1024


def file_format(name: str) -> str | None:
    """txt/csv/tsv/jsonl/xlsx from the file name's extension, or None."""
    dot = name.rfind(".")
    return FORMATS.get(name[dot:].lower()) if dot >= 0 else None


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 from a spreadsheet cell is "3"
    return "" if value is None else str(value).strip()


def _pick(headers: list[str], rows: list[tuple[int, dict[str, Any]]], column: str, name: str,
          extra: tuple[str, ...] = ()) -> list[list[str]]:
    wanted = column.strip() or (headers[0] if headers else "")
    for col in (wanted, *extra):
        if headers and col not in headers:
            raise bad_request("invalid_list_node", f"{name} has no column {col!r}; its columns are: {', '.join(h for h in headers if h)}",
                              column=col)
    out = []
    for number, row in rows:
        if wanted not in row and not headers:
            raise bad_request("invalid_list_node", f"{name}, line {number}: no key {wanted!r}", row=number, column=wanted)
        text = _cell_text(row.get(wanted))
        if text:
            # An empty cell of the main column is no item (as an empty line is none); the other columns may be empty.
            out.append([text, *(_cell_text(row.get(col)) for col in extra)])
    return out


def file_items(data: bytes, name: str, column: str = "") -> list[str]:
    """The file's items (empty lines and cells skipped); ``column`` names the column (default: the first)."""
    return [row[0] for row in file_rows(data, name, column)]


def file_rows(data: bytes, name: str, column: str = "", extra: tuple[str, ...] = ()) -> list[list[str]]:
    """One [main cell, extra cells…] per non-empty cell of the main column (txt: per line; ``extra`` is then refused)."""
    fmt = file_format(name)
    if fmt is None:
        raise bad_request("invalid_list_node", f"{name}: Prompts From File reads .txt, .csv, .tsv, .jsonl or .xlsx files")
    if len(data) > MAX_FILE_BYTES:
        raise bad_request("invalid_list_node", f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if fmt == "txt" and extra:
        raise bad_request("invalid_list_node", f"{name} is a .txt file: it has no columns {', '.join(extra)}; use a CSV, TSV, JSONL or xlsx")
    try:
        if fmt == "xlsx":
            headers, cells = xlsx.read_sheet(data)
            return _pick(headers, [(n, dict(zip(headers, row, strict=False))) for n, row in cells], column, name, extra)
        text = decode(data)
        text = text[1:] if text.startswith("\ufeff") else text
        if fmt == "txt":
            return [[line.strip()] for line in text.splitlines() if line.strip()]
        if fmt == "jsonl":
            rows = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    record = loads_strict(line)
                    if not isinstance(record, dict):
                        raise bad_request("invalid_list_node", f"{name}, line {number}: each line must be a JSON object", row=number)
                    rows.append((number, record))
            return _pick([], rows, column or "prompt", name, extra)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise bad_request("invalid_list_node", f"{name} has no header row (its first row names the columns)")
        return _pick(header, [(n, dict(zip(header, cells, strict=False))) for n, cells in enumerate(reader, start=2)], column, name,
                     extra)
    except ApiError as exc:
        if exc.code == "invalid_list_node":
            raise
        raise bad_request("invalid_list_node", f"{name}: {exc.message}", **exc.details) from None
    except csv.Error as exc:
        raise bad_request("invalid_list_node", f"{name} is not valid {fmt.upper()}: {exc}") from None
