"""THE route table: every operation of /batchgen/v1. The aiohttp routes and the OpenAPI document are both made from it."""

from __future__ import annotations

from ..batchgen import api_export as export_models
from ..batchgen import api_models as q
from ..batchgen import api_remote as remote
from ..batchgen import api_responses as r
from ..batchgen import api_settings as st
from ..batchgen import api_uploads as up
from ..batchgen import api_webhooks as wh
from . import batches, export, health, settings, stream, templates, thumbs, tokens, uploads, webhooks
from .table import CONTROL_BODY_LIMIT, Route

BATCH_ID = {"batch_id": {"description": "Batch id (32 hex characters).", "schema": {"type": "string"}}}
JOB_ID = {"job_id": {"description": "Job id: ASCII digits only; anything else is a 404.",
                     "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
TOKEN_ID = {"token_id": {"description": "Token id (from GET /tokens).", "schema": {"type": "string"}}}
WEBHOOK_ID = {"webhook_id": {"description": "Webhook id (wh_…, from GET /webhooks).", "schema": {"type": "string"}}}
TEMPLATE_ID = {"template_id": {"description": "Template id.", "schema": {"type": "string"}}}
UPLOAD_ID = {"upload_id": {"description": "Upload id (32 hex characters).", "schema": {"type": "string"}}}
NO_UPLOAD = {404: ("upload_not_found",)}
UPLOADS_OFF = {503: ("uploads_unavailable",)}

NO_BATCH = {404: ("batch_not_found",)}
FINISHED = {409: ("batch_finished",)}
TEMPLATE_ERRORS = ("missing_template", "invalid_template", "invalid_workflow", "invalid_binding", "unbound_parameter",
                   "invalid_param_value", "invalid_seed", "workflow_invalid", "invalid_name", "invalid_priority",
                   "invalid_max_attempts", "invalid_params", "invalid_idempotency_key")
CREATE_ERRORS = {
    400: (*TEMPLATE_ERRORS, "invalid_prompts", "invalid_jobs", "invalid_matrix", "invalid_repeat", "invalid_table",
          "invalid_table_column", "invalid_table_value", "invalid_wildcards", "invalid_wildcard", "wildcard_not_found",
          "invalid_images"),
    404: ("template_not_found",),
    413: ("too_many_jobs", "table_too_large"),
    422: ("empty_batch", "value_too_long", "image_not_found", "idempotency_key_reused", "upload_not_found", "wrong_upload_kind",
          "image_folder_not_found", "no_input_dir"),
}
GENERATE_ERRORS = {**CREATE_ERRORS, 400: (*TEMPLATE_ERRORS, "invalid_prompt_text", "not_a_single_job")}
# A preview answers 200 with the submission's problems in its body; only a body it cannot read is an error.
PREVIEW_ERRORS = {400: (*TEMPLATE_ERRORS, "invalid_prompts", "invalid_jobs", "invalid_matrix", "invalid_repeat", "invalid_table",
                        "invalid_wildcards", "invalid_images", "invalid_pagination"), 404: ("template_not_found",)}
UPLOAD_ERRORS = {
    400: ("invalid_multipart", "missing_file", "empty_upload", "invalid_file_name", "invalid_image", "invalid_table",
          "invalid_table_value"),
    409: ("no_input_dir",),
    413: ("upload_too_large", "image_too_large", "table_too_large"),
    415: ("unsupported_upload_type",),
    **UPLOADS_OFF,
}
CONTROL = "Send {} (or an empty body) with Content-Type: application/json; without it the answer is 415."


def control(action: str, handler, summary: str, description: str, errors: dict, response=r.Batch, body=q.EmptyBody) -> Route:
    """POST /batches/{batch_id}/<action>."""
    return Route("POST", f"/batches/{{batch_id}}/{action}", handler, f"{action}Batch", summary, "batches", "submit",
                 {200: response}, {**NO_BATCH, **errors}, body=body, body_required=body is not q.EmptyBody,
                 description=f"{description} {CONTROL}", body_limit=CONTROL_BODY_LIMIT, path_params=BATCH_ID)


WEBHOOK_ERRORS = {400: ("invalid_webhook_url", "invalid_webhook_events", "invalid_description"), 409: ("too_many_webhooks",),
                  422: ("webhook_target_not_allowed",), 503: ("webhooks_unavailable",), 507: ("webhook_not_saved",)}
NO_WEBHOOK = {404: ("webhook_not_found",), 503: ("webhooks_unavailable",)}
SIGNED = ("Each event is POSTed as JSON {type, timestamp, data} with the Standard Webhooks headers webhook-id (evt_<seq>, "
          "stable across retries), webhook-timestamp and webhook-signature (v1,<HMAC-SHA256>). The secret is answered once.")
WEBHOOK_ROUTES: list[Route] = [
    Route("POST", "/webhooks", webhooks.create_webhook, "createWebhook", "Create a signed webhook (global, or for one batch)",
          "webhooks", "admin", {201: wh.WebhookCreated}, {**WEBHOOK_ERRORS, 400: (*WEBHOOK_ERRORS[400], "invalid_batch"), **NO_BATCH},
          body=wh.WebhookRequest, body_limit=CONTROL_BODY_LIMIT,
          description=f"Without batch: every batch's events from now on. With batch: that batch's events from its first. {SIGNED}"),
    Route("GET", "/webhooks", webhooks.list_webhooks, "listWebhooks", "List webhooks (never their secrets)", "webhooks", "admin",
          {200: wh.WebhookList}, {503: ("webhooks_unavailable",)}),
    Route("GET", "/webhooks/{webhook_id}", webhooks.get_webhook, "getWebhook", "One webhook", "webhooks", "admin",
          {200: wh.WebhookInfo}, NO_WEBHOOK, path_params=WEBHOOK_ID),
    Route("DELETE", "/webhooks/{webhook_id}", webhooks.delete_webhook, "deleteWebhook", "Delete a webhook (deliveries stop)",
          "webhooks", "admin", {200: wh.WebhookInfo}, NO_WEBHOOK, path_params=WEBHOOK_ID),
    Route("POST", "/webhooks/{webhook_id}/enable", webhooks.enable_webhook, "enableWebhook",
          "Deliver again to a webhook disabled after failing too long", "webhooks", "admin", {200: wh.WebhookInfo}, NO_WEBHOOK,
          body=q.EmptyBody, body_required=False, body_limit=CONTROL_BODY_LIMIT, path_params=WEBHOOK_ID,
          description="Clears disabled_at and the failure streak; delivery goes on from the cursor (nothing was skipped while "
                      "it was disabled). An enabled webhook is answered unchanged."),
    Route("POST", "/webhooks/{webhook_id}/ping", webhooks.ping_webhook, "pingWebhook", "Send a signed test message now",
          "webhooks", "admin", {200: wh.Delivery}, {**NO_WEBHOOK, 409: ("webhook_secret_missing",)}, body=q.EmptyBody,
          body_required=False, body_limit=CONTROL_BODY_LIMIT, path_params=WEBHOOK_ID,
          description="POSTs {type: webhook.ping, timestamp, data: {webhook_id, message}} to the webhook's URL, signed like every "
                      "event (webhook-id ping_<ms>), after the same target check, and answers the attempt (200 also when the "
                      "receiver failed: see ok, status_code, error). The attempt is listed with the deliveries (event_seq 0); the "
                      "cursor and counters do not change."),
    Route("GET", "/webhooks/{webhook_id}/deliveries", webhooks.list_deliveries, "listWebhookDeliveries",
          "A webhook's delivery attempts, newest first", "webhooks", "admin", {200: wh.DeliveryList},
          {**NO_WEBHOOK, 400: ("invalid_pagination",)}, query=wh.DeliveriesQuery, path_params=WEBHOOK_ID,
          description="Every attempt: event seq and type, attempt number, time, duration, HTTP status, error. The newest 2,000 "
                      "per webhook are kept."),
    Route("POST", "/batches/{batch_id}/webhooks", webhooks.create_batch_webhook, "createBatchWebhook",
          "Create a signed webhook for this batch", "webhooks", "submit", {201: wh.WebhookCreated}, {**WEBHOOK_ERRORS, **NO_BATCH},
          body=wh.BatchWebhookRequest, body_limit=CONTROL_BODY_LIMIT, path_params=BATCH_ID,
          description=f"The batch's events from its first (none is missed when it is created right after POST /batches); "
                      f"removed with the batch. Scope submit, so the submitter can ask for its own callback. {SIGNED}"),
    Route("GET", "/batches/{batch_id}/webhooks", webhooks.list_batch_webhooks, "listBatchWebhooks", "This batch's webhooks",
          "webhooks", "submit", {200: wh.WebhookList}, {**NO_BATCH, 503: ("webhooks_unavailable",)}, path_params=BATCH_ID),
]

ROUTES: list[Route] = [
    Route("GET", "/health", health.health, "getHealth", "Database, dispatcher and ComfyUI queue state", "service", "read",
          {200: r.Health}, needs_store=False),
    Route("GET", "/openapi.json", health.openapi, "getOpenapi", "This document (generated from the route table)", "service", "read",
          {200: r.OpenApiDocument}, needs_store=False),
    Route("GET", "/templates", templates.list_templates, "listTemplates", "Bundled and user templates", "templates", "read",
          {200: r.TemplateList}, needs_store=False),
    Route("POST", "/templates", templates.create_template, "createTemplate", "Validate and save a user template", "templates", "admin",
          {201: r.Template}, {400: ("missing_workflow", "invalid_template_id", "invalid_template", "invalid_workflow", "invalid_binding",
                                    "invalid_editor_workflow", "workflow_invalid"), 409: ("template_exists", "no_user_dir"),
                                    507: ("template_not_saved",)},
          body=q.TemplateRequest, needs_store=False,
          description="ComfyUI validates the workflow with the parameters' defaults. 409 if the id exists (send replace: true) "
                      "or names a bundled template. editor_workflow (the editor-format graph) is kept and answered by GET."),
    Route("GET", "/templates/{template_id}", templates.get_template, "getTemplate", "One template with its workflow", "templates",
          "read", {200: r.Template}, {404: ("template_not_found",)}, needs_store=False, path_params=TEMPLATE_ID),
    Route("POST", "/batches", batches.create_batch, "createBatch", "Create a batch", "batches", "submit",
          {201: r.Batch, 200: r.Batch}, CREATE_ERRORS, body=q.BatchRequest, idempotency_key=True, rate_limited=True, bulk=True,
          description="Expands the rows, checks every value, validates each parameter shape with ComfyUI, stores all jobs as pending "
                      "and returns at once (201; 200 when replayed with the same Idempotency-Key)."),
    Route("POST", "/batches/preview", batches.preview_batch, "previewBatch", "Dry run: expand and check a batch without storing it",
          "batches", "submit", {200: r.Preview}, PREVIEW_ERRORS, body=q.BatchRequest, query=q.PreviewQuery, needs_store=False,
          rate_limited=True, bulk=True,
          description="Takes the body of POST /batches. Runs the same expansion and checks (values, images, ComfyUI validation) "
                      "and answers 200 with the job count, the first ?rows= jobs (default 20) with their values and coords, "
                      "the bindings used and the problems: the first problem is what the submission would answer. "
                      "Nothing is stored or queued. No ETA yet."),
    Route("GET", "/batches", batches.list_batches, "listBatches", "List batches, newest first", "batches", "read",
          {200: r.BatchList}, {400: ("invalid_pagination", "invalid_status", "invalid_search")}, query=q.BatchListQuery,
          description="?q= keeps the batches whose name contains the text, in any case (the tab's search box)."),
    Route("GET", "/batches/{batch_id}", batches.get_batch, "getBatch", "One batch", "batches", "read", {200: r.Batch}, NO_BATCH,
          path_params=BATCH_ID),
    Route("DELETE", "/batches/{batch_id}", batches.delete_batch, "deleteBatch", "Delete a finished batch (and its images if asked)",
          "batches", "admin", {200: r.Deleted}, {400: ("invalid_images",), **NO_BATCH, 409: ("batch_active",)}, query=q.DeleteQuery,
          path_params=BATCH_ID, description="409 batch_active unless the batch is finished. The output folder stays unless images=true."),
    Route("GET", "/batches/{batch_id}/jobs", batches.list_jobs, "listBatchJobs", "A batch's jobs in order", "batches", "read",
          {200: r.JobList}, {400: ("invalid_pagination", "invalid_status"), **NO_BATCH}, query=q.JobListQuery, path_params=BATCH_ID),
    Route("GET", "/batches/{batch_id}/manifest", export.get_manifest, "getBatchManifest", "Every job with its files' sha256, as NDJSON",
          "batches", "read", {200: export_models.ManifestRow}, NO_BATCH, path_params=BATCH_ID, stream=True,
          media_type="application/x-ndjson",
          description="One ManifestRow JSON object per line, one line per job in index order, streamed page by page. A file's "
                      "sha256 is computed once its job succeeded (or on first read) and reused while its size and mtime are "
                      "unchanged; a missing file has sha256 and bytes null. cached: ComfyUI's execution_cached said every node "
                      "that made the job's files came from its cache (null: not reported)."),
    Route("GET", "/batches/{batch_id}/export", export.get_export, "exportBatch", "The batch as a zip: images, manifests, contact sheets",
          "batches", "read", {200: export_models.ExportZip}, NO_BATCH, path_params=BATCH_ID, stream=True, media_type="application/zip",
          description="A streamed zip (flat memory, ZIP64 when needed): images/<file> for every output (stored, not recompressed), "
                      "manifest.jsonl (the rows of GET /manifest, sha256 of the bytes in the zip), manifest.csv (params as "
                      "params.<name> columns; UTF-8 with a BOM so Excel reads CJK) and contact_sheets/<file> when the batch has them. "
                      "A failure mid-stream cuts the connection (an incomplete zip never looks complete)."),
    control("cancel", batches.cancel_batch, "Cancel what has not finished",
            "Pending jobs become cancelled, queued ones leave ComfyUI's queue, a running one is interrupted. "
            "409 batch_finished if the batch is already finished.", FINISHED),
    control("pause", batches.pause_batch, "Stop feeding a batch",
            "Queued jobs go back to pending; a running job finishes. 409 batch_finished if the batch is finished.", FINISHED),
    control("resume", batches.resume_batch, "Feed a paused batch again",
            "Clears the paused flag; a batch that is not paused is answered 200 unchanged. 409 batch_finished if the batch is "
            "finished (use retry to run its failed or cancelled jobs again).", FINISHED),
    control("priority", batches.set_priority, "Change a batch's priority",
            "Takes effect at the next feed. 409 batch_finished if the batch is finished.",
            {**FINISHED, 400: ("invalid_priority",)}, body=q.PriorityRequest),
    control("retry", batches.retry_batch, "Retry failed and cancelled jobs",
            "They go back to pending (attempts keep counting); a paused or cancelled batch runs again. "
            "409 nothing_to_retry if there are none.", {409: ("nothing_to_retry",)}, response=r.RetryResult),
    Route("POST", "/generate", batches.generate, "generate", "One image: a batch of one job", "batches", "submit",
          {201: r.GenerateResult, 200: r.GenerateResult}, GENERATE_ERRORS, body=q.GenerateRequest, idempotency_key=True,
          rate_limited=True,
          description="Top-level names that are parameters of the template are taken as params (the old tool's body): "
                      "negative_prompt is params.negative and workflow_type names the template."),
    Route("GET", "/jobs/{job_id}", batches.get_job, "getJob", "One job", "jobs", "read", {200: r.Job}, {404: ("job_not_found",)},
          path_params=JOB_ID),
    Route("GET", "/jobs/{job_id}/thumb", thumbs.get_thumb, "getJobThumbnail", "A small thumbnail of a job's image (WEBP)", "jobs",
          "read", {200: export_models.Thumbnail}, {400: ("invalid_size", "invalid_output"), 404: ("job_not_found", "no_image")},
          query=q.ThumbQuery, path_params=JOB_ID, stream=True, media_type="image/webp",
          description="The job's image scaled to fit size×size (rounded up to 64, 128, 200, 256, 384 or 512), made once and kept "
                      "in memory; ETag + If-None-Match answer 304. For galleries: ComfyUI's /view?preview= re-encodes the full "
                      "image every time. 404 no_image when the job has no such image output or the file is gone."),
    Route("POST", "/jobs/{job_id}/retry", batches.retry_job, "retryJob", "Retry one failed or cancelled job", "jobs", "submit",
          {200: r.Job}, {404: ("job_not_found",), 409: ("job_not_retryable",)}, body=q.EmptyBody, body_required=False,
          body_limit=CONTROL_BODY_LIMIT, path_params=JOB_ID, description=f"409 job_not_retryable unless it failed or was cancelled. {CONTROL}"),
    Route("GET", "/events", batches.list_events, "listEvents", "Events after a sequence number (the durable event log)", "events",
          "read", {200: r.EventList}, {400: ("invalid_after", "invalid_batch", "invalid_pagination"), **NO_BATCH}, query=q.EventsQuery,
          description="Every batchgen.job / batchgen.batch event after `after`, oldest first, as sent on the websocket. "
                      "A client that reconnects asks with the last seq it saw."),
    Route("GET", "/events/stream", stream.stream_events, "streamEvents", "The event log as Server-Sent Events", "events", "read",
          {200: remote.EventStream}, {400: ("invalid_after", "invalid_batch", "invalid_last_event_id"), **NO_BATCH,
                                      429: ("too_many_streams",)}, query=remote.StreamQuery, stream=True,
          description="Every event after the Last-Event-ID header (or ?after=), then new ones as they commit, as "
                      "`id: <seq>` / `event: <type>` / `data: <JSON as in GET /events>`; a `: heartbeat` comment every 15 s. "
                      "429 too_many_streams (Retry-After) beyond BATCHGEN_MAX_STREAMS open streams."),
    Route("POST", "/uploads", uploads.create_upload, "createUpload", "Upload a table or an image (multipart/form-data)", "uploads",
          "submit", {201: up.Upload}, UPLOAD_ERRORS, form=up.UploadForm,
          description="One file per request, as the part named file (curl -F file=@prompts.csv). Images (PNG, JPEG, WEBP) are verified, "
                      "EXIF-rotated and re-encoded without metadata into ComfyUI's input folder (batchgen/<id>.png); tables (CSV, TSV, "
                      "JSONL, .xlsx) are checked and kept in our user folder. The server chooses the id and the stored name; the file "
                      "name is display text only. Limits: BATCHGEN_MAX_UPLOAD_MB, BATCHGEN_MAX_UPLOAD_MEGAPIXELS. A refused upload "
                      "leaves nothing behind."),
    Route("GET", "/uploads", uploads.list_uploads, "listUploads", "List uploads, newest first", "uploads", "read",
          {200: up.UploadList}, {400: ("invalid_pagination", "invalid_kind"), **UPLOADS_OFF}, query=up.UploadListQuery),
    Route("GET", "/uploads/{upload_id}", uploads.get_upload, "getUpload", "One upload", "uploads", "read", {200: up.Upload},
          {**NO_UPLOAD, **UPLOADS_OFF}, path_params=UPLOAD_ID),
    Route("DELETE", "/uploads/{upload_id}", uploads.delete_upload, "deleteUpload", "Delete an upload and its file", "uploads", "admin",
          {200: up.UploadDeleted}, {**NO_UPLOAD, 409: ("upload_in_use",), **UPLOADS_OFF}, path_params=UPLOAD_ID,
          description="409 upload_in_use while an unfinished batch (pending, running or paused) uses it. Unused uploads are also "
                      "deleted on their own BATCHGEN_UPLOAD_TTL_HOURS (default 168) after their last use."),
    Route("POST", "/tokens", tokens.create_token, "createToken", "Create an API token (its value is answered once)", "tokens",
          "admin", {201: remote.TokenCreated}, {400: ("invalid_name", "invalid_scope"), 507: ("token_not_saved",)},
          body=remote.TokenRequest, needs_store=False, body_limit=CONTROL_BODY_LIMIT),
    Route("GET", "/tokens", tokens.list_tokens, "listTokens", "List tokens (never their values)", "tokens", "admin",
          {200: remote.TokenList}, needs_store=False),
    Route("DELETE", "/tokens/{token_id}", tokens.revoke_token, "revokeToken", "Revoke a token", "tokens", "admin",
          {200: remote.TokenInfo}, {404: ("token_not_found",)}, needs_store=False, path_params=TOKEN_ID),
    Route("GET", "/settings", settings.get_settings, "getSettings", "Server settings: feed window and browser origins", "settings",
          "admin", {200: st.SettingsInfo}, needs_store=False,
          description="What is in effect now, with what the environment pins (BATCHGEN_WINDOW) or adds (BATCHGEN_CORS_ORIGINS)."),
    Route("PATCH", "/settings", settings.patch_settings, "updateSettings", "Change server settings without restarting ComfyUI",
          "settings", "admin", {200: st.SettingsInfo},
          {400: ("invalid_feed_window", "invalid_cors_origins", "invalid_cors_origin"), 409: ("setting_pinned",),
           507: ("settings_not_saved",)},
          body=st.SettingsPatch, needs_store=False, body_limit=CONTROL_BODY_LIMIT,
          description="Every given value is checked first; one bad value answers its error (details.field names it) and "
                      "changes nothing. Saved in settings.json beside the database, so every ComfyUI process sharing the "
                      "database follows (within about a second). The new window applies at the next feed; a smaller one "
                      "lets the prompts already queued run. A new origin is answered on its next preflight."),
    *WEBHOOK_ROUTES,
]
