"""The old tool's SDK calls, in idiomatic form: submit_batch_tasks, wait_for_batch, submit_single_task.

Module-level functions use a default Client built from $BATCHGEN_URL (default http://127.0.0.1:8188) and
$BATCHGEN_TOKEN; pass ``client=`` to use your own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .auth import resolve_token
from .client import Client
from .models import Batch, GenerateResult
from .watch import Progress

_default: Client | None = None


def default_client() -> Client:
    """The shared Client of the module-level functions (from the environment)."""
    global _default
    if _default is None:
        _default = Client(os.environ.get("BATCHGEN_URL", "http://127.0.0.1:8188"), resolve_token())
    return _default


def _template(template: str | None, workflow_type: str | None) -> str:
    name = template or workflow_type
    if not name:
        raise ValueError("say which template to run: template='text-card' (workflow_type= is the old name)")
    return name


def submit_batch_tasks(prompts: list[str], *, template: str | None = None, workflow_type: str | None = None,
                       client: Client | None = None, name: str | None = None, **params: Any) -> Batch:
    """One job per prompt; every other keyword is a template parameter for all of them (steps=20, width=768, …)."""
    if isinstance(prompts, str):
        raise TypeError("prompts is a list of strings; for one prompt use submit_single_task")
    c = client or default_client()
    return c.submit(_template(template, workflow_type), prompts=list(prompts), params=params or None, name=name)


def wait_for_batch(batch_id: str | Batch, *, timeout: float | None = None, on_progress: Progress | None = None,
                   client: Client | None = None) -> Batch:
    """Block until the batch is finished; returns it (status succeeded, partial, failed or cancelled)."""
    c = client or default_client()
    return c.wait(batch_id.id if isinstance(batch_id, Batch) else batch_id, timeout=timeout, on_progress=on_progress)


def submit_single_task(prompt: str, *, input_image: str | os.PathLike[str] | None = None, workflow_type: str | None = None,
                       template: str | None = None, image_param: str = "image", client: Client | None = None,
                       **params: Any) -> GenerateResult | Batch:
    """One image. ``input_image``: the name of a file in ComfyUI's input folder, or a local file to upload.

    A local file goes through POST /batchgen/v1/uploads, which only servers with the uploads feature have
    (NotAvailable otherwise); the batch then references the upload by id ({"images": {"upload": [id], "param": …}}).
    """
    c = client or default_client()
    tpl = _template(template, workflow_type)
    if input_image is not None and Path(input_image).is_file():
        uploaded = c.upload(input_image, "image")
        return c.submit(tpl, prompts=[prompt], params=params or None, images={"upload": [uploaded["id"]], "param": image_param})
    if input_image is not None:
        params[image_param] = str(input_image)
    return c.generate(tpl, prompt=prompt, params=params or None)
