"""The OpenAPI document of /batchgen/v1 (kept next to the routes it describes).

A plain dict built by small helpers; tests/api/test_openapi.py checks that every route
registered by server_routes is described here, and nothing else, and that every $ref resolves.
"""

from __future__ import annotations

from typing import Any

# Error statuses and the shared response (components/responses) describing each.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed request: invalid JSON, wrong field type, unknown parameter, failed ComfyUI validation."),
    404: ("NotFound", "The batch, job or template does not exist."),
    409: ("Conflict", "The request conflicts with the resource's current state (e.g. the batch is already finished)."),
    413: ("PayloadTooLarge", "The body or the batch is larger than the server accepts (see details.limit)."),
    415: ("UnsupportedMediaType", "State-changing requests must send Content-Type: application/json, even with an empty body."),
    422: ("UnprocessableEntity", "Well-formed but not acceptable (empty batch, text too long, missing input image, reused Idempotency-Key)."),
    500: ("InternalError", "Unexpected server error (error: internal_error); the ComfyUI log has the traceback."),
    503: ("ServiceUnavailable", "The batch database is not open or is locked by another process; retry after Retry-After seconds."),
}

_BATCH_STATUSES = ["pending", "running", "paused", "succeeded", "partial", "failed", "cancelled"]
_JOB_STATUSES = ["pending", "queued", "running", "succeeded", "failed", "cancelled"]


def _ref(name: str) -> dict[str, Any]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _param_ref(name: str) -> dict[str, Any]:
    """A reference to a component parameter."""
    return {"$ref": f"#/components/parameters/{name}"}


def _json(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    """An application/json content map."""
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, also allowing null."""
    return {**schema, "nullable": True}


def _obj(properties: dict[str, Any], required: list[str] | None = None, description: str = "", **extra: Any) -> dict[str, Any]:
    """An object schema."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def _op(op_id: str, tag: str, summary: str, ok: tuple[int, str, dict[str, Any]], errors: list[int], *,
        description: str = "", params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One operation: its success response plus the shared error responses it can return."""
    status, ok_text, ok_schema = ok
    responses: dict[str, Any] = {str(status): {"description": ok_text, "content": _json(ok_schema)}}
    for code in sorted({*errors, 500}):
        responses[str(code)] = {"$ref": f"#/components/responses/{_ERRORS[code][0]}"}
    op: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary, "responses": responses}
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = body
    return op


def _body(schema: dict[str, Any], required: bool = True, description: str = "", example: Any = None) -> dict[str, Any]:
    """A JSON request body."""
    body: dict[str, Any] = {"required": required, "content": _json(schema, example)}
    if description:
        body["description"] = description
    return body


def _control_body(description: str) -> dict[str, Any]:
    """The optional (ignored) JSON body of a control action; the Content-Type is still required."""
    return _body({"type": "object"}, required=False, description=description, example={})


def _batch_control(op_id: str, summary: str, description: str, errors: list[int],
                   schema: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST /batches/{batch_id}/<action>."""
    return {"post": _op(op_id, "batches", summary, (200, "The batch after the action.", schema or _ref("Batch")),
                        [400, 404, 413, 415, 503, *errors], description=description, params=[_param_ref("BatchId")],
                        body=body or _control_body("Send {} or nothing, with Content-Type: application/json."))}


def _error_responses() -> dict[str, Any]:
    """components/responses: one per error status, all with the Error body."""
    responses: dict[str, Any] = {}
    for code, (name, text) in _ERRORS.items():
        response: dict[str, Any] = {"description": text, "content": _json(_ref("Error"))}
        if code == 503:
            response["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
        responses[name] = response
    return responses


def _parameters() -> dict[str, Any]:
    """components/parameters."""

    def path(name: str, text: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "description": text, "schema": schema}

    def query(name: str, text: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": text, "schema": schema}

    return {
        "BatchId": path("batch_id", "Batch id (32 hex characters).", {"type": "string"}),
        "JobId": path("job_id", "Job id (an integer; anything else is a 404).", {"type": "string", "pattern": "^[0-9]+$"}),
        "TemplateId": path("template_id", "Template id.", {"type": "string"}),
        "Offset": query("offset", "Rows to skip.", {"type": "integer", "minimum": 0, "default": 0}),
        "BatchLimit": query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
        "JobLimit": query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        "BatchStatusFilter": query("status", "Comma-separated batch statuses to keep, e.g. running,paused.", {"type": "string"}),
        "JobStatusFilter": query("status", "Comma-separated job statuses to keep, e.g. failed,cancelled.", {"type": "string"}),
        "DeleteImages": query("images", "Also delete the batch's output folder (true/false, 1/0; default false).",
                              {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"}),
        "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": ("1-200 visible ASCII characters. Repeating a request with the same key and the same body returns the "
                            "batch created the first time (200 instead of 201); the same key with a different body is a 422."),
            "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
        },
    }


def _template_schemas() -> dict[str, Any]:
    """Template, Parameter, Workflow, Bindings, InlineTemplate, TemplateRequest, TemplateList."""
    any_value = {"description": "Any JSON value.", "nullable": True}
    return {
        "Workflow": {
            "type": "object",
            "description": "An API-format ComfyUI workflow ('Export (API)'): {node_id: {class_type, inputs}}. UI-format files are refused.",
            "additionalProperties": _obj({"class_type": {"type": "string"}, "inputs": {"type": "object"}}, ["class_type"]),
        },
        "Bindings": {
            "type": "object",
            "description": ("Explicit parameters: {name: 'node_id.input' | ['node_id.input', ...] | {slots, type, default}}. "
                            "Type is guessed from the current value (LoadImage → image) when not given."),
            "additionalProperties": {"oneOf": [
                {"type": "string", "example": "6.text"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
                _obj({"slots": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                      "slot": {"type": "string"},
                      "type": {"type": "string", "enum": ["text", "int", "float", "bool", "image"]},
                      "default": any_value}),
            ]},
        },
        "Parameter": _obj({
            "name": {"type": "string"},
            "type": {"type": "string", "enum": ["text", "int", "float", "bool", "image"]},
            "default": any_value,
            "slots": {"type": "array", "items": {"type": "string"}, "description": "Node inputs the value is written to, as node_id.input."},
            "source": {"type": "string", "enum": ["input_node", "explicit", "auto"],
                       "description": "BatchGen Input node, explicit bindings map, or auto-detection (in that precedence)."},
        }, ["name", "type", "default", "slots", "source"], "A named value a job can set."),
        "Template": _obj({
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "origin": {"type": "string", "enum": ["bundled", "user"]},
            "parameters": {"type": "array", "items": _ref("Parameter")},
            "workflow": _ref("Workflow"),
        }, ["id", "name", "description", "origin", "parameters"], "A workflow plus its parameters. workflow is present on "
           "GET /templates/{template_id} and POST /templates, not in the list."),
        "TemplateList": _obj({"templates": {"type": "array", "items": _ref("Template")}}, ["templates"]),
        "InlineTemplate": _obj({
            "workflow": _ref("Workflow"),
            "bindings": _ref("Bindings"),
            "autodetect": {"type": "boolean", "default": True, "description": "Guess prompt/negative/seed/size/steps/cfg/image bindings."},
            "name": {"type": "string"},
            "description": {"type": "string"},
        }, ["workflow"], "A template sent with the request instead of a saved template id."),
        "TemplateRequest": _obj({
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_\\-]{0,63}$", "description": "Defaults to a slug of name."},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "workflow": _ref("Workflow"),
            "bindings": _ref("Bindings"),
            "autodetect": {"type": "boolean", "default": True},
            "replace": {"type": "boolean", "default": False, "description": "Overwrite an existing user template with this id."},
        }, ["workflow"], "A user template to validate with ComfyUI and save."),
    }


def _batch_schemas() -> dict[str, Any]:
    """Batch, BatchCounts, Job, Output, JobError, requests and lists."""
    ts = {"type": "number", "description": "Unix time in seconds."}
    seed_spec = {"oneOf": [
        {"type": "string", "enum": ["random", "fixed", "increment"]},
        {"type": "integer", "minimum": 0, "description": "Same as {policy: fixed, base: N}."},
        _obj({"policy": {"type": "string", "enum": ["random", "fixed", "increment"]},
              "base": {"type": "integer", "minimum": 0}},
             description="policy defaults to increment when base is given, else random."),
    ], "description": "How seeds are chosen for jobs that do not set seed themselves (default random)."}
    values = {"type": "object", "additionalProperties": {"description": "A value for the template parameter of that name."}}
    template_ref = {"oneOf": [{"type": "string", "description": "A template id."}, _ref("InlineTemplate")]}
    common = {
        "name": {"type": "string", "maxLength": 200},
        "template": template_ref,
        "params": {**values, "description": "Defaults for every job (a job's own values win)."},
        "seed": seed_spec,
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000, "default": 0,
                     "description": "Higher is fed first; equal priorities share the window round-robin."},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 20,
                         "description": "Attempts for transient failures (out of memory, interrupted). Default BATCHGEN_MAX_ATTEMPTS (3)."},
    }
    counts = {s: {"type": "integer"} for s in _JOB_STATUSES}
    return {
        "Error": _obj({
            "error": {"type": "string", "description": "Stable machine-readable code, e.g. batch_not_found."},
            "message": {"type": "string", "description": "Human-readable explanation."},
            "details": {"type": "object", "additionalProperties": True, "description": "Extra facts: param, index, limit, node_errors, ..."},
        }, ["error", "message"]),
        "BatchCounts": _obj(counts, list(counts), "Number of the batch's jobs in each status."),
        "Batch": _obj({
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": _BATCH_STATUSES},
            "template_id": _nullable({"type": "string", "description": "null for an inline template."}),
            "total": {"type": "integer"},
            "counts": _ref("BatchCounts"),
            "done": {"type": "integer", "description": "Jobs in a terminal status (succeeded + failed + cancelled)."},
            "progress": {"type": "number", "minimum": 0, "maximum": 1, "description": "done / total."},
            "priority": {"type": "integer"},
            "paused": {"type": "boolean"},
            "max_attempts": {"type": "integer"},
            "output_subfolder": {"type": "string", "description": "Under ComfyUI's output folder, e.g. batchgen/cards-1a2b3c4d."},
            "created_at": ts,
            "started_at": _nullable(ts),
            "finished_at": _nullable(ts),
            "updated_at": ts,
            "elapsed_seconds": _nullable({"type": "number"}),
        }, ["id", "name", "status", "template_id", "total", "counts", "done", "progress", "priority", "paused", "max_attempts",
            "output_subfolder", "created_at", "started_at", "finished_at", "updated_at", "elapsed_seconds"]),
        "Output": _obj({
            "node_id": {"type": "string"},
            "filename": {"type": "string"},
            "subfolder": {"type": "string"},
            "type": {"type": "string", "description": "ComfyUI folder type: output, temp or input."},
            "kind": {"type": "string", "description": "Key of the node's UI output, e.g. images."},
            "path": {"type": "string", "description": "/api/view?filename=...&subfolder=...&type=... on this server."},
            "url": {"type": "string", "description": "path made absolute with the scheme and Host the request used."},
        }, ["node_id", "filename", "subfolder", "type", "kind", "path", "url"], "One file a job produced."),
        "JobError": _obj({
            "kind": {"type": "string", "description": "node_error, out_of_memory, interrupted, vanished, validation, cancelled or unknown."},
            "message": {"type": "string"},
            "node_id": _nullable({"type": "string"}),
            "node_type": _nullable({"type": "string"}),
            "exception_type": _nullable({"type": "string"}),
            "transient": {"type": "boolean", "description": "True when the failure was not the job's fault and may be retried automatically."},
        }, ["kind", "message", "node_id", "node_type", "exception_type", "transient"], "Why a job failed (or its last attempt did)."),
        "Job": _obj({
            "id": {"type": "integer"},
            "batch_id": {"type": "string"},
            "idx": {"type": "integer", "description": "Position in the batch, from 0."},
            "status": {"type": "string", "enum": _JOB_STATUSES},
            "params": {**values, "description": "The typed values this job runs with."},
            "seed": _nullable({"type": "integer", "description": "null when the template has no seed parameter."}),
            "attempts": {"type": "integer"},
            "prompt_id": _nullable({"type": "string", "description": "ComfyUI prompt id of the current or last attempt."}),
            "created_at": ts,
            "queued_at": _nullable(ts),
            "started_at": _nullable(ts),
            "finished_at": _nullable(ts),
            "outputs": {"type": "array", "items": _ref("Output")},
            "error": {"allOf": [_ref("JobError")], "nullable": True},
        }, ["id", "batch_id", "idx", "status", "params", "seed", "attempts", "prompt_id", "created_at", "queued_at", "started_at",
            "finished_at", "outputs", "error"]),
        "BatchRequest": _obj({
            **common,
            "name": {"type": "string", "maxLength": 200, "default": "batch", "description": "Also names the output folder (ASCII slug)."},
            "prompts": {"type": "array", "items": {"type": "string"}, "description": "One job per string, as the prompt parameter."},
            "jobs": {"type": "array", "items": values, "description": "One job per object {param: value}; follows prompts."},
            "matrix": {"type": "object", "additionalProperties": {"type": "array", "minItems": 1},
                       "description": "Cartesian product of the axes, combined with every prompts/jobs row (or alone)."},
            "repeat": {"type": "integer", "minimum": 1, "default": 1, "description": "Each row repeated this many times (at most 10000)."},
        }, ["template"], "A batch: template plus job rows. Without prompts, jobs and matrix it is one job of params."),
        "GenerateRequest": _obj({
            **common,
            "name": {"type": "string", "maxLength": 200, "default": "generate"},
            "prompt": {"type": "string", "description": "Shorthand for params.prompt."},
        }, ["template"], "One job; prompts, jobs, matrix and repeat are ignored."),
        "PriorityRequest": _obj({"priority": {"type": "integer", "minimum": -1000, "maximum": 1000}}, ["priority"]),
        "BatchList": _obj({"batches": {"type": "array", "items": _ref("Batch")}, "total": {"type": "integer"},
                           "limit": {"type": "integer"}, "offset": {"type": "integer"}}, ["batches", "total", "limit", "offset"]),
        "JobList": _obj({"jobs": {"type": "array", "items": _ref("Job")}, "total": {"type": "integer"},
                         "limit": {"type": "integer"}, "offset": {"type": "integer"}}, ["jobs", "total", "limit", "offset"]),
        "GenerateResult": {"allOf": [_ref("Batch"), _obj({"job": {"allOf": [_ref("Job")], "nullable": True}}, ["job"])]},
        "RetryResult": {"allOf": [_ref("Batch"), _obj({"retried": {"type": "integer", "description": "Jobs put back to pending."}},
                                                      ["retried"])]},
        "Deleted": _obj({"deleted": {"type": "string", "description": "The id of the deleted batch."},
                         "files_removed": {"type": "integer", "description": "Files deleted with the output folder (0 unless images=true)."}},
                        ["deleted", "files_removed"]),
        "Health": _obj({
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "version": {"type": "string", "description": "comfyui-batchgen version."},
            "store": _obj({"ready": {"type": "boolean"}, "path": {"type": "string"}, "last_error": _nullable({"type": "string"}),
                           "jobs": {"type": "object", "additionalProperties": {"type": "integer"}}}),
            "host": _obj({"name": {"type": "string"}, "version": {"type": "string"}, "worker_alive": _nullable({"type": "boolean"})},
                         additionalProperties=True),
            "native_queue": _obj({"running": {"type": "integer"}, "pending": {"type": "integer"}}),
            "dispatcher": _obj({"state": {"type": "string"}, "last_error": _nullable({"type": "string"}),
                                "window": {"type": "integer"}, "in_flight": {"type": "integer"}}, additionalProperties=True),
        }, ["status", "version", "store", "host", "native_queue", "dispatcher"]),
    }


def _paths() -> dict[str, Any]:
    """Every route under the API prefix."""
    batch_id, job_id = _param_ref("BatchId"), _param_ref("JobId")
    create_errors = [400, 404, 413, 415, 422, 503]
    return {
        "/health": {"get": _op("getHealth", "service", "Database, dispatcher and ComfyUI queue state",
                               (200, "Always 200; status is degraded when something is wrong.", _ref("Health")), [])},
        "/openapi.json": {"get": _op("getOpenapi", "service", "This document", (200, "OpenAPI 3.0.3 document.", {"type": "object"}), [])},
        "/templates": {
            "get": _op("listTemplates", "templates", "Bundled and user templates", (200, "Templates (without workflows).", _ref("TemplateList")), []),
            "post": _op("createTemplate", "templates", "Validate and save a user template",
                        (201, "The saved template.", _ref("Template")), [400, 409, 413, 415],
                        description="The workflow is validated by ComfyUI with the parameters' defaults. 409 if the id exists "
                                    "(send replace: true) or names a bundled template.",
                        body=_body(_ref("TemplateRequest"))),
        },
        "/templates/{template_id}": {"get": _op("getTemplate", "templates", "One template with its workflow",
                                                (200, "The template.", _ref("Template")), [404], params=[_param_ref("TemplateId")])},
        "/batches": {
            "post": _op("createBatch", "batches", "Create a batch", (201, "Created (200 when replayed with the same Idempotency-Key).",
                                                                     _ref("Batch")), create_errors,
                        description="Expands the rows, validates every distinct parameter shape with ComfyUI, stores all jobs as "
                                    "pending and returns at once; jobs are fed into ComfyUI's queue a few at a time.",
                        params=[_param_ref("IdempotencyKey")], body=_body(_ref("BatchRequest"))),
            "get": _op("listBatches", "batches", "List batches, newest first", (200, "A page of batches.", _ref("BatchList")), [400, 503],
                       params=[_param_ref("BatchLimit"), _param_ref("Offset"), _param_ref("BatchStatusFilter")]),
        },
        "/batches/{batch_id}": {
            "get": _op("getBatch", "batches", "One batch", (200, "The batch.", _ref("Batch")), [404, 503], params=[batch_id]),
            "delete": _op("deleteBatch", "batches", "Delete a finished batch's records, and its images if asked", (200, "Deleted.", _ref("Deleted")),
                          [400, 404, 409, 503], params=[batch_id, _param_ref("DeleteImages")],
                          description="409 batch_active unless the batch is in a terminal status. The output folder is kept "
                                      "unless images=true."),
        },
        "/batches/{batch_id}/jobs": {"get": _op(
            "listBatchJobs", "batches", "A batch's jobs in order", (200, "A page of jobs, by idx.", _ref("JobList")), [400, 404, 503],
            params=[batch_id, _param_ref("JobLimit"), _param_ref("Offset"), _param_ref("JobStatusFilter")])},
        "/batches/{batch_id}/cancel": _batch_control(
            "cancelBatch", "Cancel what has not finished", "Pending jobs become cancelled, queued ones leave ComfyUI's queue, a running "
            "one is interrupted. 409 batch_finished if the batch is already terminal.", [409]),
        "/batches/{batch_id}/pause": _batch_control(
            "pauseBatch", "Stop feeding a batch", "Queued jobs go back to pending; a running job finishes. 409 batch_finished if terminal.",
            [409]),
        "/batches/{batch_id}/resume": _batch_control("resumeBatch", "Feed a paused batch again", "Clears the paused flag.", []),
        "/batches/{batch_id}/priority": _batch_control(
            "setBatchPriority", "Change a batch's priority", "Takes effect at the next feed.", [],
            body=_body(_ref("PriorityRequest"), example={"priority": 10})),
        "/batches/{batch_id}/retry": _batch_control(
            "retryBatch", "Retry failed and cancelled jobs", "They go back to pending (attempts keep counting). "
            "409 nothing_to_retry if there are none.", [409], schema=_ref("RetryResult")),
        "/generate": {"post": _op(
            "generate", "batches", "One image: a batch of one job", (201, "Created (200 when replayed with the same Idempotency-Key).",
                                                                    _ref("GenerateResult")), create_errors,
            params=[_param_ref("IdempotencyKey")], body=_body(_ref("GenerateRequest")))},
        "/jobs/{job_id}": {"get": _op("getJob", "jobs", "One job", (200, "The job.", _ref("Job")), [404, 503], params=[job_id])},
        "/jobs/{job_id}/retry": {"post": _op(
            "retryJob", "jobs", "Retry one failed or cancelled job", (200, "The job, back to pending.", _ref("Job")),
            [400, 404, 409, 413, 415, 503], params=[job_id], description="409 job_not_retryable unless the job is failed or cancelled.",
            body=_control_body("Send {} or nothing, with Content-Type: application/json."))},
    }


def openapi_document(version: str) -> dict[str, Any]:
    """OpenAPI 3.0.3 description of the API."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "comfyui-batchgen",
            "version": version,
            "description": ("Batch image generation inside ComfyUI. JSON only; POST requests must send Content-Type: application/json. "
                            "Errors are {error, message, details?}. Served by ComfyUI under /batchgen/v1 and /api/batchgen/v1."),
            "license": {"name": "MIT"},
        },
        "servers": [{"url": "/batchgen/v1"}, {"url": "/api/batchgen/v1", "description": "The same routes under ComfyUI's /api prefix."}],
        "tags": [{"name": "service"}, {"name": "templates"}, {"name": "batches"}, {"name": "jobs"}],
        "paths": _paths(),
        "components": {
            "schemas": {**_template_schemas(), **_batch_schemas()},
            "parameters": _parameters(),
            "responses": _error_responses(),
        },
    }
