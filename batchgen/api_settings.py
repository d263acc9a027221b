"""Request and response models of GET/PATCH /settings: the feed window and the browser origins (batchgen/server_settings.py)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .api_models import ApiModel
from .api_responses import Reply
from .server_settings import MAX_ORIGINS, WINDOW_LIMIT

WindowValue = Literal["auto"] | Annotated[int, Field(strict=True, ge=1, le=WINDOW_LIMIT)]


class SettingsPatch(ApiModel):
    """The settings to change; a field left out stays as it is. Every value is checked before anything is saved."""

    feed_window: WindowValue | None = Field(None, description=f'"auto" (grows from 4 up to BATCHGEN_WINDOW_MAX while jobs are '
                                                              f'trivial) or 1-{WINDOW_LIMIT}: at most that many of our prompts '
                                                              "in ComfyUI's queue. 409 setting_pinned when BATCHGEN_WINDOW is set.")
    cors_origins: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=MAX_ORIGINS)] | None = Field(
        None, description="The saved browser origins, replaced as a whole: exact scheme://host[:port], checked like "
                          "BATCHGEN_CORS_ORIGINS (no *, null, path or query). Origins of the environment need not be listed.")

    codes: ClassVar[dict[str, str]] = {"feed_window": "invalid_feed_window", "cors_origins": "invalid_cors_origins"}
    hints: ClassVar[dict[str, str]] = {"feed_window": f'feed_window must be "auto" or an integer 1-{WINDOW_LIMIT}',
                                       "cors_origins": f"cors_origins must be a list of at most {MAX_ORIGINS} origin strings"}


class FeedWindowInfo(Reply):
    """How many of our prompts may sit in ComfyUI's queue."""

    value: Literal["auto"] | int = Field(description="In effect: the saved value, or BATCHGEN_WINDOW's when pinned.")
    saved: Literal["auto"] | int = Field(description="What settings.json holds (not used while pinned).")
    pinned: bool = Field(description="BATCHGEN_WINDOW is set in ComfyUI's environment: the setting cannot change the window.")
    window: int = Field(description="The window the dispatcher keeps at least (the value, or 4 for auto).")
    window_max: int = Field(description="The deepest it grows while jobs finish in milliseconds (= window unless auto).")
    window_now: int = Field(description="The depth in use right now (GET /health's dispatcher.window_now).")
    limit: int = Field(description="The largest fixed value accepted.")


class CorsOriginsInfo(Reply):
    """Browser origins our CORS answers for: both lists are allowed."""

    saved: list[str] = Field(description="Added through PATCH /settings (Settings → BatchGen → Remote access).")
    environment: list[str] = Field(description="From BATCHGEN_CORS_ORIGINS: always allowed, changed only by restarting ComfyUI.")


class SettingsInfo(Reply):
    """The server-side settings, as in effect now."""

    feed_window: FeedWindowInfo
    cors_origins: CorsOriginsInfo
