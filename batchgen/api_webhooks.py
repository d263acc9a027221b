"""Request and response models of the webhook routes."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .api_models import ApiModel
from .api_responses import Reply
from .webhook_events import DEFAULT_FILTER

EventFilter = Literal["*", "job.*", "batch.*", "job.queued", "job.started", "job.succeeded", "job.failed", "job.cancelled",
                      "job.pending", "batch.completed", "batch.cancelled", "batch.deleted"]
Url = Annotated[str, Field(min_length=8, max_length=2000, description="http(s) URL the events are POSTed to. Its host must "
                           "resolve to public addresses unless BATCHGEN_WEBHOOK_ALLOW_PRIVATE / BATCHGEN_WEBHOOK_ALLOW say otherwise.")]
Events = Annotated[list[EventFilter], Field(min_length=1, max_length=20, description="Event types to receive; `job.*`, "
                   "`batch.*`, `*` for families. Default: " + ", ".join(DEFAULT_FILTER) + ".")]
Description = Annotated[str, Field(max_length=200, description="A note for people (shown in listings).")]


class BatchWebhookRequest(ApiModel):
    """A webhook for one batch (POST /batches/{batch_id}/webhooks)."""

    url: Url
    events: Events | None = None
    description: Description = ""

    codes: ClassVar[dict[str, str]] = {"url": "invalid_webhook_url", "events": "invalid_webhook_events",
                                       "description": "invalid_description"}
    hints: ClassVar[dict[str, str]] = {"url": "url must be an http(s) URL of 8-2000 characters",
                                       "events": "events must be a list of: *, job.*, batch.*, job.succeeded, job.failed, "
                                                 "job.cancelled, job.queued, job.started, job.pending, batch.completed, "
                                                 "batch.cancelled, batch.deleted",
                                       "description": "description must be at most 200 characters"}


class WebhookRequest(BatchWebhookRequest):
    """A webhook: global, or for one batch when ``batch`` is given (POST /webhooks)."""

    batch: Annotated[str, Field(min_length=1, max_length=64, description="Only this batch's events (from its first one).")] | None = None

    codes: ClassVar[dict[str, str]] = {**BatchWebhookRequest.codes, "batch": "invalid_batch"}


class DeliveriesQuery(ApiModel):
    """?limit=&before= of GET /webhooks/{webhook_id}/deliveries."""

    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    before: Annotated[int, Field(ge=1, lt=2**63, description="Only attempts with an id below this (the next page).")] | None = None

    codes: ClassVar[dict[str, str]] = {"limit": "invalid_pagination", "before": "invalid_pagination"}
    hints: ClassVar[dict[str, str]] = {"limit": "limit must be an integer from 1 to 1000", "before": "before must be an integer ≥ 1"}


class WebhookInfo(Reply):
    """A webhook as listed: never its secret."""

    id: str
    url: str
    events: list[EventFilter]
    batch_id: str | None = Field(description="null: every batch.")
    description: str
    created_at: float
    cursor: int = Field(description="Every event with a seq up to this was delivered (2xx) or is not one this webhook receives.")
    delivered: int = Field(description="Attempts answered 2xx.")
    failures: int = Field(description="Attempts that failed (non-2xx, timeout, refused target).")
    last_status: Literal["ok", "failing"] | None
    last_attempt_at: float | None
    failure_streak: int = Field(description="Attempts failed in a row since the last 2xx.")
    disabled_at: float | None = Field(description="When deliveries stopped because the streak reached "
                                      "BATCHGEN_WEBHOOK_DISABLE_AFTER attempts over BATCHGEN_WEBHOOK_DISABLE_HOURS; null: "
                                      "delivering. POST /webhooks/{id}/enable resumes from the cursor.")
    disabled_reason: str | None = Field(description="Why it was disabled, in words; null when enabled.")


class WebhookCreated(WebhookInfo):
    """A new webhook, with its signing secret: shown this once and never again."""

    secret: str = Field(description="whsec_… — the Standard Webhooks signing secret. Store it now: it cannot be shown again.")


class WebhookList(Reply):
    """Every webhook, oldest first."""

    webhooks: list[WebhookInfo]


class Delivery(Reply):
    """One delivery attempt."""

    id: int
    event_seq: int
    event_type: str
    message_id: str = Field(description="The webhook-id header sent (evt_<seq>; the same on every attempt).")
    attempt: int = Field(description="1 for the first attempt of this event by this process, then 2, 3, …")
    started_at: float
    duration_ms: float
    status_code: int | None = Field(description="null when no answer came (timeout, refused connection, refused target).")
    ok: bool
    error: str | None


class DeliveryList(Reply):
    """Attempts, newest first."""

    deliveries: list[Delivery]
