"""Typed request bodies and query strings of the REST API (pydantic v2; no HTTP code here).

Each model forbids unknown fields; ``batchgen.api_parse`` turns pydantic's errors into our
``ApiError`` codes using the ``codes`` and ``hints`` class variables of the model.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .api_axes import AXES_DESCRIPTION, AxisEntry
from .errors import bad_request

MAX_NAME_LENGTH = 200
MAX_SEED = 2**64 - 1  # ComfyUI's KSampler accepts 0 … 0xffffffffffffffff

SeedPolicyName = Literal["random", "fixed", "increment"]
BatchStatusName = Literal["pending", "running", "paused", "succeeded", "partial", "failed", "cancelled"]
JobStatusName = Literal["pending", "queued", "running", "succeeded", "failed", "cancelled"]
Priority = Annotated[int, Field(strict=True, ge=-1000, le=1000)]
MaxAttempts = Annotated[int, Field(strict=True, ge=1, le=20)]
SeedInt = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED,
                               description="A fixed seed for every job (0 … 2^64-1). JavaScript reads numbers above 2^53-1 inexactly.")]
Values = dict[str, Any]


class ApiModel(BaseModel):
    """Base of every request model: unknown fields are errors; error codes per field."""

    model_config = ConfigDict(extra="forbid")
    # field → stable error code (default ``invalid_field``); field → a sentence a user can act on.
    codes: ClassVar[dict[str, str]] = {}
    hints: ClassVar[dict[str, str]] = {}
    missing_codes: ClassVar[dict[str, str]] = {}

    @classmethod
    def precheck(cls, data: dict[str, Any]) -> None:
        """Checks that need the raw object before field validation (old request shapes)."""


class SeedSpec(ApiModel):
    """An explicit seed policy and base."""

    policy: SeedPolicyName | None = Field(None, description="Defaults to increment when base is given, else random.")
    base: SeedInt | None = None


SeedField = SeedPolicyName | SeedInt | SeedSpec


class InlineTemplate(ApiModel):
    """A template sent with the request instead of a saved template id."""

    workflow: dict[str, Any] = Field(description="API-format ComfyUI workflow ('Export (API)'): {node_id: {class_type, inputs}}.")
    bindings: dict[str, Any] | None = Field(None, description="{name: 'node_id.input' | ['node_id.input', ...] | {slots, type, default}}.")
    autodetect: Annotated[bool, Field(strict=True)] = Field(True, description="Also guess prompt/negative/seed/size/steps/cfg/image.")
    name: str | None = None
    description: str | None = None


TemplateRef = Annotated[str | InlineTemplate, Field(description="A template id (GET /templates) or an inline {workflow, bindings}.")]
UploadId = Annotated[str, Field(strict=True, pattern=r"^[0-9a-f]{32}$", description="An upload id (32 hex characters).")]

class TableSource(ApiModel):
    """A table sent inline: the header row names the parameters; each data row is one job."""

    format: Literal["csv", "tsv", "jsonl", "xlsx"] = Field(
        "csv", description="csv (comma), tsv (tab), jsonl (one JSON object a line) or xlsx (first sheet; data_base64 only).")
    text: Annotated[str, Field(strict=True)] | None = Field(None, description="The table as text (give text or data_base64).")
    data_base64: Annotated[str, Field(strict=True)] | None = Field(
        None, description="The file's bytes, base64: UTF-8 (with or without BOM), UTF-16 with BOM or GBK/GB18030 are detected.")
    upload: UploadId | None = Field(None, description="The id of a table uploaded with POST /uploads (its format unless format is given).")
    encoding: Annotated[str, Field(strict=True, max_length=40)] | None = Field(
        None, description="Override the detected encoding of data_base64 or of the upload.")
    columns: dict[str, str | None] | None = Field(None, description="{column header: parameter name}; null skips the column.")


class ImageSetSource(ApiModel):
    """Every image of a list of uploads, or of a subfolder of ComfyUI's input folder, is one job for an image parameter."""

    upload: Annotated[list[UploadId], Field(min_length=1, max_length=100_000)] | None = Field(
        None, description="Upload ids of images (POST /uploads), in job order.")
    folder: Annotated[str, Field(strict=True, min_length=1, max_length=500)] | None = Field(
        None, description="A subfolder of ComfyUI's input folder: its .png/.jpg/.jpeg/.webp files in natural order (img2 before img10).")
    param: Annotated[str, Field(strict=True, max_length=200)] | None = Field(
        None, description="The image parameter the files go to; default: the template's only image parameter.")
    table: TableSource | None = Field(None, description="Per-image values: one row per image, matched by file name on the match column.")
    match: Annotated[str, Field(strict=True, min_length=1, max_length=200)] = Field(
        "file", description="The table column holding each row's file name (or upload id).")


class WildcardOptions(ApiModel):
    """How {a|b} groups and __name__ files in text values are expanded."""

    mode: Literal["combinatorial", "random"] = Field("combinatorial", description="Every combination, or count random picks per row.")
    count: Annotated[int, Field(strict=True, ge=1, le=100_000)] = Field(1, description="Random mode: variants of each row that has wildcards.")
    seed: Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)] | None = Field(
        None, description="Random mode: the same seed gives the same texts. Drawn (and stored with the batch) when left out.")


_SEED_HINT = "seed must be \"random\", \"fixed\", \"increment\", an integer from 0 to 2^64-1, or {policy, base}"
_COMMON_CODES = {"name": "invalid_name", "template": "invalid_template", "params": "invalid_params", "seed": "invalid_seed",
                 "priority": "invalid_priority", "max_attempts": "invalid_max_attempts"}
_COMMON_HINTS = {
    "name": f"name must be a string of at most {MAX_NAME_LENGTH} characters",
    "template": "template must be a template id string or {workflow, bindings}",
    "params": "params must be an object {param: value}",
    "seed": _SEED_HINT,
    "priority": "priority must be an integer from -1000 to 1000",
    "max_attempts": "max_attempts must be an integer from 1 to 20",
}
_MISSING_TEMPLATE = {"template": "missing_template"}


class BatchRequest(ApiModel):
    """A batch: a template plus job rows. Without prompts, jobs, table, matrix and axes it is one job made of params."""

    template: TemplateRef
    name: Annotated[str, Field(strict=True, max_length=MAX_NAME_LENGTH)] = Field("batch", description="Also names the output folder.")
    prompts: list[str] | None = Field(None, description="One job per string, as the prompt parameter.")
    jobs: list[Values] | None = Field(None, description="One job per object {param: value}; follows prompts.")
    table: TableSource | None = Field(None, description="One job per data row of a CSV/TSV/JSONL table; follows prompts and jobs.")
    images: ImageSetSource | None = Field(None, description="One job per image of uploads or of an input subfolder; follows table.")
    matrix: dict[str, list[Any]] | None = Field(None, description="Every combination of the axes, combined with each prompts/jobs/table row.")
    axes: Annotated[list[AxisEntry], Field(min_length=1, max_length=16)] | None = Field(None, description=AXES_DESCRIPTION)
    wildcards: WildcardOptions | None = Field(None, description="Expand {a|b}, {2::a|b} and __name__ in text values (off when absent).")
    params: Values | None = Field(None, description="Values for every job (a job's own values win). params.seed fixes every job's seed.")
    repeat: Annotated[int, Field(strict=True, ge=1)] = Field(1, description="Each row repeated this many times (at most 10000).")
    seed: SeedField | None = Field(None, description="How seeds are chosen for jobs that do not set seed themselves (default random).")
    priority: Priority = Field(0, description="Higher is fed first; equal priorities take turns.")
    max_attempts: MaxAttempts | None = Field(None, description="Attempts for transient failures; default BATCHGEN_MAX_ATTEMPTS (3).")

    codes: ClassVar[dict[str, str]] = {**_COMMON_CODES, "prompts": "invalid_prompts", "jobs": "invalid_jobs",
                                       "matrix": "invalid_matrix", "axes": "invalid_axes", "repeat": "invalid_repeat", "table": "invalid_table",
                                       "wildcards": "invalid_wildcards", "images": "invalid_images"}
    hints: ClassVar[dict[str, str]] = {**_COMMON_HINTS, "prompts": "prompts must be a list of strings",
                                       "jobs": "jobs must be a list of objects {param: value}",
                                       "matrix": "matrix must be an object {param: [values]}",
                                       "axes": 'axes must be a list of {param, values | range, labels, name} or {zip: [axis, ...]}',
                                       "repeat": "repeat must be an integer ≥ 1"}
    missing_codes: ClassVar[dict[str, str]] = _MISSING_TEMPLATE

    @classmethod
    def precheck(cls, data: dict[str, Any]) -> None:
        """The old FastAPI tool's {requests, batch_name} gets an answer that says what to send instead."""
        old = [k for k in ("requests", "batch_name") if k in data]
        if old:
            raise bad_request(
                "unknown_field",
                f"unknown field{'s' if len(old) > 1 else ''} {', '.join(f'`{k}`' for k in old)}: that is the old tool's request shape; "
                "send `jobs` (a list of {param: value}) or `prompts` (a list of strings), and `name` instead of `batch_name`",
                fields=old,
            )


class GenerateRequest(ApiModel):
    """One job. Top-level names that are parameters of the template are taken as params (the old tool's body)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {
        "description": "A parameter of the template (e.g. width, steps), as if it were in params."}})

    template: TemplateRef | None = None
    workflow_type: str | None = Field(None, description="The old tool's name for template (a template id).")
    name: Annotated[str, Field(strict=True, max_length=MAX_NAME_LENGTH)] = "generate"
    prompt: str | None = Field(None, description="Shorthand for params.prompt.")
    negative_prompt: str | None = Field(None, description="Shorthand for params.negative.")
    params: Values | None = None
    seed: SeedField | None = None
    priority: Priority = 0
    max_attempts: MaxAttempts | None = None

    codes: ClassVar[dict[str, str]] = {**_COMMON_CODES, "prompt": "invalid_prompt_text", "negative_prompt": "invalid_prompt_text",
                                       "workflow_type": "invalid_template"}
    hints: ClassVar[dict[str, str]] = {**_COMMON_HINTS, "prompt": "prompt must be a string",
                                       "negative_prompt": "negative_prompt must be a string",
                                       "workflow_type": "workflow_type must be a template id string"}

    @classmethod
    def precheck(cls, data: dict[str, Any]) -> None:
        """Row fields make more than one job: they belong to POST /batches."""
        if any(k in data for k in ("prompts", "jobs", "matrix", "axes", "repeat", "table", "images", "wildcards")):
            raise bad_request("not_a_single_job",
                              "POST /generate makes one job; use POST /batchgen/v1/batches for prompts, jobs, table, images, matrix, "
                              "axes, wildcards or repeat")


class TemplateRequest(ApiModel):
    """A user template to validate with ComfyUI and save."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")] | None = Field(None, description="Defaults to a slug of name.")
    name: str | None = None
    description: str | None = None
    workflow: dict[str, Any] = Field(description="API-format ComfyUI workflow: {node_id: {class_type, inputs}}.")
    bindings: dict[str, Any] | None = None
    autodetect: Annotated[bool, Field(strict=True)] = True
    replace: Annotated[bool, Field(strict=True)] = Field(False, description="Overwrite an existing user template with this id.")
    editor_workflow: dict[str, Any] | None = Field(None, description=(
        "The same graph in the editor's (UI) format, {nodes, links, ...}, kept beside the API graph so the template and its jobs "
        "can be opened on the canvas again. Its node ids are those of workflow."))

    codes: ClassVar[dict[str, str]] = {"id": "invalid_template_id", "name": "invalid_template", "description": "invalid_template",
                                       "workflow": "invalid_workflow", "bindings": "invalid_binding",
                                       "editor_workflow": "invalid_editor_workflow"}
    hints: ClassVar[dict[str, str]] = {"id": "template id must be 1-64 of a-z 0-9 - _ and start with a letter or digit",
                                       "workflow": "workflow must be an API-format object {node_id: {class_type, inputs}}",
                                       "editor_workflow": "editor_workflow must be an editor-format workflow object {nodes, links, ...}"}
    missing_codes: ClassVar[dict[str, str]] = {"workflow": "missing_workflow"}


class EmptyBody(ApiModel):
    """The body of a control action: {} (or nothing), sent as application/json."""


class PriorityRequest(ApiModel):
    """A batch's new priority."""

    priority: Priority

    codes: ClassVar[dict[str, str]] = {"priority": "invalid_priority"}
    hints: ClassVar[dict[str, str]] = {"priority": "give priority: an integer from -1000 to 1000"}
    missing_codes: ClassVar[dict[str, str]] = {"priority": "invalid_priority"}


# -- query strings -----------------------------------------------------------------------------

Offset = Annotated[int, Field(ge=0, lt=2**62, description="Rows to skip.")]
_PAGE_CODES = {"limit": "invalid_pagination", "offset": "invalid_pagination", "status": "invalid_status"}


class BatchListQuery(ApiModel):
    """?limit=&offset=&status=a,b&q= of GET /batches."""

    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Offset = 0
    status: list[BatchStatusName] | None = Field(None, description="Comma-separated batch statuses to keep, e.g. running,paused.")
    q: Annotated[str, Field(max_length=200)] = Field("", description="Keep batches whose name contains this text (any case).")

    codes: ClassVar[dict[str, str]] = {**_PAGE_CODES, "q": "invalid_search"}
    hints: ClassVar[dict[str, str]] = {"limit": "limit must be an integer from 1 to 500", "offset": "offset must be an integer ≥ 0",
                                       "status": "status takes pending, running, paused, succeeded, partial, failed, cancelled",
                                       "q": "q is a part of a batch name, at most 200 characters"}


class JobListQuery(ApiModel):
    """?limit=&offset=&status=a,b of GET /batches/{id}/jobs."""

    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    offset: Offset = 0
    status: list[JobStatusName] | None = Field(None, description="Comma-separated job statuses to keep, e.g. failed,cancelled.")

    codes: ClassVar[dict[str, str]] = _PAGE_CODES
    hints: ClassVar[dict[str, str]] = {"limit": "limit must be an integer from 1 to 1000", "offset": "offset must be an integer ≥ 0",
                                       "status": "status takes pending, queued, running, succeeded, failed, cancelled"}


class ThumbQuery(ApiModel):
    """?size=&output= of GET /jobs/{id}/thumb."""

    size: Annotated[int, Field(ge=16, le=512)] = Field(128, description="Longest side in pixels (16–512); rounded up to "
                                                       "64, 128, 200, 256, 384 or 512.")
    output: Annotated[int, Field(ge=0, le=1000)] = Field(0, description="Which of the job's image outputs (0: the first).")

    codes: ClassVar[dict[str, str]] = {"size": "invalid_size", "output": "invalid_output"}
    hints: ClassVar[dict[str, str]] = {"size": "size must be an integer from 16 to 512",
                                       "output": "output must be an integer from 0 to 1000"}


class PreviewQuery(ApiModel):
    """?rows= of POST /batches/preview."""

    rows: Annotated[int, Field(ge=0, le=1000)] = Field(20, description="How many of the first jobs to show.")

    codes: ClassVar[dict[str, str]] = {"rows": "invalid_pagination"}
    hints: ClassVar[dict[str, str]] = {"rows": "rows must be an integer from 0 to 1000"}


class DeleteQuery(ApiModel):
    """?images= of DELETE /batches/{id}."""

    images: Literal["true", "false", "1", "0"] = Field("false", description="Also delete the batch's output folder.")

    codes: ClassVar[dict[str, str]] = {"images": "invalid_images"}
    hints: ClassVar[dict[str, str]] = {"images": "images must be true or false"}


class EventsQuery(ApiModel):
    """?after=&batch=&limit= of GET /events."""

    after: Annotated[int, Field(ge=0, lt=2**63, description="Return events with seq greater than this (0: from the oldest kept).")] = 0
    batch: Annotated[str, Field(min_length=1, max_length=64, description="Only this batch's events.")] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100

    codes: ClassVar[dict[str, str]] = {"after": "invalid_after", "batch": "invalid_batch", "limit": "invalid_pagination"}
    hints: ClassVar[dict[str, str]] = {"after": "after must be an integer ≥ 0", "limit": "limit must be an integer from 1 to 1000"}
