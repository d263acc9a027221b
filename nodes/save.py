"""BatchGen Save Image: SaveImage that also embeds the BatchGen job's batch, job, row, parameters and seed in each PNG."""

from __future__ import annotations

import os

import folder_paths
import numpy as np
import torch
from comfy.cli_args import args
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..batchgen import ids
from ..batchgen.savemeta import text_chunks
from ._comfy import io


class BatchGenSaveImage(io.ComfyNode):
    """Save PNGs named by the batch and job (as a BatchGen job) or by the prefix (under ComfyUI's Run)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs images/filename_prefix, an output node listing the saved files."""
        return io.Schema(
            node_id="BatchGenSaveImage",
            display_name="BatchGen Save Image",
            category=ids.NODE_CATEGORY,
            description="Saves PNGs to ComfyUI's output folder like Save Image. Run as a BatchGen job the files go to the batch's "
                        "folder, named by the job (output/batchgen/<batch>/<job number>_00001_.png, what BatchGen lists and "
                        "recovers), and each PNG carries a 'batchgen' text chunk with the batch id, job id, row, the job's "
                        "parameters and its seed, next to ComfyUI's usual prompt and workflow. Under ComfyUI's Run the files are "
                        "named by filename_prefix. In a list run it saves every item.",
            is_output_node=True,
            inputs=[
                io.Image.Input("images", tooltip="The images to save."),
                io.String.Input("filename_prefix", default="BatchGen",
                                tooltip="File name prefix under ComfyUI's Run (may include a subfolder, e.g. \"cards/fox\"); "
                                        "a BatchGen job replaces it with the batch folder and job number."),
            ],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo],
        )

    @classmethod
    def execute(cls, images: torch.Tensor, filename_prefix: str) -> io.NodeOutput:
        """Write each image as <prefix>_<counter>_.png with the metadata; list them for the UI and BatchGen's outcome collection."""
        output_dir = folder_paths.get_output_directory()
        folder, base, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, output_dir, images[0].shape[1],
                                                                               images[0].shape[0])
        chunks = {} if args.disable_metadata else text_chunks(cls.hidden.prompt, cls.hidden.extra_pnginfo)
        results = []
        for image in images:
            pixels = np.clip(255.0 * image.cpu().numpy(), 0, 255).astype(np.uint8)
            metadata = PngInfo()
            for key, text in chunks.items():
                metadata.add_text(key, text)
            name = f"{base}_{counter:05}_.png"
            Image.fromarray(pixels).save(os.path.join(folder, name), pnginfo=metadata, compress_level=4)
            results.append({"filename": name, "subfolder": subfolder, "type": "output"})
            counter += 1
        return io.NodeOutput(ui={"images": results})
