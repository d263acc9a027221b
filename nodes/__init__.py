"""ComfyUI V3 nodes of BatchGen, and the text-card renderer the demo node draws with.

Importing this package imports no ComfyUI code, so ``nodes.textcard`` (pure Pillow) is tested
without ComfyUI; the node classes load from ``nodes.extension`` when ComfyUI asks for them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BatchGenExtension", "NODES"]


def __getattr__(name: str) -> Any:
    """BatchGenExtension / NODES, loaded on first use (they import ComfyUI's V3 API)."""
    if name in __all__:
        from . import extension

        return getattr(extension, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
