"""The one error type the domain raises for bad requests; routes turn it into JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    """A client-visible error: HTTP status, stable machine code, human message, details."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_json(self) -> dict[str, Any]:
        """The response body: {"error": code, "message": text, ...details}."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def bad_request(code: str, message: str, **details: Any) -> ApiError:
    """400: the request is malformed."""
    return ApiError(400, code, message, details)


def not_found(code: str, message: str, **details: Any) -> ApiError:
    """404: the named resource does not exist."""
    return ApiError(404, code, message, details)


def conflict(code: str, message: str, **details: Any) -> ApiError:
    """409: the request conflicts with the resource's current state."""
    return ApiError(409, code, message, details)


def too_large(code: str, message: str, **details: Any) -> ApiError:
    """413: the request is larger than we accept."""
    return ApiError(413, code, message, details)


def unprocessable(code: str, message: str, **details: Any) -> ApiError:
    """422: well-formed but semantically unacceptable."""
    return ApiError(422, code, message, details)


def unavailable(code: str, message: str, retry_after: int = 1, **details: Any) -> ApiError:
    """503: temporarily unable (e.g. database locked by another process)."""
    return ApiError(503, code, message, details, {"Retry-After": str(retry_after)})
