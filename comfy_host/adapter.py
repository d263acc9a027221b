"""ComfyHost: the Host protocol over a live ComfyUI PromptServer, composed of one part per concern."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..batchgen.host import HostInfo, PromptLookup
from ..batchgen.models import OutputFile
from . import files, models
from .history import HistoryTrimmer
from .progress import ProgressRelay, install_send_hook, job_of
from .queue import NativeQueue, on_loop
from .specs import NodeDefinitions, live_definitions


def live_folders() -> files.Folders:
    """ComfyUI's input/output/temp folders as they are now (set from the command line at startup)."""
    import folder_paths

    return files.Folders(Path(folder_paths.get_input_directory()), Path(folder_paths.get_output_directory()),
                         Path(folder_paths.get_temp_directory()))


class ComfyHost:
    """Host implementation over a live ComfyUI PromptServer."""

    def __init__(self, server: Any, history_keep: int = 20, folders: Callable[[], files.Folders] = live_folders) -> None:
        self.server = server
        self.native = NativeQueue(server)
        self.history = HistoryTrimmer(server.prompt_queue, history_keep)
        self.progress: ProgressRelay = install_send_hook(server, ProgressRelay)
        self._definitions: NodeDefinitions = live_definitions()
        self._folders = folders
        self._node_packs: Mapping[str, Any] | None = None

    # -- queue -----------------------------------------------------------------------------

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the server loop after every native queue change."""
        self.native.set_listener(callback)

    async def prepare(self, prompt: dict[str, Any], shape_key: str, *, cached: bool = True) -> list[str]:
        """Validate with ComfyUI (cached per shape unless ``cached=False``); the outputs to execute."""
        return await self.native.prepare(prompt, shape_key, cached=cached)

    def enqueue(self, prompt_id: str, prompt: dict[str, Any], outputs: list[str], client_id: str, extra: Mapping[str, Any]) -> None:
        """Put one prompt in the native queue, like POST /prompt; its progress is relayed from now on."""
        self.progress.track(prompt_id, *job_of(client_id, extra))
        try:
            self.native.enqueue(prompt_id, prompt, outputs, client_id, extra)
        except BaseException:
            self.progress.forget(prompt_id)
            raise

    def lookup(self, prompt_ids: Iterable[str]) -> dict[str, PromptLookup]:
        """Pending, running, done (with its outcome) or unknown, per prompt id."""
        return self.native.lookup(prompt_ids)

    def remove_pending(self, prompt_ids: Iterable[str]) -> set[str]:
        """Delete those of our prompts that have not started yet."""
        removed = self.native.remove_pending(prompt_ids)
        for pid in removed:
            self.progress.forget(pid)
        return removed

    def interrupt(self, prompt_id: str) -> bool:
        """Interrupt only if this prompt is the one running."""
        return self.native.interrupt(prompt_id)

    def release(self, prompt_ids: Iterable[str]) -> None:
        """Outcomes committed: stop relaying and keep only the most recent ``history_keep`` of ours in ComfyUI's history."""
        ids = list(prompt_ids)
        for pid in ids:
            self.progress.forget(pid)
        self.history.release(ids)

    def info(self) -> HostInfo:
        """ComfyUI version, native queue depth, prompt-worker liveness."""
        return self.native.info()

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Broadcast through ComfyUI's websocket (send_sync is thread-safe)."""
        messages = getattr(self.server, "messages", None)
        if messages is not None and on_loop(self.server.loop):
            # On the server loop, do what send_sync schedules (messages.put_nowait) right away: send_sync's
            # call_soon_threadsafe writes to the loop's self-pipe, a system call that hands the GIL to ComfyUI's
            # busy worker thread and waits to get it back, two or three times per job.
            messages.put_nowait((event, data, None))
        else:
            self.server.send_sync(event, data)

    def node_definitions(self) -> Mapping[str, Any]:
        """class_type → NodeDef (input specs) read from ComfyUI's node classes, cached briefly per class."""
        return self._definitions

    # -- files -----------------------------------------------------------------------------

    def find_outputs(self, prefixes: Mapping[str, str]) -> list[OutputFile] | None:
        """Complete files on disk for every saving node's prefix, or None if any node has none."""
        return files.find_outputs(self._folders().output, prefixes)

    def output_path(self, subfolder: str) -> Path | None:
        """An output subfolder's absolute path, contained in ComfyUI's output directory (contact sheets)."""
        return files.output_path(self._folders().output, subfolder)

    def delete_output_folder(self, subfolder: str) -> int:
        """Delete a batch's output subfolder; refuses anything outside <output>/batchgen/."""
        return files.delete_output_folder(self._folders().output, subfolder)

    def remove_incomplete(self, prefixes: Mapping[str, str]) -> int:
        """Delete truncated files an interrupted attempt left behind."""
        return files.remove_incomplete(self._folders().output, prefixes)

    def input_file_exists(self, name: str) -> bool:
        """True for an existing file inside the input (or annotated output/temp) folder."""
        return files.input_file_exists(self._folders(), name)

    def output_file(self, subfolder: str, filename: str, kind: str = "output") -> Path | None:
        """The resolved path of a saved output, contained in ComfyUI's output (or temp) folder; None otherwise."""
        return files.output_file(self._folders(), subfolder, filename, kind)

    def folder_files(self, subfolder: str) -> list[Path]:
        """Regular files directly inside <output>/<subfolder> (e.g. a batch's _contact_sheets), contained in the output folder."""
        return files.folder_files(self._folders(), subfolder)

    def read_input_file(self, name: str) -> bytes | None:
        """A file's bytes from the input folder (for Prompts From File nodes submitted as a batch)."""
        return files.read_input_file(self._folders(), name)

    # -- preflight -------------------------------------------------------------------------

    def model_folders(self) -> list[str]:
        """The model folder names ComfyUI knows."""
        return models.model_folders()

    def model_files(self, folder: str) -> list[str] | None:
        """The files ComfyUI lists for a model folder, or None for an unknown folder."""
        return models.model_files(folder)

    def node_packs(self) -> Mapping[str, Any]:
        """ComfyUI-Manager's class_type → pack map (read once; empty without Manager)."""
        if self._node_packs is None:
            self._node_packs = models.load_manager_map()
        return self._node_packs
