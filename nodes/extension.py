"""The BatchGen node list for ComfyUI's V3 loader. Imported only inside a running ComfyUI (from comfy_entrypoint)."""

from __future__ import annotations

import logging

from ..batchgen import ids
from ._comfy import ComfyExtension, io
from .demo import BatchGenTextCard
from .inputs import BatchGenInputFloat, BatchGenInputImage, BatchGenInputInt, BatchGenInputText
from .lists import BatchGenPromptList, BatchGenPromptsFromFile, BatchGenSeedList
from .save import BatchGenSaveImage
from .sheet import BatchGenContactSheet
from .sources import BatchGenImageSet, BatchGenWildcardExpand

log = logging.getLogger("batchgen.nodes")

# node_id values are string literals in each schema (ComfyUI-Manager finds them by static scan);
# they must equal the permanent ids in batchgen/ids.py, which get_node_list checks.
NODES: tuple[type[io.ComfyNode], ...] = (
    BatchGenInputText,
    BatchGenInputInt,
    BatchGenInputFloat,
    BatchGenInputImage,
    BatchGenTextCard,
    BatchGenPromptList,
    BatchGenSeedList,
    BatchGenPromptsFromFile,
    BatchGenWildcardExpand,
    BatchGenImageSet,
    BatchGenContactSheet,
    BatchGenSaveImage,
)
EXPECTED_IDS = frozenset(ids.INPUT_NODE_TYPES) | {ids.NODE_TEXT_CARD, ids.NODE_PROMPT_LIST, ids.NODE_SEED_LIST,
                                                 ids.NODE_PROMPTS_FROM_FILE, ids.NODE_WILDCARD_EXPAND, ids.NODE_IMAGE_SET,
                                                 ids.NODE_CONTACT_SHEET, ids.NODE_SAVE_IMAGE}


class BatchGenExtension(ComfyExtension):
    """Registers the BatchGen nodes with ComfyUI."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        """The node classes (input parameters and the text-card demo)."""
        found = {node.define_schema().node_id for node in NODES}
        if found != EXPECTED_IDS:
            log.error("[batchgen] node ids %s differ from batchgen/ids.py %s", sorted(found), sorted(EXPECTED_IDS))
        return list(NODES)


__all__ = ["BatchGenExtension", "NODES"]
