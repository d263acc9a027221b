"""Typed bodies of the upload routes: the multipart form (for the OpenAPI document), the query of the listing, the answers."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .api_models import ApiModel, Offset
from .api_responses import Reply

UploadKind = Literal["table", "image"]
UploadFormat = Literal["csv", "tsv", "jsonl", "xlsx", "png", "jpeg", "webp"]


class UploadForm(ApiModel):
    """multipart/form-data: one file part named file, optionally kind and format before it."""

    file: bytes = Field(json_schema_extra={"format": "binary"},
                        description="The file. Its name is kept as display text only; PNG/JPEG/WEBP images, CSV/TSV/JSONL/.xlsx tables.")
    kind: UploadKind | None = Field(None, description="table or image; found from the file's bytes when left out.")
    format: Literal["csv", "tsv", "jsonl", "xlsx"] | None = Field(
        None, description="A text table's format when its name does not say (.csv, .tsv, .jsonl); .xlsx is found from the bytes.")


class UploadListQuery(ApiModel):
    """?limit=&offset=&kind= of GET /uploads."""

    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Offset = 0
    kind: UploadKind | None = Field(None, description="Only tables or only images.")

    codes: ClassVar[dict[str, str]] = {"limit": "invalid_pagination", "offset": "invalid_pagination", "kind": "invalid_kind"}
    hints: ClassVar[dict[str, str]] = {"limit": "limit must be an integer from 1 to 500", "offset": "offset must be an integer ≥ 0",
                                       "kind": "kind takes table or image"}


class Upload(Reply):
    """An uploaded table or image. Use its id in a batch: table.upload or images.upload."""

    id: str = Field(description="Server-chosen id (32 hex characters).")
    kind: UploadKind
    format: UploadFormat
    name: str = Field(description="The original file name, cleaned, for display only (never a path on the server).")
    bytes: int = Field(description="Size stored (images: after re-encoding).")
    sha256: str = Field(description="SHA-256 of the bytes that were sent.")
    created_at: float
    last_used_at: float = Field(description="When a batch last used it; unused uploads are deleted after BATCHGEN_UPLOAD_TTL_HOURS.")
    width: int | None = Field(None, description="Images: width in pixels.")
    height: int | None = Field(None, description="Images: height in pixels.")
    image: str | None = Field(None, description="Images: the name LoadImage reads it by, e.g. batchgen/<id>.png.")
    columns: list[str] | None = Field(None, description="Tables: the column names of the header row (JSONL: the keys).")
    rows: int | None = Field(None, description="Tables: data rows.")


class UploadList(Reply):
    """A page of uploads, newest first."""

    uploads: list[Upload]
    total: int
    limit: int
    offset: int


class UploadDeleted(Reply):
    """What DELETE /uploads/{id} removed."""

    deleted: str = Field(description="The id of the deleted upload.")
