"""The ``images`` source: every image of a list of uploads, or of a subfolder of ComfyUI's input folder, is one row.

Each row sets the image parameter (default: the template's one image binding) to the file's LoadImage name and may be
joined with a table of per-image values matched by file name (``images.table`` with a ``file`` column, or the column
``images.match`` names). Coordinates: ``{"source": "images", "index": i, "file": "cat.png"}`` (+ ``"row"`` when joined).

A folder is listed safely: a relative path of plain names below the input folder (no ``..``, no absolute path, no
backslash), resolved with symlinks and required to stay inside it; only .png/.jpg/.jpeg/.webp files whose own resolved
path stays inside too, in natural order (img2 before img10).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from . import tables
from .errors import bad_request, too_large, unprocessable
from .source_context import SourceContext, table_spec
from .templates import Template

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders numbers by value: img2.png < img10.png; case-insensitive, ties broken by the exact name."""
    parts = _DIGITS.split(name.casefold())
    return (tuple((0, int(p), p) if i % 2 else (1, 0, p) for i, p in enumerate(parts)), name)


def image_param(spec: Mapping[str, Any], template: Template) -> str:
    """The parameter the images go to: ``images.param``, else the template's only image binding."""
    param = spec.get("param")
    images = [n for n, b in template.bindings.items() if b.type == "image"]
    if param is not None:
        if param not in template.bindings:
            known = ", ".join(sorted(template.bindings)) or "none"
            raise bad_request("invalid_images", f"images.param {param!r} is not a parameter of the template (its parameters: {known})",
                              field="images.param")
        if template.bindings[param].type != "image":
            raise bad_request("invalid_images", f"images.param {param!r} is a {template.bindings[param].type} parameter, not an image one",
                              field="images.param")
        return param
    if len(images) == 1:
        return images[0]
    if not images:
        raise bad_request("invalid_images", "the template has no image parameter (a LoadImage node or BatchGen Input Image); "
                          "bind one, or name it with images.param", field="images.param")
    raise bad_request("invalid_images", f"the template has several image parameters ({', '.join(images)}); say which with images.param",
                      field="images.param")


def folder_files(input_dir: Path | None, folder: Any, limit: int) -> list[tuple[str, str]]:
    """(file name, LoadImage value "sub/x.png") of every image directly in the input subfolder ``folder``."""
    if input_dir is None:
        raise unprocessable("no_input_dir", "this server has no ComfyUI input folder to list", field="images.folder")
    if not isinstance(folder, str) or not folder.strip() or "\\" in folder or "\x00" in folder or folder.startswith(("/", "~")) \
            or re.match(r"^[A-Za-z]:", folder):
        raise bad_request("invalid_images", "images.folder must be a relative path below ComfyUI's input folder, like \"cats\" or "
                          "\"sets/cats\"", field="images.folder")
    parts = [p for p in PurePosixPath(folder).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise bad_request("invalid_images", "images.folder may not contain '..': it names a folder inside ComfyUI's input folder",
                          field="images.folder")
    root = input_dir.resolve()
    target = root.joinpath(*parts).resolve()
    if target == root or not target.is_relative_to(root):
        raise bad_request("invalid_images", "images.folder leads outside ComfyUI's input folder (a link?); name a real subfolder",
                          field="images.folder")
    if not target.is_dir():
        raise unprocessable("image_folder_not_found", f"there is no folder {'/'.join(parts)!r} in ComfyUI's input folder",
                            field="images.folder")
    found = []
    for entry in target.iterdir():
        if entry.suffix.lower() not in IMAGE_SUFFIXES or entry.name.startswith("."):
            continue
        real = entry.resolve()
        if real.is_relative_to(root) and real.is_file():
            found.append(entry.name)
            if len(found) > limit:
                raise too_large("too_many_jobs", f"images.folder has more than {limit} images; the limit is {limit}", limit=limit)
    if not found:
        raise unprocessable("empty_batch", f"the folder {'/'.join(parts)!r} has no .png, .jpg, .jpeg or .webp files", field="images.folder")
    prefix = "/".join(parts)
    return [(name, f"{prefix}/{name}") for name in sorted(found, key=natural_key)]


def image_rows(spec: Any, template: Template, max_jobs: int, ctx: SourceContext) -> list[Any]:
    """One row per image, in order, joined with the per-image table when there is one."""
    from .sources import Row  # the Row type lives with the other sources

    if not isinstance(spec, Mapping):
        raise bad_request("invalid_images", "images must be an object {upload: [ids]} or {folder: \"subfolder\"}", field="images")
    if (spec.get("upload") is None) == (spec.get("folder") is None):
        raise bad_request("invalid_images", "images needs exactly one of upload (a list of upload ids) and folder (an input subfolder)",
                          field="images")
    param = image_param(spec, template)
    if spec.get("upload") is not None:
        ids = spec["upload"]
        if not isinstance(ids, list) or not ids:
            raise bad_request("invalid_images", "images.upload must be a non-empty list of upload ids", field="images.upload")
        if len(ids) > max_jobs:
            raise too_large("too_many_jobs", f"images.upload has {len(ids)} images; the limit is {max_jobs}", limit=max_jobs)
        files = []
        for i, upload_id in enumerate(ids):
            found = ctx.upload(upload_id, "image", f"images.upload[{i}]")
            files.append((found.name, found.input_name, found.id))
    else:
        files = [(name, value, None) for name, value in folder_files(ctx.input_dir, spec["folder"], max_jobs)]
    joined = _joined(spec, template, max_jobs, ctx, files, param)
    rows = []
    for i, (name, value, _) in enumerate(files):
        number, values = joined.get(i, (None, {}))
        coords: dict[str, Any] = {"source": "images", "index": i, "file": name}
        if number is not None:
            coords["row"] = number
        rows.append(Row({**values, param: value}, coords))
    return rows


def _joined(spec: Mapping[str, Any], template: Template, max_jobs: int, ctx: SourceContext, files: list[tuple[str, Any, Any]],
            param: str) -> dict[int, tuple[int, dict[str, Any]]]:
    """image index → (table row number, values) of the per-image table, matched on the file name (or upload id)."""
    table = spec.get("table")
    if table is None:
        return {}
    key = spec.get("match") or "file"
    by_name: dict[str, list[int]] = {}
    for i, (name, _, upload_id) in enumerate(files):
        by_name.setdefault(name, []).append(i)
        if upload_id is not None:
            by_name.setdefault(upload_id, []).append(i)
    out: dict[int, tuple[int, dict[str, Any]]] = {}
    for number, cell, values in tables.read_keyed_rows(table_spec(table, ctx, "images.table"), template, max_jobs, key):
        if param in values:
            raise bad_request("invalid_table_column", f"images.table sets {param!r}, the parameter the images go to; leave that column out",
                              column=param)
        name = str(cell).strip()
        targets = by_name.get(name)
        if not targets:
            raise bad_request("invalid_table_value", f"row {number}, column {key!r}: {name[:80]!r} is not one of the images "
                              f"(e.g. {files[0][0]!r})", row=number, column=key)
        for i in targets:
            if i in out:
                raise bad_request("invalid_table_value", f"row {number}, column {key!r}: {name[:80]!r} already has a row ({out[i][0]})",
                                  row=number, column=key)
            out[i] = (number, values)
    return out
