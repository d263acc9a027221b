"""The ComfyUI adapter: the only module that touches PromptServer, execution and folder_paths.

It feeds ComfyUI's native queue exactly the way ``POST /prompt`` does (``trigger_on_prompt``,
node replacements, ``validate_prompt``, the queue counter, the queue-item layout of the
running version), learns about queue changes through one hook on
``PromptServer.queue_updated``, and reads outcomes from ComfyUI's in-memory history.
"""

from __future__ import annotations

import copy
import inspect
import logging
import re
import shutil
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .batchgen import ids
from .batchgen.host import HostInfo, HostValidationError, PromptLookup, PromptState
from .batchgen.models import JobError, JobOutcome, JobStatus, OutputFile

log = logging.getLogger("batchgen.host")

_VALIDATION_CACHE_SIZE = 256
_OOM_MARKERS = ("outofmemory", "out of memory", "oom")


def _is_complete(path: Path) -> bool:
    """True if an output file was written to the end (a kill mid-write leaves a truncated file)."""
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        suffix = path.suffix.lower()
        with path.open("rb") as fh:
            if suffix == ".png":
                fh.seek(max(size - 12, 0))
                return fh.read(12)[4:8] == b"IEND"
            if suffix in (".jpg", ".jpeg"):
                fh.seek(size - 2)
                return fh.read(2) == b"\xff\xd9"
            if suffix == ".webp":
                head = fh.read(8)
                return head[:4] == b"RIFF" and int.from_bytes(head[4:8], "little") + 8 == size
        return True
    except OSError:
        return False


def parse_history_entry(entry: Mapping[str, Any]) -> JobOutcome:
    """A history entry (from PromptQueue.get_history) as our JobOutcome."""
    status = entry.get("status") or {}
    messages = status.get("messages") or []
    times: dict[str, float] = {}
    error: JobError | None = None
    for message in messages:
        if not isinstance(message, (list, tuple)) or len(message) != 2:
            continue
        event, data = message
        data = data if isinstance(data, dict) else {}
        if isinstance(data.get("timestamp"), (int, float)):
            times[event] = data["timestamp"] / 1000.0
        if event == "execution_error":
            exc_type = str(data.get("exception_type", ""))
            text = str(data.get("exception_message", "")).strip()
            oom = any(m in (exc_type + " " + text).lower().replace("_", "") for m in _OOM_MARKERS)
            error = JobError("out_of_memory" if oom else "node_error", text or exc_type or "node error",
                             str(data.get("node_id")) if data.get("node_id") is not None else None,
                             data.get("node_type"), exc_type or None, transient=oom)
        elif event == "execution_interrupted":
            error = JobError("interrupted", "the prompt was interrupted",
                             str(data.get("node_id")) if data.get("node_id") is not None else None,
                             data.get("node_type"), None, transient=True)
    started = times.get("execution_start")
    finished = times.get("execution_success") or times.get("execution_error") or times.get("execution_interrupted")
    if status.get("status_str") == "success":
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
        return JobOutcome(JobStatus.SUCCEEDED, tuple(outputs), None, started, finished)
    return JobOutcome(JobStatus.FAILED, (), error or JobError("unknown", "ComfyUI reported an error"), started, finished)


class ComfyHost:
    """Host implementation over a live ComfyUI PromptServer."""

    def __init__(self, server: Any) -> None:
        import execution  # ComfyUI's

        self.server = server
        self.queue = server.prompt_queue
        self.loop = server.loop
        self._listener: Callable[[], None] | None = None
        self._validated: OrderedDict[str, list[str]] = OrderedDict()
        # Queue items became 6-tuples (…, sensitive) in v0.3.68, together with task_done's process_item.
        self._six_tuple = "process_item" in inspect.signature(execution.PromptQueue.task_done).parameters
        self._install_queue_hook()

    # -- change notification -----------------------------------------------------------------

    def _install_queue_hook(self) -> None:
        """Wrap the server's queue_updated (called after every put/get/task_done/delete/wipe).

        The wrapper passes every argument through, calls the original first and never raises:
        ComfyUI's prompt worker has no try/except around these calls, so an exception here
        would kill it (the trap that broke task_done wrappers in v0.3.68).
        """
        original = self.server.queue_updated

        def queue_updated(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            finally:
                listener = self._listener
                if listener is not None:
                    try:
                        self.loop.call_soon_threadsafe(listener)
                    except Exception:  # loop closed at shutdown
                        pass

        self.server.queue_updated = queue_updated

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the server loop after every native queue change."""
        self._listener = callback

    # -- submit ----------------------------------------------------------------------------

    def _apply_replacements(self, prompt: dict[str, Any]) -> None:
        manager = getattr(self.server, "node_replace_manager", None)
        if manager is not None:
            manager.apply_replacements(prompt)

    async def prepare(self, prompt: dict[str, Any], shape_key: str, *, cached: bool = True) -> list[str]:
        """Validate once per template shape (as POST /prompt would) and return the outputs to execute."""
        known = self._validated.get(shape_key) if cached else None
        if known is not None:
            self._validated.move_to_end(shape_key)
            return known
        import execution

        candidate = copy.deepcopy(prompt)  # validation coerces values in place
        self._apply_replacements(candidate)
        valid = await execution.validate_prompt(str(uuid.uuid4()), candidate, None)
        if not valid[0] or valid[3]:
            # ComfyUI would run the valid outputs of a partly invalid prompt; a batch rejects it, so
            # a template error is seen once at submission rather than as hundreds of incomplete jobs.
            error = valid[1] or {"type": "prompt_outputs_failed_validation", "message": "some outputs failed validation"}
            raise HostValidationError(error, valid[3] or {})
        outputs = list(valid[2])
        self._validated[shape_key] = outputs
        while len(self._validated) > _VALIDATION_CACHE_SIZE:
            self._validated.popitem(last=False)
        return outputs

    def enqueue(self, prompt_id: str, prompt: dict[str, Any], outputs: list[str], client_id: str, extra: Mapping[str, Any]) -> None:
        """Put one prompt in the native queue, like POST /prompt (same hooks, numbering and item layout)."""
        body = self.server.trigger_on_prompt({"prompt": prompt, "client_id": client_id, "extra_data": dict(extra)})
        prompt = body.get("prompt", prompt)
        self._apply_replacements(prompt)
        extra_data = dict(body.get("extra_data") or extra)
        extra_data["client_id"] = client_id
        extra_data["create_time"] = int(time.time() * 1000)
        number = self.server.number
        self.server.number += 1
        if self._six_tuple:
            self.queue.put((number, prompt_id, prompt, extra_data, outputs, {}))
        else:
            self.queue.put((number, prompt_id, prompt, extra_data, outputs))

    # -- observe ---------------------------------------------------------------------------

    def lookup(self, prompt_ids: Iterable[str]) -> dict[str, PromptLookup]:
        """Pending, running, done (with its outcome) or unknown, per prompt id."""
        running, pending = self.queue.get_current_queue_volatile()
        running_ids = {item[1] for item in running}
        pending_ids = {item[1] for item in pending}
        result: dict[str, PromptLookup] = {}
        for pid in prompt_ids:
            if pid in running_ids:
                result[pid] = PromptLookup(PromptState.RUNNING)
            elif pid in pending_ids:
                result[pid] = PromptLookup(PromptState.PENDING)
            else:
                entry = self.queue.get_history(prompt_id=pid).get(pid)
                if entry is None:
                    # It may have moved from pending to done since the snapshot: look once more.
                    running2, pending2 = self.queue.get_current_queue_volatile()
                    if any(item[1] == pid for item in running2):
                        result[pid] = PromptLookup(PromptState.RUNNING)
                        continue
                    if any(item[1] == pid for item in pending2):
                        result[pid] = PromptLookup(PromptState.PENDING)
                        continue
                    entry = self.queue.get_history(prompt_id=pid).get(pid)
                if entry is None:
                    result[pid] = PromptLookup(PromptState.UNKNOWN)
                else:
                    result[pid] = PromptLookup(PromptState.DONE, parse_history_entry(entry))
        return result

    def remove_pending(self, prompt_ids: Iterable[str]) -> set[str]:
        """Delete those of our prompts that have not started yet."""
        removed = set()
        for pid in prompt_ids:
            if self.queue.delete_queue_item(lambda item, pid=pid: item[1] == pid):
                removed.add(pid)
        return removed

    def interrupt(self, prompt_id: str) -> bool:
        """Interrupt only if this prompt is the one running (interrupts are global in ComfyUI)."""
        if hasattr(self.queue, "interrupt_if_running"):
            return bool(self.queue.interrupt_if_running(prompt_id))
        import nodes as comfy_nodes  # ComfyUI's nodes module (v0.8.0 path)

        running, _ = self.queue.get_current_queue_volatile()
        if any(item[1] == prompt_id for item in running):
            comfy_nodes.interrupt_processing()
            return True
        return False

    def info(self) -> HostInfo:
        """ComfyUI version, native queue depth, prompt-worker liveness."""
        try:
            import comfyui_version

            version = comfyui_version.__version__
        except Exception:
            version = "unknown"
        running, pending = self.queue.get_current_queue_volatile()
        worker = any("prompt_worker" in t.name for t in threading.enumerate())
        ours = sum(1 for item in list(running) + list(pending) if str((item[3] or {}).get("client_id", "")).startswith("batchgen-"))
        details = {"ours_in_queue": ours, "queue_item_size": 6 if self._six_tuple else 5}
        return HostInfo("ComfyUI", version, len(running), len(pending), worker, details)

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Broadcast through ComfyUI's websocket (send_sync is thread-safe)."""
        self.server.send_sync(event, data)

    # -- files -----------------------------------------------------------------------------

    def _attempt_files(self, prefix: str) -> tuple[str, list[Path]]:
        """(subfolder, files) that ComfyUI's savers wrote for one filename prefix."""
        import folder_paths

        root = Path(folder_paths.get_output_directory()).resolve()
        subfolder, _, base = prefix.rpartition("/")
        folder = (root / subfolder).resolve()
        if not folder.is_relative_to(root) or not folder.is_dir():
            return subfolder, []
        pattern = re.compile(re.escape(base) + r"_\d{5,}_?\.[A-Za-z0-9]+$")
        return subfolder, [p for p in sorted(folder.iterdir()) if pattern.match(p.name)]

    def find_outputs(self, prefixes: Mapping[str, str]) -> list[OutputFile] | None:
        """Complete files on disk for every saving node's prefix, or None if any node has none."""
        found: list[OutputFile] = []
        for node_id, prefix in prefixes.items():
            subfolder, files = self._attempt_files(prefix)
            complete = [p for p in files if _is_complete(p)]
            if not complete:
                return None
            found.extend(OutputFile(str(node_id), p.name, subfolder, "output") for p in complete)
        return found

    def delete_output_folder(self, subfolder: str) -> int:
        """Delete a batch's output subfolder; refuses anything outside <output>/batchgen/."""
        import folder_paths

        root = (Path(folder_paths.get_output_directory()) / ids.OUTPUT_ROOT).resolve()
        folder = (root.parent / subfolder).resolve()
        if folder == root or not folder.is_relative_to(root) or not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def remove_incomplete(self, prefixes: Mapping[str, str]) -> int:
        """Delete truncated files an interrupted attempt left behind (they would show as broken images)."""
        removed = 0
        for prefix in prefixes.values():
            for path in self._attempt_files(prefix)[1]:
                if not _is_complete(path):
                    try:
                        path.unlink()
                        removed += 1
                    except OSError:
                        pass
        return removed

    def input_file_exists(self, name: str) -> bool:
        """True for an existing file inside the input (or annotated output/temp) folder."""
        import folder_paths

        if not isinstance(name, str) or not name or "\x00" in name:
            return False
        try:
            stripped, base = folder_paths.annotated_filepath(name)
            base = base or folder_paths.get_input_directory()
            root = Path(base).resolve()
            path = (root / stripped).resolve()
            return path.is_relative_to(root) and path.is_file()
        except Exception:
            return False


def system_user_dir() -> Path:
    """<ComfyUI user dir>/__batchgen (not reachable through ComfyUI's /userdata routes)."""
    import folder_paths

    getter = getattr(folder_paths, "get_system_user_directory", None)
    if getter is not None:
        return Path(getter(ids.SYSTEM_USER_DIR_NAME))
    return Path(folder_paths.get_user_directory()) / f"__{ids.SYSTEM_USER_DIR_NAME}"


def output_directory() -> Path:
    """ComfyUI's output folder."""
    import folder_paths

    return Path(folder_paths.get_output_directory())


def comfy_running() -> bool:
    """True when imported inside a running ComfyUI server."""
    # Look, don't import: importing ComfyUI's server module outside a running ComfyUI would load all of it.
    server = sys.modules.get("server")
    prompt_server = getattr(server, "PromptServer", None)
    return getattr(prompt_server, "instance", None) is not None


def install(package_dir: Path, version: str) -> None:
    """Wire the extension into the running PromptServer: routes now, store and dispatcher at startup."""
    from server import PromptServer

    from .batchgen.config import Config
    from .batchgen.dispatcher import Dispatcher
    from .batchgen.registry import TemplateRegistry
    from .batchgen.service import BatchService
    from .batchgen.store import Store
    from .server_routes import register

    server = PromptServer.instance
    config = Config.from_env()
    user_dir = system_user_dir()
    host = ComfyHost(server)
    store = Store(user_dir / ids.DB_FILENAME, inline_reads=config.reads == "inline")
    registry = TemplateRegistry(package_dir / "workflows", user_dir / ids.TEMPLATES_DIRNAME)
    dispatcher = Dispatcher(store, host, config)
    service = BatchService(store, host, registry, dispatcher, config, version)
    register(server.routes, service)

    async def on_startup(_app: Any) -> None:
        try:
            await store.open()
            await dispatcher.start()
            log.info("[batchgen] ready: database %s, window %d", store.path, config.window)
        except Exception:
            log.exception("[batchgen] could not open the database at %s; batch routes answer 503", store.path)

    server.app.on_startup.append(on_startup)
    if config.debug:
        logging.getLogger(ids.LOGGER_NAME).setLevel(logging.DEBUG)
