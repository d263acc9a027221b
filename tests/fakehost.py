"""An in-memory stand-in for ComfyUI's queue, worker and output folder (fast tests only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgen_ext.batchgen.host import HostInfo, HostValidationError, PromptLookup, PromptState
from batchgen_ext.batchgen.models import JobError, JobOutcome, JobStatus, OutputFile
from batchgen_ext.batchgen.valuecheck import NodeDef, normalise_node
from batchgen_ext.comfy_host import files

KNOWN_NODES = {"BatchGenInputText", "BatchGenInputInt", "BatchGenInputFloat", "BatchGenInputImage", "BatchGenTextCard",
               "SaveImage", "PreviewImage", "EmptyImage", "ImageInvert", "CLIPTextEncode", "KSampler", "EmptyLatentImage",
               "CheckpointLoaderSimple", "VAEDecode", "LoadImage", "FailNode"}
OUTPUT_NODES = {"SaveImage", "PreviewImage"}
CKPT_NAMES = [f"{name}.safetensors" for name in ("sdxl", "sd15", "flux-dev", "flux-schnell", "sd3", "sd35-large", "pony",
                                                "juggernaut", "dreamshaper", "realvis", "animagine", "playground")]
_SEED = ("INT", {"default": 0, "min": 0, "max": 2**64 - 1})
_TEXT = ("STRING", {"multiline": True})
# INPUT_TYPES() as ComfyUI's classes return them (V3 nodes through their V1 shim), for node_definitions().
INPUT_TYPES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "BatchGenInputText": ({"required": {"name": ("STRING", {}), "value": _TEXT}}, ()),
    "BatchGenInputInt": ({"required": {"name": ("STRING", {}), "value": ("INT", {"min": -(2**63), "max": 2**64 - 1, "step": 1})}}, ()),
    "BatchGenInputFloat": ({"required": {"name": ("STRING", {}), "value": ("FLOAT", {"min": -9.2e18, "max": 9.2e18})}}, ()),
    "BatchGenInputImage": ({"required": {"name": ("STRING", {}), "value": ("COMBO", {"options": ["a.png"]})}}, ("cls", "value")),
    "BatchGenTextCard": ({"required": {"text": _TEXT, "width": ("INT", {"default": 768, "min": 64, "max": 4096, "step": 8}),
                                       "height": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 8}), "seed": _SEED,
                                       "font_size": ("INT", {"default": 0, "min": 0, "max": 512})}}, ()),
    "EmptyImage": ({"required": {"width": ("INT", {"default": 512, "min": 1, "max": 16384, "step": 1}),
                                 "height": ("INT", {"default": 512, "min": 1, "max": 16384, "step": 1}),
                                 "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
                                 "color": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1})}}, ()),
    "SaveImage": ({"required": {"images": ("IMAGE", {}), "filename_prefix": ("STRING", {"default": "ComfyUI"})}}, ()),
    "CheckpointLoaderSimple": ({"required": {"ckpt_name": (CKPT_NAMES, {})}}, ()),
    "CLIPTextEncode": ({"required": {"text": _TEXT, "clip": ("CLIP", {})}}, ()),
    "EmptyLatentImage": ({"required": {"width": ("INT", {"default": 512, "min": 16, "max": 16384, "step": 8}),
                                       "height": ("INT", {"default": 512, "min": 16, "max": 16384, "step": 8}),
                                       "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}, ()),
    "KSampler": ({"required": {"model": ("MODEL", {}), "seed": _SEED, "steps": ("INT", {"default": 20, "min": 1, "max": 10000}),
                               "cfg": ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1}),
                               "sampler_name": (["euler", "euler_ancestral", "dpmpp_2m"], {}),
                               "scheduler": (["normal", "karras", "simple"], {}), "positive": ("CONDITIONING", {}),
                               "negative": ("CONDITIONING", {}), "latent_image": ("LATENT", {}),
                               "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})}}, ()),
    "LoadImage": ({"required": {"image": (["a.png"], {"image_upload": True})}}, ("s", "image")),
}


@dataclass
class QueuedPrompt:
    prompt_id: str
    prompt: dict[str, Any]
    outputs: list[str]
    client_id: str
    extra: dict[str, Any]


@dataclass
class FakeHost:
    """Queue + history like ComfyUI's; `run_next()` executes the oldest pending prompt."""

    output_dir: Path
    input_files: set[str] = field(default_factory=set)
    input_dir: Path | None = None  # when set, files really in this folder count as input files too (uploads)
    pending: list[QueuedPrompt] = field(default_factory=list)
    running: QueuedPrompt | None = None
    history: dict[str, JobOutcome] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    validations: int = 0
    max_depth: int = 0
    listener: Callable[[], None] | None = None
    uncached_validations: int = 0
    released: list[str] = field(default_factory=list)
    # A prompt this returns True for fails like a node raising (not transient: no retry), e.g. one cell of a grid.
    fail_if: Callable[[dict[str, Any]], bool] | None = None
    card_size: int = 16  # side of the PNGs SaveImage writes
    cache_all: bool = False  # report every node as served from ComfyUI's cache (execution_cached)
    # Model folder → files, as folder_paths would list them (the fake CheckpointLoaderSimple offers the checkpoints).
    models: dict[str, list[str]] = field(default_factory=lambda: {
        "checkpoints": list(CKPT_NAMES), "loras": [], "vae": [], "diffusion_models": [], "text_encoders": []})
    manager_packs: dict[str, Any] = field(default_factory=dict)

    def set_listener(self, callback: Callable[[], None]) -> None:
        self.listener = callback

    def _changed(self) -> None:
        self.max_depth = max(self.max_depth, len(self.pending) + (1 if self.running else 0))
        if self.listener:
            asyncio.get_running_loop().call_soon(self.listener)

    async def prepare(self, prompt: dict[str, Any], shape_key: str, *, cached: bool = True) -> list[str]:
        self.validations += 1
        if not cached:
            self.uncached_validations += 1
        errors = {nid: {"errors": [{"type": "invalid_class", "message": f"unknown node {n['class_type']}"}], "class_type": n["class_type"]}
                  for nid, n in prompt.items() if n["class_type"] not in KNOWN_NODES}
        if errors:
            raise HostValidationError({"type": "invalid_prompt", "message": "Cannot execute because a node is missing"}, errors)
        outputs = [nid for nid, n in prompt.items() if n["class_type"] in OUTPUT_NODES]
        if not outputs:
            raise HostValidationError({"type": "prompt_no_outputs", "message": "Prompt has no outputs"}, {})
        return outputs

    def enqueue(self, prompt_id, prompt, outputs, client_id, extra) -> None:
        self.pending.append(QueuedPrompt(prompt_id, prompt, outputs, client_id, dict(extra)))
        self._changed()

    def lookup(self, prompt_ids: Iterable[str]) -> dict[str, PromptLookup]:
        result = {}
        pending_ids = {p.prompt_id for p in self.pending}
        for pid in prompt_ids:
            if self.running and self.running.prompt_id == pid:
                result[pid] = PromptLookup(PromptState.RUNNING)
            elif pid in pending_ids:
                result[pid] = PromptLookup(PromptState.PENDING)
            elif pid in self.history:
                result[pid] = PromptLookup(PromptState.DONE, self.history[pid])
            else:
                result[pid] = PromptLookup(PromptState.UNKNOWN)
        return result

    def remove_pending(self, prompt_ids: Iterable[str]) -> set[str]:
        ids = set(prompt_ids)
        removed = {p.prompt_id for p in self.pending if p.prompt_id in ids}
        self.pending = [p for p in self.pending if p.prompt_id not in ids]
        if removed:
            self._changed()
        return removed

    def interrupt(self, prompt_id: str) -> bool:
        if self.running and self.running.prompt_id == prompt_id:
            self.finish_running(JobOutcome(JobStatus.FAILED, (), JobError("interrupted", "interrupted", transient=True)))
            return True
        return False

    def info(self) -> HostInfo:
        return HostInfo("fake", "0", 1 if self.running else 0, len(self.pending), True, {})

    def send_event(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))

    def find_outputs(self, prefixes: Mapping[str, str]) -> list[OutputFile] | None:
        found = []
        for node_id, prefix in prefixes.items():
            sub, _, base = prefix.rpartition("/")
            folder = self.output_dir / sub
            files = sorted(folder.glob(f"{base}_*_.png")) if folder.is_dir() else []
            if not files:
                return None
            found += [OutputFile(node_id, f.name, sub, "output") for f in files]
        return found

    def output_path(self, subfolder: str) -> Path | None:
        root = self.output_dir.resolve()
        path = (self.output_dir / subfolder).resolve()
        return path if path != root and path.is_relative_to(root) else None

    def delete_output_folder(self, subfolder: str) -> int:
        import shutil

        folder = self.output_dir / subfolder
        if not folder.is_dir() or not subfolder.startswith("batchgen/") or ".." in subfolder:
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count

    def remove_incomplete(self, prefixes: Mapping[str, str]) -> int:
        removed = 0
        for prefix in prefixes.values():
            sub, _, base = prefix.rpartition("/")
            for f in (self.output_dir / sub).glob(f"{base}_*_.png"):
                if f.stat().st_size == 0:
                    f.unlink()
                    removed += 1
        return removed

    def output_file(self, subfolder: str, filename: str, kind: str = "output") -> Path | None:
        return files.output_file(self._folders(), subfolder, filename, kind)

    def folder_files(self, subfolder: str) -> list[Path]:
        return files.folder_files(self._folders(), subfolder)

    def _folders(self) -> files.Folders:
        return files.Folders(self.output_dir.parent / "input", self.output_dir, self.output_dir.parent / "temp")

    def input_file_exists(self, name: str) -> bool:
        if name in self.input_files:
            return True
        return self.input_dir is not None and "\x00" not in name and ".." not in name and (self.input_dir / name).is_file()

    def node_definitions(self) -> dict[str, NodeDef]:
        # Every node the fake knows has a definition (those without listed inputs: none to check), as in ComfyUI.
        defs = {ct: normalise_node({}, output=ct in OUTPUT_NODES) for ct in KNOWN_NODES}
        return {**defs, **{ct: normalise_node(types, args, output=ct in OUTPUT_NODES) for ct, (types, args) in INPUT_TYPES.items()}}

    def read_input_file(self, name: str) -> bytes | None:
        path = self.output_dir.parent / "input" / name
        return path.read_bytes() if name in self.input_files and path.is_file() else None

    def model_folders(self) -> list[str]:
        return sorted(self.models)

    def model_files(self, folder: str) -> list[str] | None:
        return self.models.get(folder)

    def node_packs(self) -> dict[str, Any]:
        return self.manager_packs

    def release(self, prompt_ids: Iterable[str]) -> None:
        self.released.extend(prompt_ids)

    # -- simulated worker ------------------------------------------------------------------

    def start_next(self) -> QueuedPrompt | None:
        if self.running is None and self.pending:
            self.running = self.pending.pop(0)
            self._changed()
        return self.running

    def finish_running(self, outcome: JobOutcome | None = None) -> str:
        item = self.running
        assert item is not None
        if outcome is None:
            outcome = self._execute(item)
        self.history[item.prompt_id] = outcome
        self.running = None
        self._changed()
        return item.prompt_id

    def _execute(self, item: QueuedPrompt) -> JobOutcome:
        outputs = []
        if self.fail_if is not None and self.fail_if(item.prompt):
            return JobOutcome(JobStatus.FAILED, (), JobError("node_error", "boom (fail_if)", None, None, "ValueError"))
        for nid, node in item.prompt.items():
            if node["class_type"] == "FailNode":
                return JobOutcome(JobStatus.FAILED, (), JobError("node_error", "boom", nid, "FailNode", "ValueError"))
            if node["class_type"] == "SaveImage":
                sub, _, base = node["inputs"]["filename_prefix"].rpartition("/")
                folder = self.output_dir / sub
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{base}_00001_.png"
                _small_png(folder / name, item.prompt, self.card_size)
                outputs.append(OutputFile(nid, name, sub, "output"))
        # ComfyUI's execution_cached message: every node when the same prompt ran before (cache_all), else none.
        return JobOutcome(JobStatus.SUCCEEDED, tuple(outputs), cached_nodes=tuple(item.prompt) if self.cache_all else ())

    async def run_all(self, dispatcher, limit: int = 100_000) -> int:
        """Run prompts until nothing is pending in the host or the store."""
        done = 0
        for _ in range(limit):
            await dispatcher.step()
            if self.start_next() is None:
                await dispatcher.step()
                if not self.pending and self.running is None:
                    return done
                continue
            await dispatcher.step()
            self.finish_running()
            done += 1
        return done


def _small_png(path: Path, prompt: dict[str, Any], side: int = 16) -> None:
    """A real PNG (side × side) whose colour depends on the prompt (contact sheets read them back)."""
    import hashlib

    from PIL import Image

    digest = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in prompt.items())).encode()).digest()
    Image.new("RGB", (side, side), (digest[0] % 128, 64 + digest[1] % 128, 128 + digest[2] % 128)).save(path, format="PNG")
