"""comfyui-batchgen: batch image generation inside ComfyUI.

Thin entry point. Importing it outside ComfyUI (tests, tools) does nothing; inside a
running ComfyUI it registers the REST routes and the startup hook, and ComfyUI's V3
loader calls ``comfy_entrypoint`` for the nodes.
"""

from __future__ import annotations

import logging
from pathlib import Path

__version__ = "0.1.0"

WEB_DIRECTORY = "./web"

_log = logging.getLogger("batchgen")


async def comfy_entrypoint():
    """ComfyUI V3 entry point: our nodes."""
    from .nodes import BatchGenExtension

    return BatchGenExtension()


def _install_into_comfyui() -> None:
    from .comfy_host import comfy_running, install

    if comfy_running():
        install(Path(__file__).resolve().parent, __version__)


try:
    _install_into_comfyui()
except Exception:  # never break ComfyUI's startup; the log says what failed
    _log.exception("[batchgen] failed to install the batch routes")

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint", "__version__"]
