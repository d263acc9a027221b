"""ComfyUI history entries (``PromptQueue.get_history``) read as our JobOutcome. Pure: no ComfyUI import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..batchgen.models import JobError, JobOutcome, JobStatus, OutputFile

_OOM_MARKERS = ("outofmemory", "out of memory", "oom")


def _node_id(data: Mapping[str, Any]) -> str | None:
    return str(data["node_id"]) if data.get("node_id") is not None else None


def _error_of(event: str, data: Mapping[str, Any]) -> JobError | None:
    """The JobError an execution_error / execution_interrupted message describes."""
    if event == "execution_error":
        exc_type = str(data.get("exception_type", ""))
        text = str(data.get("exception_message", "")).strip()
        # An OOM is worth another attempt (memory frees up); any other node error is not.
        oom = any(m in (exc_type + " " + text).lower().replace("_", "") for m in _OOM_MARKERS)
        return JobError("out_of_memory" if oom else "node_error", text or exc_type or "node error",
                        _node_id(data), data.get("node_type"), exc_type or None, transient=oom)
    if event == "execution_interrupted":
        return JobError("interrupted", "the prompt was interrupted", _node_id(data), data.get("node_type"), None, transient=True)
    return None


def _outputs_of(entry: Mapping[str, Any]) -> list[OutputFile]:
    outputs: list[OutputFile] = []
    for node_id, ui in (entry.get("outputs") or {}).items():
        if not isinstance(ui, dict):
            continue
        for kind, items in ui.items():
            if not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("filename"), str):
                    outputs.append(OutputFile(str(node_id), item["filename"], item.get("subfolder", ""), item.get("type", "output"), kind))
    return outputs


def parse_history_entry(entry: Mapping[str, Any]) -> JobOutcome:
    """A history entry as our JobOutcome (status, output files, error, start/finish times)."""
    status = entry.get("status") or {}
    times: dict[str, float] = {}
    error: JobError | None = None
    cached: list[str] | None = None
    for message in status.get("messages") or []:
        if not isinstance(message, (list, tuple)) or len(message) != 2:
            continue
        event, data = message
        data = data if isinstance(data, dict) else {}
        if isinstance(data.get("timestamp"), (int, float)):
            times[event] = data["timestamp"] / 1000.0
        error = _error_of(event, data) or error
        if event == "execution_cached" and isinstance(data.get("nodes"), list):
            cached = [*(cached or []), *(str(n) for n in data["nodes"])]
    started = times.get("execution_start")
    finished = times.get("execution_success") or times.get("execution_error") or times.get("execution_interrupted")
    if status.get("status_str") == "success":
        return JobOutcome(JobStatus.SUCCEEDED, tuple(_outputs_of(entry)), None, started, finished,
                          tuple(cached) if cached is not None else None)
    return JobOutcome(JobStatus.FAILED, (), error or JobError("unknown", "ComfyUI reported an error"), started, finished)
