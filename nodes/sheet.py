"""Contact Sheet: a list of images (and labels) → one labelled grid image, drawn by the batch contact sheets' renderer."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..batchgen import ids
from ..batchgen.nodegrid import MAX_CELLS, grid_page, labels
from ..batchgen.sheets_render import render
from ._comfy import io


def _pictures(images: list[torch.Tensor]) -> list[Image.Image]:
    """Every image of every list item (a batch of 4 is 4 cells), as RGB pictures."""
    out: list[Image.Image] = []
    for batch in images:
        for frame in batch[: MAX_CELLS - len(out)]:
            out.append(Image.fromarray(np.clip(frame.cpu().numpy() * 255.0, 0, 255).astype(np.uint8)[..., :3]))
    return out


class BatchGenContactSheet(io.ComfyNode):
    """Images + labels → one grid image with column and row headers."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs images (all list items at once) and labels, output one IMAGE."""
        return io.Schema(
            node_id="BatchGenContactSheet",
            display_name="BatchGen Contact Sheet",
            category=ids.NODE_CATEGORY,
            description="Lays every image it receives (all items of a list, every image of a batch) out as one grid, row by row, "
                        "with a title and column and row labels (Chinese, Japanese and Korean labels render). Under ComfyUI's Run it "
                        "collects the whole list of one queue item; in a BatchGen batch each job makes its own sheet of that job's "
                        "images (a batch with axes gets its labelled grid from BatchGen itself).",
            is_input_list=True,
            inputs=[
                io.Image.Input("images", tooltip="The images: a list (e.g. from a Prompt List run) or a batch; at most 1024 cells."),
                io.String.Input("column_labels", default="", multiline=True, dynamic_prompts=False,
                                tooltip="One label per column (a line each, or link a list of texts); missing ones are numbered."),
                io.String.Input("row_labels", default="", multiline=True, dynamic_prompts=False,
                                tooltip="One label per row (a line each, or link a list of texts, e.g. a Prompt List's prompts)."),
                io.Int.Input("columns", default=0, min=0, max=MAX_CELLS,
                             tooltip="Images per row; 0: one column per column label, else a near-square grid."),
                io.String.Input("title", default="", multiline=False, tooltip="Text above the grid."),
                io.Int.Input("cell_size", default=256, min=32, max=2048, step=8,
                             tooltip="Largest side of a cell in pixels; cells shrink to keep the sheet within 8192 pixels."),
            ],
            outputs=[io.Image.Output(tooltip="The contact sheet, one RGB image.")],
        )

    @classmethod
    def execute(cls, images: list[torch.Tensor], column_labels: list[str], row_labels: list[str], columns: list[int],
                title: list[str], cell_size: list[int]) -> io.NodeOutput:
        """Render the sheet (every input arrives as a list: is_input_list)."""
        pictures = _pictures(images)
        if not pictures:
            raise ValueError("[batchgen] Contact Sheet: no images")
        page = grid_page(pictures, labels(column_labels), labels(row_labels), int(columns[0]), str(title[0]))
        sheet = render(page, cell=int(cell_size[0]))
        pixels = np.asarray(sheet.convert("RGB"), dtype=np.float32) / 255.0
        return io.NodeOutput(torch.from_numpy(pixels)[None,])
