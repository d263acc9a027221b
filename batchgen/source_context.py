"""What batch sources may read besides the request: uploads resolved beforehand, and ComfyUI's input folder.

Expansion runs in a worker thread and cannot query the database, so intake looks up every upload a request names
first (one read) and hands the result in here; preview and submission build it the same way, so they see the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import bad_request, unprocessable
from .tables import DATA_KEY


@dataclass(frozen=True, slots=True)
class SourceContext:
    """Uploads by id (``uploads.ResolvedUpload``) and the input folder a ``folder`` image set is listed from."""

    uploads: Mapping[str, Any] = field(default_factory=dict)
    input_dir: Path | None = None

    def upload(self, upload_id: Any, kind: str, where: str) -> Any:
        """The resolved upload of ``kind``, or a 422 naming the field."""
        found = self.uploads.get(upload_id) if isinstance(upload_id, str) else None
        if found is None:
            raise unprocessable("upload_not_found", f"{where}: no upload {str(upload_id)[:64]!r}; upload the file with "
                                "POST /batchgen/v1/uploads and use the id it answers", field=where, upload=str(upload_id)[:64])
        if found.kind != kind:
            raise unprocessable("wrong_upload_kind", f"{where}: upload {upload_id} is a {found.kind}, not a {kind}", field=where,
                                upload=upload_id)
        return found


def upload_ids(body: Mapping[str, Any]) -> list[str]:
    """Every upload id a request body (as dumped by pydantic) names, in order."""
    found: list[str] = []
    table = body.get("table")
    if isinstance(table, Mapping) and isinstance(table.get("upload"), str):
        found.append(table["upload"])
    images = body.get("images")
    if isinstance(images, Mapping):
        found += [i for i in images.get("upload") or [] if isinstance(i, str)]
        inner = images.get("table")
        if isinstance(inner, Mapping) and isinstance(inner.get("upload"), str):
            found.append(inner["upload"])
    return list(dict.fromkeys(found))


def table_spec(spec: Mapping[str, Any], ctx: SourceContext, where: str) -> Mapping[str, Any]:
    """A table spec with ``upload`` replaced by the file's bytes and, unless given, its format."""
    if spec.get("upload") is None:
        return spec
    if spec.get("text") is not None or spec.get("data_base64") is not None:
        raise bad_request("invalid_table", f"{where} needs exactly one of text, data_base64 and upload", field=where)
    found = ctx.upload(spec["upload"], "table", f"{where}.upload")
    try:
        data = found.path.read_bytes()
    except OSError:
        raise unprocessable("upload_not_found", f"{where}.upload: the file of upload {found.id} is gone; upload it again",
                            field=f"{where}.upload", upload=found.id) from None
    rest = {k: v for k, v in spec.items() if k != "upload"}
    return {**rest, "format": spec.get("format") or found.format, DATA_KEY: data}
