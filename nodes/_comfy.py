"""The one import of ComfyUI's V3 node API.

``comfy_api.latest`` changes without notice between ComfyUI releases, so every node module
imports it from here and a future pin (e.g. ``comfy_api.v0_0_2``) is a one-line change.
"""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

__all__ = ["ComfyExtension", "io"]
