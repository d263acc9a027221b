"""Preflight: every model file and node type a batch needs that this ComfyUI lacks, reported at once, before anything is stored.

ComfyUI's own validation stops at the first bad node and says ``'x.safetensors' not in []``; a user
then fixes one thing at a time. Here every missing node type (with the pack that provides it) and
every missing model file (with the folder it belongs in and, from the template's models manifest,
where to download it) is collected first and answered as one 422 ``preflight_failed``.

A model input is a combo input whose options are a model folder's files: known core loaders by
name, the template manifest's files, a combo whose options equal a folder's file list, or a
``*_name`` input of a loader node named like one (``ckpt_name`` → checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .nodepacks import NodePack, pack_for
from .templates import Template
from .valuecheck import NodeDef, _close_matches, _is_link, _needed_nodes

# (class_type, input) → model folder, for ComfyUI's own loaders (folder names as folder_paths knows them).
CORE_MODEL_INPUTS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("CheckpointLoader", "ckpt_name"): "checkpoints",
    ("ImageOnlyCheckpointLoader", "ckpt_name"): "checkpoints",
    ("unCLIPCheckpointLoader", "ckpt_name"): "checkpoints",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("VAELoader", "vae_name"): "vae",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name1"): "text_encoders",
    ("TripleCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name1"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name2"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name4"): "text_encoders",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("ControlNetLoader", "control_net_name"): "controlnet",
    ("DiffControlNetLoader", "control_net_name"): "controlnet",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("StyleModelLoader", "style_model_name"): "style_models",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("GLIGENLoader", "gligen_name"): "gligen",
    ("HypernetworkLoader", "hypernetwork_name"): "hypernetworks",
    ("LoadBackgroundRemovalModel", "bg_removal_name"): "background_removal",
}
# Input names that mean "a file of this folder" on a loader node of any pack.
_NAME_HINTS = {"ckpt_name": "checkpoints", "unet_name": "diffusion_models", "vae_name": "vae", "lora_name": "loras",
               "clip_name": "text_encoders", "control_net_name": "controlnet", "bg_removal_name": "background_removal"}
_SHOWN = 6  # items named in the message; details carries all of them


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One file of a template's models manifest."""

    name: str
    folder: str
    url: str | None = None
    size: int | None = None  # bytes, when known

    def as_dict(self) -> dict[str, Any]:
        """JSON form (absent facts left out)."""
        out: dict[str, Any] = {"name": self.name, "folder": self.folder}
        if self.url:
            out["url"] = self.url
        if self.size is not None:
            out["size"] = self.size
        return out


@dataclass
class _Missing:
    name: str
    folder: str
    folder_known: bool
    uses: list[dict[str, Any]] = field(default_factory=list)
    first_job: int | None = None
    close: list[str] = field(default_factory=list)


# host.model_files(folder): the file names ComfyUI lists for a model folder, or None for a folder it does not know.
ModelFiles = Callable[[str], Sequence[str] | None]


def _folder_of(class_type: str, name: str, node_def: NodeDef | None, value: Any, manifest: Mapping[str, ModelEntry],
               model_files: ModelFiles, folder_names: Sequence[str]) -> str | None:
    """The model folder a node input's files come from, or None when it is not a model input."""
    folder = CORE_MODEL_INPUTS.get((class_type, name))
    if folder:
        return folder
    if isinstance(value, str) and value in manifest:
        return manifest[value].folder
    spec = node_def.inputs.get(name) if node_def is not None else None
    if node_def is not None and (spec is None or spec.type != "COMBO"):
        return None
    if spec is not None and spec.options:
        options = set(spec.options)
        for candidate in folder_names:
            files = model_files(candidate)
            if files and set(files) == options:
                return candidate
    base = name.rstrip("0123456789")
    if base in _NAME_HINTS and "loader" in class_type.lower():
        return _NAME_HINTS[base]
    return None


def _bound_slots(template: Template) -> dict[tuple[str, str], str]:
    return {(s.node_id, s.input): b.name for b in template.bindings.values() for s in b.slots}


def _values(template: Template, node_id: str, name: str, param: str | None, specs: Sequence[Any]) -> list[tuple[Any, int | None]]:
    """(value, first job index or None for the workflow's own) that reach this input across the jobs."""
    literal = ((template.workflow.get(node_id) or {}).get("inputs") or {}).get(name)
    if param is None or not specs:
        return [(literal, None)]
    if hasattr(specs, "distinct_values"):  # a JobScan (batchgen/jobscan.py): the distinct values, found in one pass
        values, missing = specs.distinct_values(param)
        found = [(v, j) for v, j in values if isinstance(v, str)]
        return found + ([(literal, None)] if missing is not None else [])
    seen: dict[Any, int | None] = {}
    for index, spec in enumerate(specs):
        value = spec.params.get(param, literal)
        if isinstance(value, str) and value not in seen:
            seen[value] = index if param in spec.params else None
    return list(seen.items())


def missing_requirements(template: Template, specs: Sequence[Any], node_defs: Mapping[str, NodeDef], model_files: ModelFiles,
                         folder_names: Sequence[str], manager_packs: Mapping[str, NodePack] | None = None
                         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(missing node types, missing model files) for the template's graph and the jobs' bound values."""
    manifest = template_manifest(template)
    template_packs = template_node_packs(template)
    workflow = template.workflow
    nodes: dict[str, dict[str, Any]] = {}
    for node_id, node in workflow.items():
        class_type = node.get("class_type", "")
        if class_type not in node_defs:
            entry = nodes.setdefault(class_type, {"class_type": class_type, "node_ids": []})
            entry["node_ids"].append(str(node_id))
    for entry in nodes.values():
        pack = pack_for(entry["class_type"], manager_packs, template_packs)
        entry["pack"] = pack.as_dict() if pack else None
    needed = _needed_nodes(workflow, node_defs) if not nodes else None
    bound = _bound_slots(template)
    models: dict[tuple[str, str], _Missing] = {}
    for node_id, node in workflow.items():
        if needed is not None and str(node_id) not in needed:
            continue  # ComfyUI never loads what no output needs
        class_type = node.get("class_type", "")
        node_def = node_defs.get(class_type) if class_type not in nodes else None
        for name, literal in (node.get("inputs") or {}).items():
            if _is_link(literal):
                continue
            spec = node_def.inputs.get(name) if node_def is not None else None
            if node_def is not None and (spec is None or spec.type != "COMBO" or spec.options is None):
                continue  # an existing node's non-combo input holds no file name
            values = [(v, j) for v, j in _values(template, str(node_id), name, bound.get((node_id, name)), specs)
                      if isinstance(v, str) and (spec is None or v not in spec.options)]
            if not values:
                continue  # every value is one of the node's choices: present
            folder = _folder_of(class_type, name, node_def, literal, manifest, model_files, folder_names)
            if folder is None:
                continue  # not a model input: the per-value checks report a bad choice
            present = model_files(folder)
            choices = set(spec.options) if spec is not None else set(present or ())
            for value, job in values:
                if value in choices:
                    continue
                item = models.get((folder, value))
                if item is None:
                    close = _close_matches(value, sorted(map(str, choices)))
                    item = models[(folder, value)] = _Missing(value, folder, present is not None, close=close)
                item.uses.append({"node_id": str(node_id), "class_type": class_type, "input": name})
                if job is not None and (item.first_job is None or job < item.first_job):
                    item.first_job = job
    return list(nodes.values()), [_model_json(m, manifest) for m in models.values()]


def _model_json(item: _Missing, manifest: Mapping[str, ModelEntry]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": item.name, "folder": item.folder, "folder_known": item.folder_known, "used_by": item.uses}
    entry = manifest.get(item.name)
    if entry is not None and entry.url:
        out["url"] = entry.url
    if entry is not None and entry.size is not None:
        out["size"] = entry.size
    if item.first_job is not None:
        out["job"] = item.first_job
    if item.close:
        out["close_matches"] = item.close
    return out


def preflight_error(missing_nodes: list[dict[str, Any]], missing_models: list[dict[str, Any]]) -> ApiError | None:
    """One 422 naming every missing node type and model file, or None when nothing is missing."""
    if not missing_nodes and not missing_models:
        return None
    parts = []
    for entry in missing_nodes[:_SHOWN]:
        pack = entry.get("pack")
        where = f" (from {pack['name']}: {pack.get('hint') or pack.get('url')})" if pack else " (no known node pack provides it)"
        parts.append(f"node type {entry['class_type']}{where}")
    for entry in missing_models[:_SHOWN]:
        where = f"models/{entry['folder']}/" + ("" if entry["folder_known"] else ", a folder this ComfyUI does not know")
        source = f", download {entry['url']}" if entry.get("url") else ""
        hint = f", did you mean {' or '.join(repr(c) for c in entry['close_matches'])}?" if entry.get("close_matches") else ""
        job = f" (job {entry['job']})" if "job" in entry else ""
        parts.append(f"model {entry['name']!r}{job} in {where}{source}{hint}")
    more = len(missing_nodes) + len(missing_models) - len(parts)
    counts = []
    if missing_nodes:
        counts.append(f"{len(missing_nodes)} node type{'s' if len(missing_nodes) != 1 else ''}")
    if missing_models:
        counts.append(f"{len(missing_models)} model file{'s' if len(missing_models) != 1 else ''}")
    message = (f"this ComfyUI lacks {' and '.join(counts)} the workflow needs: " + "; ".join(parts)
               + (f"; and {more} more in details" if more > 0 else ""))
    return ApiError(422, "preflight_failed", message, {"missing_nodes": missing_nodes, "missing_models": missing_models})


def template_manifest(template: Template) -> dict[str, ModelEntry]:
    """file name → the template's models manifest entry."""
    entries = template.extra.get("models") or []
    return {e.name: e for e in entries if isinstance(e, ModelEntry)}


def template_node_packs(template: Template) -> dict[str, NodePack]:
    """class_type → pack, from the template's node_packs manifest."""
    return dict(template.extra.get("node_packs_by_type") or {})


def model_input_slots(missing_models: list[dict[str, Any]]) -> frozenset[tuple[str, str]]:
    """(node_id, input) of every input preflight reported (the per-value checks leave those to it)."""
    return frozenset((u["node_id"], u["input"]) for m in missing_models for u in m["used_by"])
