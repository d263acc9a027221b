"""What BatchGen Save Image writes into a PNG besides ComfyUI's prompt/workflow: the job's batch, job, row, parameters, seed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

META_KEY = "batchgen"  # the tEXt chunk (and the extra_pnginfo key the dispatcher sets for each job)
_SEED_INPUTS = ("seed", "noise_seed")

def _seed(params: Mapping[str, Any], prompt: Mapping[str, Any] | None) -> Any:
    """The job's seed parameter, else the first seed set on a sampler node of the prompt (None when there is none)."""
    if "seed" in params:
        return params["seed"]
    for node in (prompt or {}).values():
        inputs = node.get("inputs") if isinstance(node, Mapping) else None
        for key in _SEED_INPUTS:
            value = (inputs or {}).get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None

def job_record(extra_pnginfo: Mapping[str, Any] | None, prompt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """{batch_id, job_id, row, params, seed} of the BatchGen job running this prompt; None under ComfyUI's own Run."""
    meta = (extra_pnginfo or {}).get(META_KEY) if isinstance(extra_pnginfo, Mapping) else None
    if not isinstance(meta, Mapping) or "batch_id" not in meta:
        return None
    params = meta.get("params") if isinstance(meta.get("params"), Mapping) else {}
    return {"batch_id": meta["batch_id"], "job_id": meta.get("job_id"), "row": meta.get("idx"), "params": dict(params),
            "seed": _seed(params, prompt)}

def text_chunks(prompt: Mapping[str, Any] | None, extra_pnginfo: Mapping[str, Any] | None) -> dict[str, str]:
    """tEXt key → JSON text: ComfyUI's usual "prompt" and every extra_pnginfo key ("workflow"…), ours as :func:`job_record`."""
    chunks: dict[str, str] = {}
    if prompt is not None:
        chunks["prompt"] = json.dumps(prompt)
    for key, value in (extra_pnginfo or {}).items():
        if key != META_KEY:
            chunks[key] = json.dumps(value)
    record = job_record(extra_pnginfo, prompt)
    if record is not None:
        chunks[META_KEY] = json.dumps(record)  # ASCII-escaped: stays a tEXt chunk (Latin-1), as ComfyUI writes its own
    return chunks
