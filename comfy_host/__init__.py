"""The ComfyUI adapter: the only code that touches PromptServer, execution and folder_paths.

One module per concern: ``queue`` (validate, enqueue like POST /prompt, look up, remove,
interrupt, the queue hook), ``outcomes`` (history entries → outcomes), ``files`` (outputs on
disk, containment, input files), ``specs`` (node definitions), ``progress`` (progress relay),
``history`` (trimming ComfyUI's history), ``adapter`` (ComfyHost, the Host protocol) and
``bootstrap`` (install into the running server). Importing this package imports no ComfyUI code.
"""

from __future__ import annotations

from .bootstrap import comfy_running, install, system_user_dir

__all__ = ["comfy_running", "install", "system_user_dir"]
