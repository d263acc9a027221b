"""The items of the source nodes that need more than their own inputs: Wildcard Expand, Image Set, Prompts From File's columns.

Pure functions shared by the node under ComfyUI's Run and by intake when the workflow is submitted as a batch, so both
ways see the same items in the same order: the wildcard engine of the API (batchgen/wildcards.py), the image-set
folder listing of the API (batchgen/image_sets.py: contained, natural order), the GBK-safe table readers.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from . import image_sets, wildcards
from .errors import ApiError, bad_request

MAX_ITEMS = 100_000
MAX_EXTRA_COLUMNS = 4  # Prompts From File's column_1 … column_4 outputs
WILDCARD_MODES = ("combinatorial", "random")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")  # templates._NAME_RE: what a parameter may be called


def column_specs(text: Any, name: str) -> list[tuple[str, str]]:
    """(header, parameter) of each extra column: "价格:price, color" → [("价格", "price"), ("color", "color")].

    A header that is no valid parameter name and has no ``:param`` fills ``<name>_<k>`` (k = its output, 1…4).
    """
    if not isinstance(text, str) or not text.strip():
        return []
    specs = []
    for k, piece in enumerate((p.strip() for p in re.split(r"[,\n]", text) if p.strip()), start=1):
        header, sep, param = piece.rpartition(":") if ":" in piece else (piece, "", "")
        header, param = header.strip(), param.strip()
        if sep and not param:
            raise bad_request("invalid_list_node", f"column {piece!r}: write header:parameter, e.g. 价格:price")
        param = param or (header if _PARAM.match(header) else f"{name}_{k}")
        if not _PARAM.match(param):
            raise bad_request("invalid_list_node", f"column {piece!r}: the parameter name {param!r} must use letters, digits, _ . -")
        specs.append((header, param))
    if len(specs) > MAX_EXTRA_COLUMNS:
        raise bad_request("invalid_list_node", f"at most {MAX_EXTRA_COLUMNS} extra columns (column_1 … column_{MAX_EXTRA_COLUMNS}); "
                          f"got {len(specs)}")
    return specs


def wildcard_items(text: Any, mode: Any, count: Any, seed: Any, loader: wildcards.Loader | None, limit: int = MAX_ITEMS) -> list[str]:
    """Every combination of the wildcard text (first group slowest), or ``count`` random picks from a ``random.Random(seed)``."""
    if not isinstance(text, str) or not text.strip():
        raise bad_request("invalid_list_node", "the wildcard text is empty")
    if mode not in WILDCARD_MODES:
        raise bad_request("invalid_list_node", f"mode must be one of {', '.join(WILDCARD_MODES)}, not {mode!r}")
    parts = wildcards.parse(text.strip(), loader)
    if mode == "combinatorial":
        total = wildcards.count(parts)
        if total > limit:
            raise bad_request("invalid_list_node", f"the wildcard text makes {total} combinations; the limit is {limit}", count=total)
        items = wildcards.combinations(parts)
    else:
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (count, seed)) or not 1 <= count <= limit:
            raise bad_request("invalid_list_node", f"count must be an integer 1 … {limit} and seed an integer")
        rng = random.Random(seed)
        items = [wildcards.sample(parts, rng) for _ in range(count)]
    if not items:
        raise bad_request("invalid_list_node", "the wildcard text expands to nothing (a group or file with no alternatives)")
    return items


def image_set_items(input_dir: Path | None, folder: Any, limit: int = MAX_ITEMS) -> list[tuple[str, str]]:
    """(file name, LoadImage value "sub/x.png") of each image directly in the input subfolder, naturally sorted."""
    try:
        return image_sets.folder_files(input_dir, folder, limit)
    except ApiError as exc:
        # The API's messages name its request field; a node's input is just "folder".
        raise bad_request("invalid_list_node", exc.message.replace("images.folder", "folder")) from None
