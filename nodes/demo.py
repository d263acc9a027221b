"""Demo node: a model-free "image generator" that draws the prompt on a card, for trying batches on CPU."""

from __future__ import annotations

import numpy as np
import torch

from ..batchgen import ids
from ._comfy import io
from .textcard import render_text_card


class BatchGenTextCard(io.ComfyNode):
    """Render text as an image: stands in for a model in demo and test workflows."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs text/width/height/seed/font_size, output IMAGE."""
        return io.Schema(
            node_id="BatchGenTextCard",
            display_name="Text Card (BatchGen demo)",
            category=ids.NODE_CATEGORY,
            description=(
                "Draws the text on a coloured card: a fast, model-free stand-in for an image generator, "
                "to try batches on any machine. Latin, CJK and emoji use the fonts installed on the server; "
                "the seed picks the colours."
            ),
            inputs=[
                io.String.Input("text", default="", multiline=True, tooltip="Text to draw, e.g. the prompt of the job."),
                io.Int.Input("width", default=768, min=64, max=4096, step=8, tooltip="Card width in pixels."),
                io.Int.Input("height", default=512, min=64, max=4096, step=8, tooltip="Card height in pixels."),
                io.Int.Input("seed", default=0, min=0, max=2**64 - 1, tooltip="Picks the card's colours: same seed, same card."),
                io.Int.Input("font_size", default=0, min=0, max=512, tooltip="Font size in pixels; 0 fits the text to the card."),
            ],
            outputs=[io.Image.Output(tooltip="The card as a 1-image batch.")],
        )

    @classmethod
    def execute(cls, text: str, width: int, height: int, seed: int, font_size: int) -> io.NodeOutput:
        """Render the card into a [1,H,W,3] float tensor."""
        card = render_text_card(text, width, height, seed=seed, font_size=font_size)
        pixels = np.asarray(card, dtype=np.float32) / 255.0
        return io.NodeOutput(torch.from_numpy(pixels)[None,])
