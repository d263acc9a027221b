"""Templates: an API-format workflow plus bindings (named parameters → node input slots).

Bindings are gathered in order of precedence:
1. our "BatchGen Input" nodes placed in the workflow (their ``name`` names the parameter),
2. an explicit map given with the template or the request,
3. auto-detection on common graphs (prompt/negative text, seed, size, steps, cfg, image).
A name bound by an earlier source is never overridden by a later one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .api_parse import unknown_field
from .errors import bad_request

PARAM_TYPES = ("text", "int", "float", "bool", "image")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_TEMPLATE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")

# Output-file inputs we rewrite so every batch writes into its own subfolder.
FILENAME_PREFIX_INPUT = "filename_prefix"

# Auto-detection vocabulary (class_type → input names), kept small and explicit.
_SAMPLER_TYPES = {"KSampler", "KSamplerAdvanced", "SamplerCustom", "CFGGuider", "DualCFGGuider"}
_SEED_INPUTS = ("seed", "noise_seed")
_TEXT_INPUTS = ("text", "prompt", "text_g", "t5xxl")
_CONDITIONING_PASSTHROUGH = ("conditioning", "conditioning_to", "conditioning_1", "positive", "guider")
_LOAD_IMAGE_TYPES = {"LoadImage"}
_BINDING_FIELDS = ("slots", "slot", "type", "default")


@dataclass(frozen=True, slots=True)
class Slot:
    """One node input a parameter writes to."""

    node_id: str
    input: str

    def __str__(self) -> str:
        return f"{self.node_id}.{self.input}"

    @classmethod
    def parse(cls, text: str) -> Slot:
        """Parse "node_id.input"."""
        if not isinstance(text, str) or "." not in text:
            raise bad_request("invalid_binding", f"binding slot {text!r} must look like 'node_id.input'")
        node_id, _, name = text.partition(".")
        if not node_id or not name:
            raise bad_request("invalid_binding", f"binding slot {text!r} must look like 'node_id.input'")
        return cls(node_id, name)


@dataclass(frozen=True, slots=True)
class Binding:
    """A named parameter: its type, default and the slots it fills."""

    name: str
    type: str
    default: Any
    slots: tuple[Slot, ...]
    source: str = "explicit"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "slots": [str(s) for s in self.slots],
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Template:
    """A workflow plus bindings, ready to materialise jobs."""

    id: str | None
    name: str
    description: str
    workflow: dict[str, Any]
    bindings: dict[str, Binding]
    origin: str = "inline"
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON form for listings (no workflow)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "origin": self.origin,
            "parameters": [b.as_dict() for b in self.bindings.values()],
            "aliases": list(self.extra.get("aliases") or ()),
            "models": [m.as_dict() for m in self.extra.get("models") or ()],
            "node_packs": list(self.extra.get("node_packs") or ()),
        }

    def detail(self) -> dict[str, Any]:
        """JSON form with the workflow (and the editor-format graph when there is one)."""
        return {**self.summary(), "workflow": self.workflow, "editor_workflow": self.extra.get("editor_workflow")}

    def snapshot(self) -> dict[str, Any]:
        """What a batch stores so it keeps running even if the template changes later."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "workflow": self.workflow,
            "bindings": {n: {"type": b.type, "default": b.default, "slots": [str(s) for s in b.slots], "source": b.source}
                         for n, b in self.bindings.items()},
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Template:
        """Rebuild a template stored with a batch (already validated when stored)."""
        bindings = {
            name: Binding(name, b["type"], b.get("default"), tuple(Slot.parse(s) for s in b["slots"]), b.get("source", "explicit"))
            for name, b in data["bindings"].items()
        }
        return cls(data.get("id"), data.get("name", ""), data.get("description", ""), data["workflow"], bindings, "snapshot")

    def digest(self) -> str:
        """A hash of the workflow graph."""
        return hashlib.sha1(json.dumps(self.workflow, sort_keys=True, default=str).encode()).hexdigest()

    def shape_key(self, names: Iterable[str], digest: str | None = None) -> str:
        """A key equal for jobs whose prompts differ only in bound values (validation is cached by it)."""
        return (digest or self.digest()) + ":" + ",".join(sorted(names))


def validate_workflow_shape(workflow: Any) -> dict[str, Any]:
    """Check the workflow is an API-format graph: {node_id: {class_type, inputs}}."""
    if not isinstance(workflow, dict) or not workflow:
        raise bad_request("invalid_workflow", "workflow must be a non-empty API-format object {node_id: {class_type, inputs}}")
    if "nodes" in workflow and "links" in workflow:
        raise bad_request(
            "invalid_workflow",
            "this is a UI-format workflow; export it with 'Export (API)' or send the API format",
        )
    for node_id, node in workflow.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise bad_request("invalid_workflow", f"node {node_id!r} has no class_type", node_id=str(node_id))
        if not isinstance(node.get("inputs", {}), dict):
            raise bad_request("invalid_workflow", f"node {node_id!r} inputs must be an object", node_id=str(node_id))
    return workflow


def check_editor_workflow(doc: Any) -> dict[str, Any]:
    """An editor-format (UI) workflow: an object with a list of nodes, each with an id (what loadGraphData needs)."""
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and "id" in n for n in nodes):
        raise bad_request("invalid_editor_workflow",
                          "editor_workflow must be an editor-format workflow {nodes: [{id, type, ...}], links, ...} "
                          "(what the editor saves, not the API format)")
    return doc


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "text"


def bindings_from_input_nodes(workflow: Mapping[str, Any]) -> dict[str, Binding]:
    """Bindings declared by BatchGen Input nodes in the workflow."""
    found: dict[str, list[Slot]] = {}
    meta: dict[str, tuple[str, Any]] = {}
    for node_id, node in workflow.items():
        ptype = ids.INPUT_NODE_TYPES.get(node.get("class_type", ""))
        if ptype is None:
            continue
        inputs = node.get("inputs", {})
        name = inputs.get(ids.INPUT_NODE_NAME_FIELD)
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise bad_request(
                "invalid_binding",
                f"BatchGen Input node {node_id} needs a parameter name (letters, digits, _ . -), got {name!r}",
                node_id=str(node_id),
            )
        if name in meta and meta[name][0] != ptype:
            raise bad_request("invalid_binding", f"parameter {name!r} is declared with two types ({meta[name][0]}, {ptype})")
        found.setdefault(name, []).append(Slot(str(node_id), ids.INPUT_NODE_VALUE_FIELD))
        meta.setdefault(name, (ptype, inputs.get(ids.INPUT_NODE_VALUE_FIELD)))
    return {n: Binding(n, meta[n][0], meta[n][1], tuple(slots), "input_node") for n, slots in found.items()}


def bindings_from_map(workflow: Mapping[str, Any], mapping: Any) -> dict[str, Binding]:
    """Bindings from an explicit {name: "node.input" | ["node.input", …] | {slots, type, default}} map."""
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise bad_request("invalid_binding", "bindings must be an object {name: 'node_id.input' or [slots]}")
    result: dict[str, Binding] = {}
    for name, spec in mapping.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise bad_request("invalid_binding", f"parameter name {name!r} must use letters, digits, _ . -")
        ptype = default = None
        if isinstance(spec, dict):
            unknown = [k for k in spec if k not in _BINDING_FIELDS]
            if unknown:
                raise unknown_field(str(unknown[0]), f"bindings.{name}", _BINDING_FIELDS)
            raw_slots = spec.get("slots", spec.get("slot"))
            ptype = spec.get("type")
            default = spec.get("default")
        else:
            raw_slots = spec
        if isinstance(raw_slots, str):
            raw_slots = [raw_slots]
        if not isinstance(raw_slots, list) or not raw_slots:
            raise bad_request("invalid_binding", f"parameter {name!r} needs at least one slot 'node_id.input'")
        slots = tuple(Slot.parse(s) for s in raw_slots)
        for slot in slots:
            node = workflow.get(slot.node_id)
            if node is None:
                raise bad_request("invalid_binding", f"parameter {name!r} binds to node {slot.node_id!r}, which is not in the workflow")
            current = node.get("inputs", {}).get(slot.input)
            if _is_link(current):
                raise bad_request("invalid_binding", f"parameter {name!r} binds to {slot}, which is a link, not a value")
        first = workflow[slots[0].node_id].get("inputs", {}).get(slots[0].input)
        if ptype is None:
            ptype = "image" if workflow[slots[0].node_id].get("class_type") in _LOAD_IMAGE_TYPES else _type_of(first)
        if ptype not in PARAM_TYPES:
            raise bad_request("invalid_binding", f"parameter {name!r} has unknown type {ptype!r}; use one of {', '.join(PARAM_TYPES)}")
        result[name] = Binding(name, ptype, first if default is None else default, slots, "explicit")
    return result


def _literal(node: Mapping[str, Any], name: str) -> Any:
    value = node.get("inputs", {}).get(name)
    return None if _is_link(value) else value


def _text_source(workflow: Mapping[str, Any], link: Any, depth: int = 0) -> Slot | None:
    """Follow a conditioning link upstream to the text input that produced it."""
    if not _is_link(link) or depth > 8:
        return None
    node_id = link[0]
    node = workflow.get(node_id)
    if node is None:
        return None
    for name in _TEXT_INPUTS:
        if isinstance(_literal(node, name), str):
            return Slot(node_id, name)
    for name in _CONDITIONING_PASSTHROUGH:
        found = _text_source(workflow, node.get("inputs", {}).get(name), depth + 1)
        if found:
            return found
    return None


def autodetect_bindings(workflow: Mapping[str, Any]) -> dict[str, Binding]:
    """Bindings guessed from common graph shapes (literal inputs only)."""
    slots: dict[str, list[Slot]] = {}
    defaults: dict[str, Any] = {}
    types: dict[str, str] = {}

    def add(name: str, slot: Slot, ptype: str, value: Any) -> None:
        if slot in slots.get(name, []):
            return
        slots.setdefault(name, []).append(slot)
        defaults.setdefault(name, value)
        types.setdefault(name, ptype)

    for node_id, node in workflow.items():
        ctype = node.get("class_type", "")
        inputs = node.get("inputs", {})
        if ctype in _SAMPLER_TYPES or "guider" in inputs or ("positive" in inputs and "negative" in inputs):
            for param, input_name in (("prompt", "positive"), ("negative", "negative")):
                src = _text_source(workflow, inputs.get(input_name))
                if src:
                    add(param, src, "text", workflow[src.node_id]["inputs"][src.input])
        if ctype == "BasicGuider":
            src = _text_source(workflow, inputs.get("conditioning"))
            if src:
                add("prompt", src, "text", workflow[src.node_id]["inputs"][src.input])
        for seed_name in _SEED_INPUTS:
            if isinstance(_literal(node, seed_name), int) and not isinstance(_literal(node, seed_name), bool):
                add("seed", Slot(node_id, seed_name), "int", inputs[seed_name])
        if ctype.startswith("Empty") and "Latent" in ctype:
            for dim in ("width", "height", "batch_size"):
                if isinstance(_literal(node, dim), int):
                    add(dim, Slot(node_id, dim), "int", inputs[dim])
        if ctype in _SAMPLER_TYPES or ctype in ("BasicScheduler", "KSamplerSelect") or "sampler" in ctype.lower():
            if isinstance(_literal(node, "steps"), int):
                add("steps", Slot(node_id, "steps"), "int", inputs["steps"])
            if isinstance(_literal(node, "cfg"), (int, float)) and not isinstance(_literal(node, "cfg"), bool):
                add("cfg", Slot(node_id, "cfg"), "float", inputs["cfg"])
        if ctype in _LOAD_IMAGE_TYPES and isinstance(_literal(node, "image"), str):
            add("image", Slot(node_id, "image"), "image", inputs["image"])

    has_sampler = any(n.get("class_type") in _SAMPLER_TYPES or n.get("class_type") == "BasicGuider"
                      or "positive" in n.get("inputs", {}) for n in workflow.values())
    if "prompt" not in slots and not has_sampler:
        # A graph without a recognisable sampler but exactly one text encoder still has an obvious prompt.
        encoders = [nid for nid, n in workflow.items() if n.get("class_type") == "CLIPTextEncode" and isinstance(_literal(n, "text"), str)]
        if len(encoders) == 1:
            add("prompt", Slot(encoders[0], "text"), "text", workflow[encoders[0]]["inputs"]["text"])
    return {n: Binding(n, types[n], defaults[n], tuple(s), "auto") for n, s in slots.items()}


def build_template(
    workflow: Any,
    explicit: Any = None,
    *,
    template_id: str | None = None,
    name: str = "",
    description: str = "",
    origin: str = "inline",
    autodetect: bool = True,
) -> Template:
    """Validate the workflow's shape and merge bindings by precedence."""
    workflow = validate_workflow_shape(workflow)
    bindings: dict[str, Binding] = {}
    for source in (bindings_from_input_nodes(workflow), bindings_from_map(workflow, explicit),
                   autodetect_bindings(workflow) if autodetect else {}):
        for bname, binding in source.items():
            bindings.setdefault(bname, binding)
    return Template(template_id, name or template_id or "inline", description, workflow, bindings, origin)


def check_template_id(template_id: Any) -> str:
    """A template id is lowercase letters, digits, '-' and '_'."""
    if not isinstance(template_id, str) or not _TEMPLATE_ID_RE.match(template_id):
        raise bad_request("invalid_template_id", "template id must be 1-64 of a-z 0-9 - _ and start with a letter or digit")
    return template_id


def coerce_value(binding: Binding, value: Any) -> Any:
    """Convert a job value to the binding's type, or raise a 400 naming the parameter."""
    name, ptype = binding.name, binding.type
    try:
        if ptype == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            if isinstance(value, str) and len(value) > 40:  # int("9" * 5000) is slow and no node takes it
                raise ValueError
            return int(value)
        if ptype == "float":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):  # NaN/inf cannot be sent back as JSON
                raise ValueError
            return number
        if ptype == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError
        return str(value)
    except (TypeError, ValueError, OverflowError):
        article = "an" if ptype[0] in "aeiou" else "a"
        raise bad_request("invalid_param_value", f"parameter {name!r} expects {article} {ptype} value, got {value!r}", param=name) from None


def materialise(template: Template, values: Mapping[str, Any], filename_prefix: str | None = None) -> dict[str, Any]:
    """A fresh API prompt for one job: bound values written in, output prefixes rewritten."""
    prompt = _copy_graph(template.workflow)
    for pname, value in values.items():
        binding = template.bindings[pname]
        for slot in binding.slots:
            prompt[slot.node_id]["inputs"][slot.input] = value
    if filename_prefix is not None:
        savers = [nid for nid, n in prompt.items() if isinstance(n.get("inputs", {}).get(FILENAME_PREFIX_INPUT), str)]
        for nid in savers:
            suffix = f"_n{nid}" if len(savers) > 1 else ""
            prompt[nid]["inputs"][FILENAME_PREFIX_INPUT] = f"{filename_prefix}{suffix}"
    return prompt


_SCALARS = (str, int, float, bool, type(None))


def _copy_graph(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than copy.deepcopy.

    Once per job on the server loop, while ComfyUI's worker waits for the GIL; anything else is deep-copied.
    """
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else _copy_graph(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in _SCALARS else _copy_graph(v) for v in value]
    if type(value) in _SCALARS:
        return value
    return copy.deepcopy(value)


def output_prefixes(template: Template, filename_prefix: str) -> dict[str, str]:
    """node_id → the filename prefix materialise() gives each file-saving node."""
    savers = [nid for nid, n in template.workflow.items() if isinstance(n.get("inputs", {}).get(FILENAME_PREFIX_INPUT), str)]
    return {nid: f"{filename_prefix}_n{nid}" if len(savers) > 1 else filename_prefix for nid in savers}
