"""Intake: templates and batch creation (typed request → validated jobs → one committed batch)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Mapping
from typing import Any

from . import ids
from .api_models import MAX_NAME_LENGTH, BatchRequest, GenerateRequest, InlineTemplate, TemplateRequest
from .api_parse import parse_request, unknown_field
from .errors import ApiError, bad_request, unprocessable
from .expansion import JobSpec, expand, plan, wildcard_plan
from .host import HostValidationError
from .jobscan import JobScan, scan
from .listnodes import ListContext, with_list_nodes
from .models import Batch, Job
from .preflight import missing_requirements, model_input_slots, preflight_error
from .registry import template_from_document
from .sheets import grid_description
from .source_context import SourceContext, upload_ids
from .sources import grid
from .store import NewBatch
from .templates import Template, check_template_id, materialise
from .valuecheck import check_job_values
from .wildcards import folder_loader

__all__ = ["MAX_NAME_LENGTH", "IntakeMixin", "describe_validation", "request_hash", "slugify"]

_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")
# Top-level names of POST /generate that are not template parameters (for "did you mean" hints).
_GENERATE_FIELDS = sorted(GenerateRequest.model_fields)


def slugify(name: str) -> str:
    """An ASCII folder-safe slug of a batch name."""
    return _SLUG_RE.sub("-", name).strip("-")[:40] or "batch"


def request_hash(body: Mapping[str, Any]) -> str:
    """A stable fingerprint of a request body (for idempotency-key reuse checks)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")).hexdigest()


def stored_request(req: BatchRequest) -> dict[str, Any]:
    """The request as stored with its batch: what was sent, plus the wildcard seed drawn for it."""
    out = req.model_dump(mode="json", exclude_unset=True)
    if req.wildcards is not None:
        out["wildcards"] = req.wildcards.model_dump(mode="json")
    return out


def describe_validation(error: Mapping[str, Any], node_errors: Mapping[str, Any]) -> str:
    """ComfyUI's validation failure in words: the first node error ("node 4 (CheckpointLoaderSimple) ckpt_name: ... not in []")."""
    for node_id, entry in node_errors.items():
        errs = entry.get("errors") if isinstance(entry, Mapping) else None
        if not errs:
            continue
        first = errs[0] if isinstance(errs[0], Mapping) else {"message": str(errs[0])}
        what = first.get("details") or first.get("message") or "failed validation"
        input_name = (first.get("extra_info") or {}).get("input_name") if isinstance(first.get("extra_info"), Mapping) else None
        if input_name and input_name not in str(what):
            what = f"{input_name}: {what}"
        more = sum(len(e.get("errors") or []) for e in node_errors.values() if isinstance(e, Mapping)) - 1
        suffix = f" (and {more} more error{'s' if more != 1 else ''} in details.node_errors)" if more > 0 else ""
        return f"node {node_id} ({entry.get('class_type', '?')}) {what}{suffix}"
    message = error.get("message") or "the workflow failed ComfyUI's validation"
    details = error.get("details")
    return f"{message}: {details}" if details and details not in message else message


class IntakeMixin:
    """Templates and batch creation; mixed into BatchService."""

    # -- templates -------------------------------------------------------------------------

    def resolve_template(self, ref: Any) -> Template:
        """A template id, or an inline {workflow, bindings}."""
        if ref is None:
            raise bad_request("missing_template", "give template: an id (see GET /batchgen/v1/templates) or {workflow, bindings}")
        if isinstance(ref, str):
            return self.registry.get(ref)
        if isinstance(ref, InlineTemplate):
            return template_from_document(ref.model_dump(exclude_none=True), "inline", "inline")
        if isinstance(ref, dict):
            if "workflow" not in ref:
                raise bad_request("invalid_template", "an inline template needs a workflow (API format)")
            return template_from_document(ref, "inline", "inline")
        raise bad_request("invalid_template", "template must be an id string or {workflow, bindings}")

    async def validate_template(self, template: Template, values: Mapping[str, Any] | None = None) -> None:
        """Validate the template's graph with ComfyUI's node definitions (400 workflow_invalid naming the first node error)."""
        defaults = {n: b.default for n, b in template.bindings.items() if b.default is not None}
        used = dict(values if values is not None else defaults)
        prompt = materialise(template, used, f"{ids.OUTPUT_ROOT}/_validate")
        try:
            # Not cached: every request is validated by ComfyUI once per parameter shape (the cache is for feeding).
            await self.host.prepare(prompt, template.shape_key(used), cached=False)
        except HostValidationError as exc:
            raise ApiError(400, "workflow_invalid", describe_validation(exc.error, exc.node_errors),
                           {"comfy_error": exc.error, "node_errors": exc.node_errors}) from None

    async def create_template(self, body: TemplateRequest | Mapping[str, Any]) -> Template:
        """Validate and save a user template."""
        req = parse_request(TemplateRequest, body)
        template_id = check_template_id(req.id or slugify(req.name or "").lower())
        doc = req.model_dump(exclude_none=True, exclude={"replace"})
        template = template_from_document({**doc, "id": template_id, "name": req.name or template_id}, template_id, "user")
        missing = await self._preflight(template)
        if missing is not None:
            raise missing
        await self.validate_template(template)
        self.registry.save(template, replace=req.replace)
        return self.registry.get(template_id)

    # -- batches ---------------------------------------------------------------------------

    async def create_batch(self, body: BatchRequest | Mapping[str, Any], idempotency_key: str | None = None) -> tuple[Batch, bool]:
        """Expand, validate and store a batch; returns (batch, created)."""
        req = parse_request(BatchRequest, body, lambda: self._param_names(body))
        fingerprint, existing = await self._replayed(req, idempotency_key)
        if existing is not None:
            return existing, False
        template, list_rows = self._list_nodes(req, self.resolve_template(req.template))
        return await self._create(req, template, idempotency_key, fingerprint, list_rows)

    def _list_nodes(self, req: BatchRequest, template: Template) -> tuple[Template, list[dict[str, Any]] | None]:
        """The template with our list nodes made constants, and their rows (None without list nodes)."""
        uploads = getattr(self, "uploads", None)
        ctx = ListContext(self.host.read_input_file, folder_loader(self.wildcards_dir), uploads.input_dir if uploads is not None else None)
        return with_list_nodes(template, [f for f in ("prompts", "jobs", "table") if getattr(req, f, None) is not None], ctx)

    async def _replayed(self, req: BatchRequest | GenerateRequest, idempotency_key: str | None) -> tuple[str, Batch | None]:
        """The request's fingerprint, and the batch an earlier request with the same key made (checked before the template)."""
        # Hashing 10,000 jobs takes tens of ms: done in a thread so the event loop keeps answering meanwhile.
        fingerprint = await asyncio.to_thread(lambda: request_hash(req.model_dump(mode="json", exclude_unset=True)))
        existing = await self._replay(idempotency_key, fingerprint) if idempotency_key is not None else None
        return fingerprint, existing

    def _fill_in(self, req: BatchRequest) -> BatchRequest:
        """The request with a random wildcard seed drawn, so the stored request (and a preview's answer) reproduce the texts."""
        w = req.wildcards
        if w is not None and w.mode == "random" and w.seed is None:
            seed = wildcard_plan({"mode": "random"}).seed
            return req.model_copy(update={"wildcards": w.model_copy(update={"seed": seed})})
        return req

    async def _expand(self, req: BatchRequest, template: Template, list_rows: list[dict[str, Any]] | None = None) -> list[JobSpec]:
        """The request's jobs (the sources expanded, values typed), before any check against ComfyUI."""
        loader = folder_loader(self.wildcards_dir)
        context = await self._source_context(req)

        def run() -> list[JobSpec]:
            # Dumping the request is in the thread too: 10,000 rows take milliseconds the event loop should not spend.
            rows = req.model_dump(exclude_unset=True, exclude={"template"})
            if list_rows is not None:
                rows["jobs"] = list_rows  # the workflow's list nodes, one row per item
            if req.wildcards is not None:
                rows["wildcards"] = req.wildcards.model_dump()
            return expand(rows, template, self.config.limits, None, loader, context)

        return await asyncio.to_thread(run)

    async def _grid(self, req: BatchRequest) -> dict[str, Any] | None:
        """The grid's dimensions (titles, params, labels) stored with the batch for its contact sheets; None without axes."""
        if req.matrix is None and req.axes is None:
            return None
        body = req.model_dump(include={"matrix", "axes"}, exclude_unset=True)
        return grid_description(await asyncio.to_thread(grid, body, self.config.limits.max_jobs))

    async def _plan(self, req: BatchRequest, template: Template, keep: int, list_rows: list[dict[str, Any]] | None = None) -> JobScan:
        """(Preview.) The request's jobs scanned once in a thread without keeping them: count, first ``keep`` jobs, what checks need."""
        loader = folder_loader(self.wildcards_dir)
        context = await self._source_context(req)

        def run() -> JobScan:
            body = req.model_dump(exclude_unset=True, exclude={"template"})
            if req.wildcards is not None:
                body["wildcards"] = req.wildcards.model_dump()
            if list_rows is not None:
                body["jobs"] = list_rows  # the workflow's list nodes, one row per item
            return scan(plan(body, template, self.config.limits, None, loader, context).scanning(keep), list(template.bindings), keep)

        return await asyncio.to_thread(run)

    async def _source_context(self, req: BatchRequest) -> SourceContext:
        """The uploads the request names (looked up now: expansion runs in a thread) and the input folder."""
        uploads = getattr(self, "uploads", None)
        if uploads is None:
            return SourceContext()
        names = upload_ids(req.model_dump(include={"table", "images"}, exclude_unset=True))
        return SourceContext(await uploads.resolve(names) if names else {}, uploads.input_dir)

    async def _check(self, template: Template, jobs: list[JobSpec] | JobScan, every: bool = False) -> list[ApiError]:
        """The checks a submission makes after expanding, in order; the problems found (the first is what a submission answers).

        Preflight (missing node types and model files) comes first. When it fails, the per-value checks skip the inputs it
        named and ComfyUI's own validation is not asked: both would only repeat it, one file at a time.
        """
        problems: list[ApiError] = []
        found = jobs if isinstance(jobs, JobScan) else await asyncio.to_thread(scan, jobs, list(template.bindings))
        missing = await self._preflight(template, found)
        reported: frozenset[tuple[str, str]] = frozenset()
        if missing is not None:
            problems.append(missing)
            if not every:
                return problems
            reported = model_input_slots(missing.details["missing_models"])
        steps = [self._check_images, lambda t, s: self._check_values(t, s, reported)]
        if missing is None:
            steps.append(self._validate_shapes)
        for step in steps:
            try:
                await step(template, found)
            except ApiError as exc:
                problems.append(exc)
                if not every:
                    break
        return problems

    async def _preflight(self, template: Template, found: JobScan | None = None) -> ApiError | None:
        """One 422 naming every missing node type and model file, or None."""
        host = self.host

        def run() -> ApiError | None:
            nodes, models = missing_requirements(template, found, host.node_definitions(), host.model_files,
                                                 host.model_folders(), host.node_packs())
            return preflight_error(nodes, models)

        return await asyncio.to_thread(run)

    async def _check_values(self, template: Template, found: JobScan, skip: frozenset[tuple[str, str]] = frozenset()) -> None:
        await asyncio.to_thread(check_job_values, template, found, self.host.node_definitions(), skip)

    async def _create(self, req: BatchRequest, template: Template, idempotency_key: str | None, fingerprint: str,
                      list_rows: list[dict[str, Any]] | None = None) -> tuple[Batch, bool]:
        uploads = getattr(self, "uploads", None)
        if uploads is None:
            return await self._create_held(req, template, idempotency_key, fingerprint, list_rows)
        # The uploads it names cannot be deleted between being read and the batch being committed.
        with uploads.hold(upload_ids(req.model_dump(include={"table", "images"}, exclude_unset=True))):
            return await self._create_held(req, template, idempotency_key, fingerprint, list_rows)

    async def _create_held(self, req: BatchRequest, template: Template, idempotency_key: str | None,
                           fingerprint: str, list_rows: list[dict[str, Any]] | None = None) -> tuple[Batch, bool]:
        req = self._fill_in(req)
        specs = await self._expand(req, template, list_rows)
        problems = await self._check(template, specs)
        if problems:
            raise problems[0]

        name = req.name or "batch"
        batch_id = uuid.uuid4().hex
        options: dict[str, Any] = {"seed": req.model_dump(include={"seed"}, exclude_unset=True).get("seed")}
        grid_info = await self._grid(req)
        if grid_info is not None:
            options["grid"] = grid_info  # the axis titles and labels of the contact sheets
        new = NewBatch(
            id=batch_id,
            name=name,
            template_id=template.id if template.origin != "inline" else None,
            template=template.snapshot(),
            output_subfolder=f"{ids.OUTPUT_ROOT}/{slugify(name)}-{batch_id[:8]}",
            priority=req.priority,
            max_attempts=req.max_attempts or self.config.default_max_attempts,
            options=options,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            # Dumped in a thread: a request of 10,000 rows takes milliseconds the event loop should not spend.
            request=await asyncio.to_thread(stored_request, req),
        )
        try:
            batch = await self.store.create_batch(new, specs)
        except sqlite3.IntegrityError:
            # Lost a race with a concurrent request carrying the same idempotency key.
            if idempotency_key is not None:
                existing = await self._replay(idempotency_key, fingerprint)
                if existing is not None:
                    return existing, False
            raise
        self.dispatcher.wake()
        uploads = getattr(self, "uploads", None)
        names = upload_ids(new.request) if uploads is not None else []
        if names:
            await uploads.used(names)
        return batch, True

    async def generate(self, body: GenerateRequest | Mapping[str, Any], idempotency_key: str | None = None) -> tuple[Batch, bool, Job]:
        """POST /generate: one job from params, the prompt shorthands and top-level template parameters (the old tool's body)."""
        req = parse_request(GenerateRequest, body)
        if req.template is not None and req.workflow_type is not None and req.template != req.workflow_type:
            raise bad_request("invalid_template", "give template or workflow_type (the old tool's name for it), not both")
        template = self.resolve_template(req.template if req.template is not None else req.workflow_type)
        top: dict[str, Any] = {}
        for name, value in (req.model_extra or {}).items():
            if name not in template.bindings:
                raise unknown_field(name, "", _GENERATE_FIELDS, template.bindings)
            top[name] = value
        if req.prompt is not None:
            top["prompt"] = req.prompt
        if req.negative_prompt is not None:
            top["negative"] = req.negative_prompt
        fingerprint, existing = await self._replayed(req, idempotency_key)
        if existing is not None:
            jobs, _ = await self.store.list_jobs(existing.id, limit=1)
            return existing, False, jobs[0]
        fields = req.model_dump(exclude_unset=True, include={"name", "seed", "priority", "max_attempts"})
        ref = req.template if req.template is not None else req.workflow_type
        batch_req = BatchRequest.model_validate({"template": ref, "name": req.name, **fields, "params": {**(req.params or {}), **top}})
        batch, created = await self._create(batch_req, template, idempotency_key, fingerprint)
        jobs, _ = await self.store.list_jobs(batch.id, limit=1)
        return batch, created, jobs[0]

    def _param_names(self, body: Any) -> set[str]:
        """The request template's parameter names, if it names one (for "put `width` in `params`")."""
        try:
            ref = body.get("template") if isinstance(body, Mapping) else None
            return set(self.resolve_template(ref).bindings) if isinstance(ref, str) else set()
        except Exception:
            return set()

    async def _replay(self, key: str, fingerprint: str) -> Batch | None:
        found = await self.store.find_batch_by_key(key)
        if found is None:
            return None
        batch, stored_hash = found
        if stored_hash != fingerprint:
            raise unprocessable("idempotency_key_reused", "this Idempotency-Key was used with a different request body",
                                batch_id=batch.id)
        return batch

    async def _check_images(self, template: Template, found: JobScan) -> None:
        image_params = [n for n, b in template.bindings.items() if b.type == "image"]
        if not image_params:
            return
        for name in image_params:
            values = {value for value, _ in found.distinct_values(name)[0]}
            missing = sorted(v for v in values if not self.host.input_file_exists(v))
            if missing:
                raise unprocessable("image_not_found", f"parameter {name!r}: {len(missing)} image(s) not in ComfyUI's input folder, "
                                    f"e.g. {missing[0]!r}", param=name, missing=missing[:20])

    async def _validate_shapes(self, template: Template, found: JobScan) -> None:
        # The first job of each parameter shape (found by the scan), validated in order.
        for params in found.shapes:
            await self.validate_template(template, params)
