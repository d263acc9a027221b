"""What the domain needs from the host (ComfyUI), as a Protocol.

The real implementation is ``comfy_host.adapter.ComfyHost`` (the only code touching
``PromptServer``, ``execution`` and ``folder_paths``); tests use an in-memory stand-in.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .models import JobOutcome, OutputFile


class PromptState(str, enum.Enum):
    """Where a prompt id is in the host right now."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PromptLookup:
    """A prompt's state, with the outcome once it is done."""

    state: PromptState
    outcome: JobOutcome | None = None


@dataclass
class HostValidationError(Exception):
    """The host rejected a prompt: its error and per-node errors."""

    error: dict[str, Any]
    node_errors: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.error.get("message", "prompt failed validation"))


@dataclass(frozen=True, slots=True)
class HostInfo:
    """Facts about the host for /health."""

    name: str
    version: str
    queue_running: int
    queue_pending: int
    worker_alive: bool | None
    details: dict[str, Any] = field(default_factory=dict)


class Host(Protocol):
    """The host's prompt queue, files and event channel."""

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (thread-safe, on the server loop) whenever the host queue changes."""

    async def prepare(self, prompt: dict[str, Any], shape_key: str, *, cached: bool = True) -> list[str]:
        """Validate and return the output node ids to execute; raises HostValidationError.

        ``cached=True`` may reuse an earlier success for the same shape key; ``cached=False``
        always validates and neither reads nor fills that cache (intake: every request is checked).
        """

    def enqueue(self, prompt_id: str, prompt: dict[str, Any], outputs: list[str], client_id: str, extra: Mapping[str, Any]) -> None:
        """Put one prompt at the back of the host's native queue."""

    def lookup(self, prompt_ids: Iterable[str]) -> dict[str, PromptLookup]:
        """The state of each prompt id."""

    def remove_pending(self, prompt_ids: Iterable[str]) -> set[str]:
        """Remove those of the ids still pending from the native queue; returns the removed ids."""

    def interrupt(self, prompt_id: str) -> bool:
        """Interrupt the prompt if (and only if) it is running now."""

    def info(self) -> HostInfo:
        """Version, native queue depth, worker liveness."""

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Broadcast an event to the host's websocket clients."""

    def find_outputs(self, prefixes: Mapping[str, str]) -> list[OutputFile] | None:
        """Complete files already on disk for node_id → filename prefix; None unless every node has one."""

    def output_path(self, subfolder: str) -> Path | None:
        """The absolute folder of an output subfolder (it may not exist yet); None unless inside the output directory."""

    def delete_output_folder(self, subfolder: str) -> int:
        """Delete one batch's output subfolder (contained in the output directory); returns files removed."""

    def remove_incomplete(self, prefixes: Mapping[str, str]) -> int:
        """Delete truncated files (a kill mid-write) for these prefixes; returns how many."""

    def node_definitions(self) -> Mapping[str, Any]:
        """class_type → ``valuecheck.NodeDef`` (input types, min/max/step, combo options) of the host's nodes."""

    def output_file(self, subfolder: str, filename: str, kind: str = "output") -> Path | None:
        """The resolved path of a saved output, contained in the host's output (or temp) folder; None otherwise."""

    def folder_files(self, subfolder: str) -> list[Path]:
        """Regular files directly inside <output>/<subfolder>, contained in the output folder (empty when absent)."""

    def input_file_exists(self, name: str) -> bool:
        """True if ``name`` (e.g. "sub/a.png [input]") is a file in the host's input directory."""

    def read_input_file(self, name: str) -> bytes | None:
        """The bytes of a file in the host's input folder (contained, size-capped), or None when there is none."""

    def model_folders(self) -> list[str]:
        """The model folder names the host knows (checkpoints, loras, diffusion_models, …)."""

    def model_files(self, folder: str) -> list[str] | None:
        """The model files the host lists for a folder, or None when it does not know that folder."""

    def node_packs(self) -> Mapping[str, Any]:
        """class_type → ``nodepacks.NodePack`` from ComfyUI-Manager's node map when Manager is installed, else empty."""

    def release(self, prompt_ids: Iterable[str]) -> None:
        """Outcomes of these prompts are committed: the host may drop them from its history (keeping a few)."""
