"""Prompt List and Seed List: list nodes under ComfyUI's own Run, one job per item when the workflow is submitted as a batch.

With Run (Queue Prompt) the node outputs a list (``is_output_list``): ComfyUI runs every node
downstream once per item, all inside ONE queue item. Through POST /batchgen/v1/batches the same
workflow becomes one tracked job per item (batchgen/listnodes.py rewrites the node into a BatchGen
Input node holding that job's item); the node's ``name`` is the parameter the items fill.
"""

from __future__ import annotations

import os

import folder_paths

from ..batchgen import ids
from ..batchgen.errors import ApiError
from ..batchgen.filelist import MAX_FILE_BYTES, file_format, file_rows
from ..batchgen.listitems import MAX_EXTRA_COLUMNS, column_specs
from ..batchgen.listnodes import MAX_ITEMS, prompt_items, seed_items
from ._comfy import io
from .inputs import NAME_TOOLTIP

CATEGORY = ids.NODE_CATEGORY
_MAX_LISTED = 2000  # files offered in the combo
_MAX_DEPTH = 3  # subfolder levels searched
_MAX_SCANNED = 50_000  # directory entries looked at
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


def _table_files() -> list[str]:
    """.txt/.csv/.tsv/.jsonl/.xlsx files in the input folder and its subfolders ("sub/names.csv"), sorted."""
    root = folder_paths.get_input_directory()
    found: list[str] = []
    seen = 0
    for folder, dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        # Called whenever ComfyUI reads the node's inputs: an input folder of many images must stay cheap to list.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < _MAX_DEPTH else []
        seen += len(names)
        found += [n if rel == "." else f"{rel}/{n}".replace(os.sep, "/") for n in names if file_format(n) and not n.startswith(".")]
        if len(found) >= _MAX_LISTED or seen >= _MAX_SCANNED:
            break
    return sorted(found)[:_MAX_LISTED]


class BatchGenPromptsFromFile(io.ComfyNode):
    """A text or table file in the input folder → one prompt per line, or per row of a named column (plus further columns)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/file/column/columns, outputs the prompts and up to 4 further columns, each a list of STRING."""
        return io.Schema(
            node_id="BatchGenPromptsFromFile",
            display_name="BatchGen Prompts From File",
            category=CATEGORY,
            description="Prompts from a file in ComfyUI's input folder: every non-empty line of a .txt, or every non-empty cell "
                        "of one named column of a .csv/.tsv/.jsonl/.xlsx (CSV from Chinese Excel or WPS in GBK is read too), "
                        "and the same rows' cells of up to 4 further columns (column_1 … column_4)." + _TWO_WAYS
                        + " As a batch each further column is a parameter of its own (its header, or header:parameter).",
            inputs=[
                io.String.Input(ids.INPUT_NODE_NAME_FIELD, default="prompt", multiline=False, tooltip=NAME_TOOLTIP),
                io.Combo.Input("file", options=_table_files(),
                               tooltip="A .txt, .csv, .tsv, .jsonl or .xlsx file in ComfyUI's input folder (subfolders included)."),
                io.String.Input("column", default="", multiline=False,
                                tooltip="The column whose cells are the prompts (its header); empty: the first column. "
                                        "JSONL: the key (default prompt). Ignored for .txt."),
                io.String.Input("columns", default="", multiline=False, optional=True,
                                tooltip="Up to 4 further columns, comma-separated, for outputs column_1 … column_4 "
                                        "(e.g. \"价格:price, color\"): header, or header:parameter for the batch parameter's name."),
            ],
            outputs=[io.String.Output(is_output_list=True, tooltip="The prompts, one list item per line or row."),
                     *(io.String.Output(f"column_{k}", display_name=f"column_{k}", is_output_list=True,
                                        tooltip=f"The cells of further column {k} of the same rows (empty text when not named).")
                       for k in range(1, MAX_EXTRA_COLUMNS + 1))],
        )

    @classmethod
    def fingerprint_inputs(cls, file: str, **_other) -> str | float:
        """The file's modification time and size: an edited file runs again."""
        try:
            stat = os.stat(os.path.join(folder_paths.get_input_directory(), file))
        except OSError:
            return float("nan")
        return f"{stat.st_mtime_ns}:{stat.st_size}"

    @classmethod
    def execute(cls, name: str, file: str, column: str, columns: str = "") -> io.NodeOutput:
        """Read the file's items and the further columns' cells."""
        root = os.path.realpath(folder_paths.get_input_directory())
        path = os.path.realpath(os.path.join(root, file))
        if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
            raise FileNotFoundError(f"[batchgen] Prompts From File '{name}': no such input file: {file}")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        try:
            specs = column_specs(columns, name)
            rows = file_rows(data, file, column, tuple(header for header, _ in specs))
        except ApiError as exc:
            raise ValueError(f"[batchgen] Prompts From File '{name}': {exc.message}") from None
        if not rows:
            raise ValueError(f"[batchgen] Prompts From File '{name}': {file} has no non-empty line or cell")
        extra = [[row[k] if k < len(row) else "" for row in rows] for k in range(1, MAX_EXTRA_COLUMNS + 1)]
        return io.NodeOutput([row[0] for row in rows], *extra)
