"""The OpenAPI document of /batchgen/v1 (kept next to the routes it describes)."""

from __future__ import annotations

from typing import Any


def openapi_document(version: str) -> dict[str, Any]:
    """OpenAPI 3.0 description of the API."""
    return {"openapi": "3.0.3", "info": {"title": "comfyui-batchgen", "version": version}, "paths": {}}
