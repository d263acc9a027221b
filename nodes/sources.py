"""Wildcard Expand and Image Set: source nodes (lists under ComfyUI's Run, one job per item when the workflow is a batch).

Their items come from batchgen/listitems.py, the functions intake uses when the same workflow is
submitted through POST /batchgen/v1/batches, so both ways see the same items in the same order.
"""

from __future__ import annotations

import os
from pathlib import Path

import folder_paths

from ..batchgen import ids
from ..batchgen.errors import ApiError
from ..batchgen.listitems import MAX_ITEMS, WILDCARD_MODES, image_set_items, wildcard_items
from ..batchgen.wildcards import folder_loader
from ..comfy_host.bootstrap import system_user_dir, wildcard_dirs
from ._comfy import io
from .inputs import NAME_TOOLTIP, load_image
from .lists import _TWO_WAYS

_MAX_FOLDERS = 500  # subfolders offered in the combo
_MAX_DEPTH = 3


class BatchGenWildcardExpand(io.ComfyNode):
    """Wildcard text → every combination, or N seeded random picks."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/text/mode/count/seed, output a list of STRING."""
        return io.Schema(
            node_id="BatchGenWildcardExpand",
            display_name="BatchGen Wildcard Expand",
            category=ids.NODE_CATEGORY,
            description="Expands wildcard text with the same engine as the BatchGen API: {a|b|c}, nesting, weights {2::a|b}, "
                        "__name__ files (BatchGen's wildcards folder, then Impact Pack's and dynamicprompts' folders). "
                        "combinatorial: every combination, first group varying slowest; random: `count` picks, reproducible "
                        "from `seed`." + _TWO_WAYS,
            inputs=[
                io.String.Input(ids.INPUT_NODE_NAME_FIELD, default="prompt", multiline=False, tooltip=NAME_TOOLTIP),
                # dynamic_prompts=False: the frontend would otherwise pick one {a|b} alternative itself before we see the text.
                io.String.Input("text", default="a {red|blue} {cat|dog}", multiline=True, dynamic_prompts=False,
                                tooltip="Wildcard text: {a|b} picks one alternative, {2::a|b} weighs them, __name__ reads name.txt; "
                                        "write \\{ \\} \\| for the characters themselves."),
                io.Combo.Input("mode", options=list(WILDCARD_MODES), default="combinatorial",
                               tooltip="combinatorial: every combination (weights ignored); random: `count` weighted random picks."),
                io.Int.Input("count", default=4, min=1, max=MAX_ITEMS, tooltip="How many random picks (random mode only)."),
                io.Int.Input("seed", default=0, min=0, max=2**64 - 1, tooltip="Seed of the random picks: same seed, same prompts."),
            ],
            outputs=[io.String.Output(is_output_list=True, tooltip="The expanded prompts, one list item each.")],
        )

    @classmethod
    def fingerprint_inputs(cls, **_inputs) -> float:
        """Always run: a __name__ file may have changed on disk."""
        return float("nan")

    @classmethod
    def execute(cls, name: str, text: str, mode: str, count: int, seed: int) -> io.NodeOutput:
        """The expanded prompts."""
        loader = folder_loader(wildcard_dirs(system_user_dir()))
        try:
            return io.NodeOutput(wildcard_items(text, mode, count, seed, loader))
        except ApiError as exc:
            raise ValueError(f"[batchgen] Wildcard Expand '{name}': {exc.message}") from None


def _input_folders() -> list[str]:
    """Subfolders of the input folder ("sets/cats"), up to 3 levels deep, sorted."""
    root = folder_paths.get_input_directory()
    found: list[str] = []
    for folder, dirs, _names in os.walk(root):
        rel = os.path.relpath(folder, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < _MAX_DEPTH else []
        if rel != ".":
            found.append(rel.replace(os.sep, "/"))
        if len(found) >= _MAX_FOLDERS:
            break
    return sorted(found) or [""]


class BatchGenImageSet(io.ComfyNode):
    """Every image of an input subfolder, naturally sorted (img2 before img10)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/folder, outputs lists of IMAGE, MASK and STRING (file names)."""
        return io.Schema(
            node_id="BatchGenImageSet",
            display_name="BatchGen Image Set",
            category=ids.NODE_CATEGORY,
            description="Every .png/.jpg/.jpeg/.webp image directly in a subfolder of ComfyUI's input folder, in natural order "
                        "(img2 before img10), with its file name. Links leading outside the input folder are skipped."
                        + _TWO_WAYS + " As a batch the image is the parameter `name` and the file name `name_file`.",
            inputs=[
                io.String.Input(ids.INPUT_NODE_NAME_FIELD, default="image", multiline=False, tooltip=NAME_TOOLTIP),
                io.Combo.Input("folder", options=_input_folders(),
                               tooltip="A subfolder of ComfyUI's input folder (e.g. \"sets/cats\"); its images, not its subfolders'."),
            ],
            outputs=[
                io.Image.Output(is_output_list=True, tooltip="The images, one list item each (sizes may differ)."),
                io.Mask.Output(is_output_list=True, tooltip="Each image's transparency as a mask (1 = transparent)."),
                io.String.Output("file", display_name="file", is_output_list=True, tooltip="Each image's file name, e.g. cat 2.png."),
            ],
        )

    @classmethod
    def fingerprint_inputs(cls, folder: str, **_other) -> str | float:
        """The folder's image names, sizes and times: an added or replaced image runs again."""
        try:
            files = image_set_items(Path(folder_paths.get_input_directory()), folder)
        except ApiError:
            return float("nan")
        root = Path(folder_paths.get_input_directory())
        return "|".join(f"{value}:{(root / value).stat().st_mtime_ns}:{(root / value).stat().st_size}" for _, value in files)

    @classmethod
    def execute(cls, name: str, folder: str) -> io.NodeOutput:
        """Load every image of the folder."""
        root = Path(folder_paths.get_input_directory())
        try:
            files = image_set_items(root, folder)
        except ApiError as exc:
            raise ValueError(f"[batchgen] Image Set '{name}': {exc.message}") from None
        images, masks = [], []
        for _, value in files:
            image, mask = load_image(str(root / value))
            images.append(image)
            masks.append(mask)
        return io.NodeOutput(images, masks, [file for file, _ in files])
