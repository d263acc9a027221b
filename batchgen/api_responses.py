"""Typed response bodies of the REST API: they generate the OpenAPI schemas and tests check real responses against them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .api_grids import ContactSheet, Eta
from .api_models import BatchStatusName, JobStatusName


class Reply(BaseModel):
    """Base of every response model: exactly the fields listed."""

    model_config = ConfigDict(extra="forbid")


class Error(Reply):
    """Every error: a stable code, a sentence for people, and facts for programs."""

    error: str = Field(description="Stable machine-readable code, e.g. batch_not_found.")
    message: str = Field(description="What went wrong and what to change.")
    details: dict[str, Any] | None = Field(None, description="Extra facts: field, param, index, limit, node_errors, available, ...")


class BatchCounts(Reply):
    """Number of the batch's jobs in each status."""

    pending: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


class Batch(Reply):
    """A batch with its counters."""

    id: str
    name: str
    status: BatchStatusName
    template_id: str | None = Field(description="null for an inline template.")
    total: int
    counts: BatchCounts
    done: int = Field(description="succeeded + failed + cancelled.")
    progress: float = Field(ge=0, le=1, description="done / total.")
    priority: int
    paused: bool
    max_attempts: int
    output_subfolder: str = Field(description="Under ComfyUI's output folder, e.g. batchgen/cards-1a2b3c4d.")
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    elapsed_seconds: float | None
    contact_sheets: list[ContactSheet] = Field(default_factory=list, description=(
        "A grid batch's contact sheet pages (axes or matrix), made when it finishes and again after a retry; else empty."))


class Output(Reply):
    """One file a job produced."""

    node_id: str
    filename: str
    subfolder: str
    type: str = Field(description="ComfyUI folder type: output, temp or input.")
    kind: str = Field(description="Key of the node's UI output, e.g. images.")
    path: str = Field(description="/api/view?filename=...&subfolder=...&type=... on this server.")
    url: str = Field(description="path made absolute with BATCHGEN_PUBLIC_URL, or else the scheme and Host of the request.")


class JobError(Reply):
    """Why a job failed (or its last attempt did)."""

    kind: str = Field(description="node_error, out_of_memory, interrupted, vanished, validation, cancelled or unknown.")
    message: str
    node_id: str | None
    node_type: str | None
    exception_type: str | None
    transient: bool


class Job(Reply):
    """One job: its values, state and files."""

    id: int
    batch_id: str
    idx: int = Field(description="Position in the batch, from 0.")
    status: JobStatusName
    params: dict[str, Any] = Field(description="The typed values this job runs with.")
    seed: int | None = Field(description="null when the template has no seed parameter; may exceed 2^53-1 (exact in JSON, not in JavaScript).")
    attempts: int
    prompt_id: str | None
    created_at: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    outputs: list[Output]
    error: JobError | None
    coords: dict[str, Any] = Field(description='Where the job came from, e.g. {"source": "table", "row": 17}, '
                                               '{"source": "prompts", "index": 0, "axes": {"width": 1}}, {"wildcard": 3}, {"repeat": 1}.')


class BatchList(Reply):
    """A page of batches."""

    batches: list[Batch]
    total: int
    limit: int
    offset: int


class JobList(Reply):
    """A page of a batch's jobs, by idx."""

    jobs: list[Job]
    total: int
    limit: int
    offset: int


class GenerateResult(Batch):
    """The batch of one job, with the job."""

    job: Job


class RetryResult(Batch):
    """The batch after a retry, and how many jobs were put back to pending."""

    retried: int


class Deleted(Reply):
    """What DELETE removed."""

    deleted: str = Field(description="The id of the deleted batch.")
    files_removed: int = Field(description="Files deleted with the output folder (0 unless images=true).")


class Parameter(Reply):
    """A named value a job can set."""

    name: str
    type: Literal["text", "int", "float", "bool", "image"]
    default: Any = None
    slots: list[str] = Field(description="Node inputs the value is written to, as node_id.input.")
    source: Literal["input_node", "explicit", "auto"]


class ModelFile(Reply):
    """A model file a template needs (its models manifest)."""

    name: str = Field(description="File name as the loader node names it.")
    folder: str = Field(description="ComfyUI model folder it belongs in (models/<folder>/), e.g. diffusion_models.")
    url: str | None = Field(None, description="Where to download it.")
    size: int | None = Field(None, description="Size in bytes, when known.")


class NodePackNeed(Reply):
    """A node pack (or ComfyUI version) a template's node types need."""

    name: str
    url: str | None = None
    hint: str | None = None
    nodes: list[str] = Field(description="The template's node types it provides.")


class TemplateSummary(Reply):
    """A template as listed (without its workflow)."""

    id: str
    name: str
    description: str
    origin: Literal["bundled", "user"]
    parameters: list[Parameter]
    aliases: list[str] = Field(default_factory=list, description="Other names the template answers to (the old tool's workflow_type).")
    models: list[ModelFile] = Field(default_factory=list, description="Model files it needs, with folder and download URL.")
    node_packs: list[NodePackNeed] = Field(default_factory=list, description="Node packs or ComfyUI versions its node types need.")


class Template(TemplateSummary):
    """A template with its API-format workflow."""

    workflow: dict[str, Any]
    editor_workflow: dict[str, Any] | None = Field(None, description=(
        "The graph in the editor's (UI) format when the template has one (bundled templates, and user templates saved with it): "
        "load it with the editor's loadGraphData; its node ids are those of workflow."))


class TemplateList(Reply):
    """Bundled then user templates."""

    templates: list[TemplateSummary]


class StoreHealth(Reply):
    """The batch database."""

    ready: bool
    file: str = Field(description="The database file name (its folder is the ComfyUI user directory's __batchgen).")
    problem: str | None = Field(description="What is wrong, in words; the ComfyUI log has the details.")
    jobs: dict[str, int] | None = None


class HostHealth(Reply):
    """ComfyUI as the extension sees it."""

    model_config = ConfigDict(extra="allow")
    name: str
    version: str
    worker_alive: bool | None


class NativeQueue(Reply):
    """ComfyUI's own queue."""

    running: int
    pending: int


class DispatcherHealth(Reply):
    """The loop that feeds jobs into ComfyUI's queue."""

    model_config = ConfigDict(extra="allow")
    state: str
    last_error: str | None
    window: int
    in_flight: int


class Health(Reply):
    """Always 200; status is degraded when something is wrong."""

    status: Literal["ok", "degraded"]
    version: str
    store: StoreHealth
    host: HostHealth
    native_queue: NativeQueue
    dispatcher: DispatcherHealth


class Event(Reply):
    """One entry of the durable event log."""

    seq: int = Field(description="Increases by one per event, across restarts.")
    type: str = Field(description="batchgen.job, batchgen.batch, ...")
    batch_id: str | None
    job_id: int | None
    created_at: float
    data: dict[str, Any] = Field(description="The websocket payload of the event (which also carries seq).")


class EventList(Reply):
    """Events after ``after``, oldest first."""

    events: list[Event]
    last_seq: int = Field(description="Highest seq in the log now (0 if empty).")
    oldest_seq: int = Field(description="Lowest seq still kept (0 if empty); after < oldest_seq - 1 means some were trimmed.")
    has_more: bool = Field(description="More events after the last one returned: ask again with after = the last seq.")


class PreviewJob(Reply):
    """One job as the submission would store it."""

    idx: int
    params: dict[str, Any]
    seed: int | None
    coords: dict[str, Any]


class Problem(Error):
    """A problem a submission of the same body would answer with (its status and error body)."""

    status: int = Field(description="The HTTP status the submission would answer.")


class Preview(Reply):
    """A dry run: nothing was stored or queued."""

    total: int | None = Field(description="Jobs the submission would create (null if the rows could not be expanded).")
    jobs: list[PreviewJob] = Field(description="The first jobs (?rows=, default 20), in order.")
    bindings: list[Parameter] = Field(description="The template parameters the jobs set.")
    parameters: list[Parameter] = Field(default_factory=list, description=(
        "Every parameter of the template, set or not (for an inline workflow: its BatchGen Input nodes and auto-detected ones)."))
    problems: list[Problem] = Field(description="Empty when the submission would be accepted; else the first is its answer.")
    wildcards_seed: int | None = Field(description="The wildcard seed used (drawn when not given): send it to get the same texts.")
    reproducible: bool = Field(description="false when seeds are random: the submission draws them again (send seed to fix them).")
    eta: Eta = Field(description="Estimated run time from past runs of the same template here (null seconds with a reason).")


class OpenApiDocument(BaseModel):
    """The OpenAPI 3.1 document itself."""

    model_config = ConfigDict(extra="allow")
    openapi: str
