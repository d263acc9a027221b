"""Errors the client raises: the server's JSON errors, and what the client itself refuses."""

from __future__ import annotations

from typing import Any

import httpx


class BatchgenError(Exception):
    """Base of every error of this package."""


class ApiError(BatchgenError):
    """The server answered an error: its HTTP status, stable code, message and details."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class NotAvailable(BatchgenError):
    """The server has no route for this yet (e.g. uploads on a server without the uploads feature)."""


class VerifyError(BatchgenError):
    """A downloaded file does not match the sha256 of the manifest."""


class TokenError(BatchgenError):
    """The token could not be read (missing file, empty file)."""


def error_from_response(resp: httpx.Response) -> ApiError:
    """The ApiError of an error response ({error, message, details} JSON, or its text)."""
    try:
        body = resp.json()
        return ApiError(resp.status_code, str(body.get("error")), str(body.get("message")), body.get("details"))
    except (ValueError, AttributeError):
        return ApiError(resp.status_code, "http_error", resp.text[:300] or resp.reason_phrase)
