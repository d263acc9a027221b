"""Tables sent inline (CSV, TSV, JSONL as text or base64; .xlsx as base64, batchgen/xlsx.py) → typed rows with their row numbers.

Encoding of bytes, unless ``encoding`` is given: a UTF-8 or UTF-16 byte-order mark decides; otherwise strict UTF-8,
and only if that fails GB18030 (a superset of GBK, what Chinese Excel and WPS write). The order is reliable because
UTF-8 is self-checking — GBK text of more than a few characters is essentially never valid UTF-8 (its lead bytes
would need exactly the right continuation bytes) — while GB18030 accepts almost any bytes and so must come last.
UTF-16 without a mark is not guessed (Excel's "Unicode text" export writes one).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import math
from collections.abc import Mapping
from typing import Any

from . import xlsx
from .api_parse import loads_strict
from .breather import Breather
from .errors import ApiError, bad_request, too_large
from .templates import Template

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "text": "text", "image": "an image file name"}


def decode(data: bytes, encoding: str | None = None) -> str:
    """Table bytes as text (see the module docstring for the detection order)."""
    if encoding:
        try:
            if not codecs.lookup(encoding)._is_text_encoding:  # type: ignore[attr-defined]
                raise LookupError(encoding)
            return data.decode(encoding)
        except (LookupError, ValueError, TypeError) as exc:
            if isinstance(exc, UnicodeDecodeError):
                raise bad_request("invalid_table", f"the table is not valid {encoding} (byte {exc.start})", field="table.encoding") from None
            if isinstance(exc, UnicodeError):  # codecs such as idna raise the base class
                raise bad_request("invalid_table", f"the table is not valid {encoding}", field="table.encoding") from None
            raise bad_request("invalid_table", f"table.encoding {encoding!r} is not a text encoding Python knows "
                              "(e.g. utf-8, gb18030, utf-16)", field="table.encoding") from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name)
            except UnicodeDecodeError as exc:
                raise bad_request("invalid_table", f"the table starts with a {name} byte-order mark but is not valid {name} "
                                  f"(byte {exc.start})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise bad_request("invalid_table", "the table is neither UTF-8, UTF-16 (with BOM) nor GBK/GB18030; "
                          "save it as CSV UTF-8 or give table.encoding") from None


# An uploaded table's bytes, put into the spec by the table source (batchgen/sources.py) in place of "upload".
DATA_KEY = "_data"


def table_text(spec: Mapping[str, Any]) -> str:
    """The table's text: ``text`` as sent, or the bytes (``data_base64`` or an upload's file) decoded to text."""
    if sum(spec.get(k) is not None for k in ("text", "data_base64", DATA_KEY)) != 1:
        raise bad_request("invalid_table", "table needs exactly one of text, data_base64 and upload", field="table")
    if spec.get("encoding") is not None and spec.get("text") is not None:
        raise bad_request("invalid_table", "table.encoding applies to data_base64 or an upload only (text is already text)",
                          field="table.encoding")
    if spec.get("text") is not None:
        text = spec["text"]
        return text[1:] if text.startswith("\ufeff") else text
    return decode(_bytes(spec), spec.get("encoding"))


def _bytes(spec: Mapping[str, Any]) -> bytes:
    return spec[DATA_KEY] if spec.get(DATA_KEY) is not None else _base64(spec["data_base64"])


def inspect(data: bytes, fmt: str) -> tuple[list[str], int]:
    """(column names, data rows) of a table file, without a template: what an upload is checked with."""
    records = _xlsx({DATA_KEY: data}) if fmt == "xlsx" else None
    if records is None:
        text = decode(data)
        records = _jsonl(text) if fmt == "jsonl" else _delimited(text, "\t" if fmt == "tsv" else ",")
    headers = records.headers or list(dict.fromkeys(k for _, r in records.rows[:1000] for k in r))
    return [h for h in headers if h], len(records.rows)


def read_rows(spec: Mapping[str, Any], template: Template, max_rows: int) -> list[tuple[int, dict[str, Any]]]:
    """(row number, {param: typed value}) for every data row; empty cells are left out so ``params`` fills them."""
    return [(number, values) for number, _, values in _read(spec, template, max_rows, None)]


def read_keyed_rows(spec: Mapping[str, Any], template: Template, max_rows: int, key: str) -> list[tuple[int, Any, dict[str, Any]]]:
    """(row number, the cell of column ``key``, {param: typed value}) per row; ``key`` is a column, not a parameter."""
    return _read(spec, template, max_rows, key)


def _read(spec: Mapping[str, Any], template: Template, max_rows: int, key: str | None) -> list[tuple[int, Any, dict[str, Any]]]:
    fmt = spec.get("format", "csv")
    if fmt == "xlsx":
        records = _xlsx(spec)
    else:
        text = table_text(spec)
        records = _jsonl(text) if fmt == "jsonl" else _delimited(text, "\t" if fmt == "tsv" else ",")
    mapping = dict(spec.get("columns") or {})
    if key is not None:
        if fmt != "jsonl" and key not in records.headers:
            raise bad_request("invalid_table_column", f"the table has no column {key!r} naming each row's file; its columns are: "
                              f"{', '.join(h for h in records.headers if h)}", column=key)
        mapping[key] = None
    columns = _column_map(records, mapping, template) if fmt != "jsonl" else None
    out: list[tuple[int, Any, dict[str, Any]]] = []
    breathe = Breather()  # read in a worker thread (batchgen/breather.py)
    for number, record in records.rows:
        breathe()
        if len(out) >= max_rows:
            raise too_large("too_many_jobs", f"the table has more than {max_rows} rows; the limit is {max_rows}", limit=max_rows)
        cell = record.get(key) if key is not None else None
        if key is not None and (cell is None or str(cell).strip() == ""):
            raise bad_request("invalid_table_value", f"row {number}, column {key!r}: empty; each row names the file it belongs to",
                              row=number, column=key)
        if fmt == "jsonl":
            record = _jsonl_record(record, mapping, template, number)
        values: dict[str, Any] = {}
        for header, value in record.items():
            param = columns.get(header) if columns is not None else header
            if param is None or value is None or value == "":
                continue
            values[param] = _typed(value, template, param, number, header)
        out.append((number, cell, values))
    return out


class _Records:
    def __init__(self, headers: list[str], rows: list[tuple[int, dict[str, Any]]]) -> None:
        self.headers, self.rows = headers, rows


def _delimited(text: str, delimiter: str) -> _Records:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise bad_request("invalid_table", "the table has no header row: its first row names the parameters (e.g. prompt,width)")
        headers = [h.strip() for h in header]
        rows: list[tuple[int, dict[str, Any]]] = []
        breathe = Breather()
        for number, cells in enumerate(reader, start=2):  # the header is row 1, as a spreadsheet numbers them
            breathe()
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(headers) and any(c.strip() for c in cells[len(headers):]):
                raise bad_request("invalid_table_value", f"row {number}: {len(cells)} cells but the header has {len(headers)} columns",
                                  row=number)
            rows.append((number, {h: c for h, c in zip(headers, cells, strict=False) if h}))
    except csv.Error as exc:
        raise bad_request("invalid_table", f"the table is not valid {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}") from None
    return _Records(headers, rows)


def _xlsx(spec: Mapping[str, Any]) -> _Records:
    if (spec.get("data_base64") is None and spec.get(DATA_KEY) is None) or spec.get("text") is not None or spec.get("encoding") is not None:
        raise bad_request("invalid_table", "an xlsx table is sent as data_base64 (the file's bytes) or an upload, without text or encoding",
                          field="table")
    headers, cells = xlsx.read_sheet(_bytes(spec))
    rows = []
    for number, row in cells:
        if len(row) > len(headers) and any(c != "" for c in row[len(headers):]):
            raise bad_request("invalid_table_value", f"row {number}: a cell right of the last header (the header has {len(headers)} columns)",
                              row=number)
        rows.append((number, {h: c for h, c in zip(headers, row, strict=False) if h}))
    return _Records(headers, rows)


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("invalid_table", "table.data_base64 is not valid base64", field="table.data_base64") from None


def _jsonl(text: str) -> _Records:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = loads_strict(line)
        except ApiError as exc:
            raise bad_request("invalid_table", f"line {number}: {exc.message}", row=number) from None
        if not isinstance(value, dict):
            raise bad_request("invalid_table", f"line {number}: each JSONL line must be an object {{param: value}}", row=number)
        rows.append((number, value))
    return _Records([], rows)


def _column_map(records: _Records, mapping: Mapping[str, str | None], template: Template) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for header in mapping:
        if header not in records.headers:
            raise bad_request("invalid_table_column", f"table.columns names {header!r}, which is not a column of the table; "
                              f"its columns are: {', '.join(h for h in records.headers if h)}", column=header)
    taken: dict[str, str] = {}
    for header in records.headers:
        if not header:
            continue
        if header in out:
            raise bad_request("invalid_table_column", f"column {header!r} appears twice in the header row", column=header)
        param = out[header] = _param_for(header, mapping, template)
        if param is not None and param in taken:
            raise bad_request("invalid_table_column", f"columns {taken[param]!r} and {header!r} both set parameter {param!r}; "
                              f"skip one with table.columns {{{header!r}: null}}", column=header)
        if param is not None:
            taken[param] = header
    return out


def _param_for(header: str, mapping: Mapping[str, str | None], template: Template) -> str | None:
    param = mapping[header] if header in mapping else header
    if param is not None and param not in template.bindings:
        known = ", ".join(sorted(template.bindings)) or "none"
        how = f"table.columns maps it to {param!r}, which" if header in mapping else "it"
        raise bad_request("invalid_table_column", f"column {header!r}: {how} is not a parameter of the template (its parameters: {known}); "
                          f"map it with table.columns {{{header!r}: \"prompt\"}} or skip it with {{{header!r}: null}}", column=header)
    return param


def _jsonl_record(record: dict[str, Any], mapping: Mapping[str, str | None], template: Template, number: int) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        param = _param_for(key, mapping, template)
        if param is not None:
            if isinstance(value, (dict, list)):
                raise bad_request("invalid_table_value", f"row {number}, column {key!r}: expected a single value, got a "
                                  f"{'list' if isinstance(value, list) else 'object'}", row=number, column=key)
            out[param] = value
    return out


def _typed(cell: Any, template: Template, param: str, row: int, column: str) -> Any:
    """A cell as the parameter's type (text cells from CSV are strings): a 400 naming row, column and problem."""
    ptype = template.bindings[param].type
    value = cell.strip() if isinstance(cell, str) and ptype in ("int", "float", "bool") else cell
    try:
        if ptype == "int":
            if isinstance(value, bool) or len(str(value)) > 40:
                raise ValueError
            number = float(value) if isinstance(value, str) and "." in value else value
            if isinstance(number, float):
                if not number.is_integer():
                    raise ValueError
                return int(number)
            return int(number)
        if ptype == "float":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if ptype == "bool":
            if isinstance(value, bool):
                return value
            word = str(value).lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise ValueError
        return value
    except (TypeError, ValueError, OverflowError):
        shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}…"
        raise bad_request("invalid_table_value", f"row {row}, column {column!r}: expected {_TYPE_WORDS.get(ptype, ptype)}, got {shown!r}",
                          row=row, column=column, param=param) from None
