"""Request and response models of the remote-access routes: tokens and the event stream."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .api_models import ApiModel
from .api_responses import Reply

ScopeName = Literal["read", "submit", "admin"]


class TokenRequest(ApiModel):
    """A new token: who it is for and what it may do."""

    name: Annotated[str, Field(min_length=1, max_length=100, description="Who or what uses it (shown in listings).")]
    scope: ScopeName = Field(description="read < submit < admin; each includes the ones before it.")

    codes: ClassVar[dict[str, str]] = {"name": "invalid_name", "scope": "invalid_scope"}
    hints: ClassVar[dict[str, str]] = {"name": "name must be 1-100 printable characters",
                                       "scope": "scope must be read, submit or admin"}


class StreamQuery(ApiModel):
    """?after=&batch= of GET /events/stream (the Last-Event-ID header wins over after)."""

    after: Annotated[int, Field(ge=0, lt=2**63, description="Start after this seq (0: from the oldest kept).")] = 0
    batch: Annotated[str, Field(min_length=1, max_length=64, description="Only this batch's events.")] | None = None

    codes: ClassVar[dict[str, str]] = {"after": "invalid_after", "batch": "invalid_batch"}
    hints: ClassVar[dict[str, str]] = {"after": "after must be an integer ≥ 0"}


class TokenInfo(Reply):
    """A token as listed: never its value or hash."""

    id: str
    name: str
    scope: ScopeName
    created_at: float
    last_used_at: float | None = Field(description="Unix time of the last use, to the minute (null: never used).")
    revoked: bool


class TokenCreated(TokenInfo):
    """A new token, with its value: shown this once and never again."""

    token: str = Field(description="Send as Authorization: Bearer <token>. Store it now: it cannot be shown again.")


class TokenList(Reply):
    """Every token, oldest first."""

    tokens: list[TokenInfo]


class EventStream(Reply):
    """A text/event-stream: `id: <seq>`, `event: <type>`, `data: <event JSON as in GET /events>`, blank line; `:` comments are heartbeats."""
