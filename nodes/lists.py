"""Prompt List and Seed List: list nodes under ComfyUI's own Run, one job per item when the workflow is submitted as a batch.

With Run (Queue Prompt) the node outputs a list (``is_output_list``): ComfyUI runs every node
downstream once per item, all inside ONE queue item. Through POST /batchgen/v1/batches the same
workflow becomes one tracked job per item (batchgen/listnodes.py rewrites the node into a BatchGen
Input node holding that job's item); the node's ``name`` is the parameter the items fill.
"""

from __future__ import annotations

from ..batchgen import ids
from ..batchgen.listnodes import MAX_ITEMS, prompt_items, seed_items
from ._comfy import io
from .inputs import NAME_TOOLTIP

CATEGORY = f"{ids.NODE_CATEGORY}/lists"
_TWO_WAYS = (" Run with ComfyUI's Run button it is a list node: everything downstream runs once per item, in one queue item. "
             "Submitted as a batch (POST /batchgen/v1/batches with this workflow) it makes one tracked, resumable job per item.")


class BatchGenPromptList(io.ComfyNode):
    """Multi-line text → one prompt per line."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/text (multiline), output a list of STRING."""
        return io.Schema(
            node_id="BatchGenPromptList",
            display_name="BatchGen Prompt List",
            category=CATEGORY,
            description="One prompt per non-empty line (spaces around a line are trimmed)." + _TWO_WAYS,
            inputs=[
                io.String.Input(ids.INPUT_NODE_NAME_FIELD, default="prompt", multiline=False, tooltip=NAME_TOOLTIP),
                io.String.Input("text", default="", multiline=True, dynamic_prompts=False,
                                tooltip="One prompt per line; empty lines are skipped."),
            ],
            outputs=[io.String.Output(is_output_list=True, tooltip="The prompts, one list item per line.")],
        )

    @classmethod
    def execute(cls, name: str, text: str) -> io.NodeOutput:
        """Split into lines."""
        items = prompt_items(text)
        if not items:
            raise ValueError(f"[batchgen] Prompt List '{name}': the text has no non-empty line")
        return io.NodeOutput(items)


class BatchGenSeedList(io.ComfyNode):
    """count seeds from start, step apart."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/start/count/step, output a list of INT."""
        return io.Schema(
            node_id="BatchGenSeedList",
            display_name="BatchGen Seed List",
            category=CATEGORY,
            description="`count` seeds: start, start+step, start+2·step, … (wrapped into KSampler's 0 … 2^64-1)." + _TWO_WAYS,
            inputs=[
                io.String.Input(ids.INPUT_NODE_NAME_FIELD, default="seed", multiline=False, tooltip=NAME_TOOLTIP),
                io.Int.Input("start", default=0, min=0, max=2**64 - 1, tooltip="The first seed."),
                io.Int.Input("count", default=4, min=1, max=MAX_ITEMS, tooltip="How many seeds (list items, or jobs as a batch)."),
                io.Int.Input("step", default=1, min=-(2**32), max=2**32, tooltip="Added from one seed to the next."),
            ],
            outputs=[io.Int.Output(is_output_list=True, tooltip="The seeds, one list item each.")],
        )

    @classmethod
    def execute(cls, name: str, start: int, count: int, step: int) -> io.NodeOutput:
        """The seeds."""
        return io.NodeOutput(seed_items(start, count, step))
