"""Intake: templates and batch creation (request → validated jobs → one committed batch)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import ids
from .errors import ApiError, bad_request, unprocessable
from .expansion import JobSpec, expand
from .host import HostValidationError
from .models import Batch, Job
from .registry import template_from_document
from .store import NewBatch
from .templates import Template, check_template_id, materialise
from .valuecheck import check_job_values

if TYPE_CHECKING:
    pass

_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_NAME_LENGTH = 200


def slugify(name: str) -> str:
    """An ASCII folder-safe slug of a batch name."""
    return _SLUG_RE.sub("-", name).strip("-")[:40] or "batch"


def request_hash(body: Mapping[str, Any]) -> str:
    """A stable fingerprint of a request body (for idempotency-key reuse checks)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _int_field(body: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"invalid_{key}", f"{key} must be an integer from {low} to {high}")
    return value


class IntakeMixin:
    """Templates and batch creation; mixed into BatchService."""

    # -- templates -------------------------------------------------------------------------

    def resolve_template(self, ref: Any) -> Template:
        """A template id, or an inline {workflow, bindings}."""
        if ref is None:
            raise bad_request("missing_template", "give template: an id (see GET /batchgen/v1/templates) or {workflow, bindings}")
        if isinstance(ref, str):
            return self.registry.get(ref)
        if isinstance(ref, dict):
            if "workflow" not in ref:
                raise bad_request("invalid_template", "an inline template needs a workflow (API format)")
            return template_from_document(ref, "inline", "inline")
        raise bad_request("invalid_template", "template must be an id string or {workflow, bindings}")

    async def validate_template(self, template: Template, values: Mapping[str, Any] | None = None) -> None:
        """Validate the template's graph with ComfyUI's node definitions (400 with node errors)."""
        defaults = {n: b.default for n, b in template.bindings.items() if b.default is not None}
        used = dict(values if values is not None else defaults)
        prompt = materialise(template, used, f"{ids.OUTPUT_ROOT}/_validate")
        try:
            await self.host.prepare(prompt, template.shape_key(used))
        except HostValidationError as exc:
            raise ApiError(400, "invalid_prompt", exc.error.get("message", "the workflow failed ComfyUI's validation"),
                           {"comfy_error": exc.error, "node_errors": exc.node_errors}) from None

    async def create_template(self, body: Any) -> Template:
        """Validate and save a user template."""
        if not isinstance(body, dict):
            raise bad_request("invalid_body", "expected a JSON object")
        if not isinstance(body.get("workflow"), dict):
            raise bad_request("missing_workflow", "a template needs a workflow: the API-format graph {node_id: {class_type, inputs}}")
        template_id = check_template_id(body.get("id") or slugify(str(body.get("name", ""))).lower())
        name = body.get("name") or template_id
        template = template_from_document({**body, "id": template_id, "name": name}, template_id, "user")
        await self.validate_template(template)
        self.registry.save(template, replace=body.get("replace") is True)
        return self.registry.get(template_id)

    # -- batches ---------------------------------------------------------------------------

    async def create_batch(self, body: Any, idempotency_key: str | None = None) -> tuple[Batch, bool]:
        """Expand, validate and store a batch; returns (batch, created)."""
        if not isinstance(body, dict):
            raise bad_request("invalid_body", "expected a JSON object")
        # Hashing and expanding 10,000 jobs takes tens of ms: done in a thread so the event loop
        # (all of ComfyUI's HTTP and websocket traffic) keeps answering meanwhile.
        fingerprint = await asyncio.to_thread(request_hash, body)
        if idempotency_key is not None:
            existing = await self._replay(idempotency_key, fingerprint)
            if existing is not None:
                return existing, False
        name = body.get("name", "batch")
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise bad_request("invalid_name", f"name must be a string of at most {MAX_NAME_LENGTH} characters")
        priority = _int_field(body, "priority", 0, -1000, 1000)
        max_attempts = _int_field(body, "max_attempts", self.config.default_max_attempts, 1, 20)
        template = self.resolve_template(body.get("template"))
        specs = await asyncio.to_thread(expand, body, template, self.config.limits)
        await self._check_images(template, specs)
        await asyncio.to_thread(check_job_values, template, specs, self.host.node_definitions())
        await self._validate_shapes(template, specs)

        batch_id = uuid.uuid4().hex
        new = NewBatch(
            id=batch_id,
            name=name or "batch",
            template_id=template.id if template.origin != "inline" else None,
            template=template.snapshot(),
            output_subfolder=f"{ids.OUTPUT_ROOT}/{slugify(name)}-{batch_id[:8]}",
            priority=priority,
            max_attempts=max_attempts,
            options={"seed": body.get("seed")},
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
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
        return batch, True

    async def generate(self, body: Any, idempotency_key: str | None = None) -> tuple[Batch, bool, Job]:
        """POST /generate: one job from params (and the ``prompt`` shorthand), as a batch of one."""
        if isinstance(body, dict):
            if "prompt" in body and not isinstance(body["prompt"], str):
                raise bad_request("invalid_prompt", "prompt must be a string")
            if any(k in body for k in ("prompts", "jobs", "matrix", "repeat")):
                raise bad_request("not_a_single_job",
                                  "POST /generate makes one job; use POST /batchgen/v1/batches for prompts, jobs, matrix or repeat")
            body = {"name": "generate", **body}
            if "prompt" in body:
                params = body.get("params") or {}
                if isinstance(params, dict):
                    body["params"] = {**params, "prompt": body.pop("prompt")}
        batch, created = await self.create_batch(body, idempotency_key)
        jobs, _ = await self.store.list_jobs(batch.id, limit=1)
        return batch, created, jobs[0]

    async def _replay(self, key: str, fingerprint: str) -> Batch | None:
        found = await self.store.find_batch_by_key(key)
        if found is None:
            return None
        batch, stored_hash = found
        if stored_hash != fingerprint:
            raise unprocessable("idempotency_key_reused", "this Idempotency-Key was used with a different request body",
                                batch_id=batch.id)
        return batch

    async def _check_images(self, template: Template, specs: list[JobSpec]) -> None:
        image_params = [n for n, b in template.bindings.items() if b.type == "image"]
        if not image_params:
            return
        for name in image_params:
            values = {spec.params[name] for spec in specs if name in spec.params}
            missing = sorted(v for v in values if not self.host.input_file_exists(v))
            if missing:
                raise unprocessable("image_not_found", f"parameter {name!r}: {len(missing)} image(s) not in ComfyUI's input folder, "
                                    f"e.g. {missing[0]!r}", param=name, missing=missing[:20])

    async def _validate_shapes(self, template: Template, specs: list[JobSpec]) -> None:
        seen: set[frozenset[str]] = set()
        for spec in specs:
            shape = frozenset(spec.params)
            if shape in seen:
                continue
            seen.add(shape)
            await self.validate_template(template, spec.params)

