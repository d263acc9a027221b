"""Which node pack provides a node type: ComfyUI-Manager's extension-node-map when installed, else a small bundled map.

The bundled map covers only the node types our own templates use that some ComfyUI versions lack,
plus our own nodes. Every entry says where it came from (``source``), so a message can say
"according to ComfyUI-Manager's node map" or "according to comfyui-batchgen's bundled map".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("batchgen.nodepacks")

SOURCE_MANAGER = "comfyui-manager"
SOURCE_BUNDLED = "bundled"
SOURCE_TEMPLATE = "template"
COMFYUI_URL = "https://github.com/comfyanonymous/ComfyUI"
BATCHGEN_URL = "https://github.com/comfyui-batchgen/comfyui-batchgen"


@dataclass(frozen=True, slots=True)
class NodePack:
    """A node pack (or ComfyUI core) that provides a node type, and how to get it."""

    name: str
    url: str | None = None
    hint: str | None = None  # what to do, in words ("update ComfyUI to …")
    source: str = SOURCE_BUNDLED

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.url:
            out["url"] = self.url
        if self.hint:
            out["hint"] = self.hint
        return out


_BG_REMOVAL = NodePack(
    "ComfyUI core (comfy_extras/nodes_bg_removal.py, in releases after v0.20.1, May 2026)",
    COMFYUI_URL,
    "update ComfyUI to a release after v0.20.1 (v0.33.0 has it); on an older ComfyUI use a background-removal node pack "
    "such as ComfyUI-RMBG (https://github.com/1038lab/ComfyUI-RMBG) with your own graph",
)
_QWEN = NodePack("ComfyUI core (comfy_extras/nodes_qwen.py, in releases after v0.3.50, Aug 2025)", COMFYUI_URL,
                 "update ComfyUI to v0.3.51 or newer")
_CFG_NORM = NodePack("ComfyUI core (in releases after v0.3.44, Jul 2025)", COMFYUI_URL, "update ComfyUI to v0.3.45 or newer")
_BATCHGEN = NodePack("comfyui-batchgen", BATCHGEN_URL, "install or update comfyui-batchgen (this extension) and restart ComfyUI")

# class_type → pack, for the node types our bundled templates use that an older ComfyUI may lack.
BUNDLED: dict[str, NodePack] = {
    "LoadBackgroundRemovalModel": _BG_REMOVAL,
    "RemoveBackground": _BG_REMOVAL,
    "TextEncodeQwenImageEdit": _QWEN,
    "CFGNorm": _CFG_NORM,
}


def batchgen_pack() -> NodePack:
    """The pack our own node types (BatchGen*) come from."""
    return _BATCHGEN


def parse_manager_map(doc: Any) -> dict[str, NodePack]:
    """ComfyUI-Manager's extension-node-map.json ({repo_url: [[node types…], {title_aux…}]}) as class_type → pack."""
    found: dict[str, NodePack] = {}
    if not isinstance(doc, Mapping):
        return found
    for url, entry in doc.items():
        if not isinstance(url, str) or not isinstance(entry, list) or not entry or not isinstance(entry[0], list):
            continue
        meta = entry[1] if len(entry) > 1 and isinstance(entry[1], Mapping) else {}
        title = meta.get("title_aux") or meta.get("title") or url.rstrip("/").rsplit("/", 1)[-1]
        pack = NodePack(str(title), url, f"install {title} (ComfyUI-Manager → Install Custom Nodes)", SOURCE_MANAGER)
        for class_type in entry[0]:
            if isinstance(class_type, str):
                found.setdefault(class_type, pack)  # the first (Manager lists the canonical pack first) wins
    return found


def pack_for(class_type: str, manager: Mapping[str, NodePack] | None, template_packs: Mapping[str, NodePack] | None = None) -> NodePack | None:
    """The pack providing a node type: the template's own manifest, then Manager's map, then the bundled map."""
    if class_type.startswith("BatchGen"):
        return _BATCHGEN
    for table in (template_packs or {}, manager or {}, BUNDLED):
        if class_type in table:
            return table[class_type]
    return None
