"""BatchGen Input nodes: named parameters that a batch fills in, one value per job.

The batch system finds these nodes in API-format workflows by class_type and reads
``inputs["name"]`` and ``inputs["value"]``; run without a batch, a node outputs its value.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys

import folder_paths
import node_helpers
import numpy as np
import torch
from PIL import Image, ImageOps, ImageSequence

from ..batchgen import ids
from ._comfy import io

log = logging.getLogger("batchgen.nodes")

CATEGORY = ids.NODE_CATEGORY
NAME_TOOLTIP = "Parameter name. A batch sets this input's value per job by this name; keep it unique in the workflow."
EMPTY_MASK_SIZE = 64  # LoadImage's placeholder mask for images without alpha


def _name_input(default: str) -> io.String.Input:
    """The `name` input shared by every BatchGen Input node."""
    return io.String.Input(ids.INPUT_NODE_NAME_FIELD, default=default, multiline=False, tooltip=NAME_TOOLTIP)


def _description(kind: str) -> str:
    """Node description shared by the input nodes."""
    return (
        f"A named {kind} parameter for batch generation. Each job of a batch replaces `value` with its own {kind}; "
        "run on its own, the node outputs the value set here."
    )


class BatchGenInputText(io.ComfyNode):
    """Text parameter (e.g. a prompt)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/value (multiline), output STRING."""
        return io.Schema(
            node_id="BatchGenInputText",
            display_name="BatchGen Input (text)",
            category=CATEGORY,
            description=_description("text"),
            inputs=[
                _name_input("prompt"),
                io.String.Input(
                    ids.INPUT_NODE_VALUE_FIELD, default="", multiline=True, tooltip="Default text, used when no batch sets this parameter."
                ),
            ],
            outputs=[io.String.Output(tooltip="The text of the current job (or the default).")],
        )

    @classmethod
    def execute(cls, name: str, value: str) -> io.NodeOutput:
        """Pass the value through."""
        return io.NodeOutput(value)


class BatchGenInputInt(io.ComfyNode):
    """Integer parameter (e.g. a seed or a step count)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/value (seed-sized range), output INT."""
        return io.Schema(
            node_id="BatchGenInputInt",
            display_name="BatchGen Input (int)",
            category=CATEGORY,
            description=_description("integer"),
            inputs=[
                _name_input("seed"),
                io.Int.Input(
                    ids.INPUT_NODE_VALUE_FIELD,
                    default=0,
                    min=-(2**63),
                    max=2**64 - 1,  # the range of KSampler's seed
                    step=1,
                    tooltip="Default integer, used when no batch sets this parameter.",
                ),
            ],
            outputs=[io.Int.Output(tooltip="The integer of the current job (or the default).")],
        )

    @classmethod
    def execute(cls, name: str, value: int) -> io.NodeOutput:
        """Pass the value through."""
        return io.NodeOutput(value)


class BatchGenInputFloat(io.ComfyNode):
    """Floating-point parameter (e.g. CFG or denoise)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/value, output FLOAT."""
        return io.Schema(
            node_id="BatchGenInputFloat",
            display_name="BatchGen Input (float)",
            category=CATEGORY,
            description=_description("number"),
            inputs=[
                _name_input("cfg"),
                io.Float.Input(
                    ids.INPUT_NODE_VALUE_FIELD,
                    default=1.0,
                    min=-float(sys.maxsize),  # as wide as core's Float primitive
                    max=float(sys.maxsize),
                    step=0.01,
                    tooltip="Default number, used when no batch sets this parameter.",
                ),
            ],
            outputs=[io.Float.Output(tooltip="The number of the current job (or the default).")],
        )

    @classmethod
    def execute(cls, name: str, value: float) -> io.NodeOutput:
        """Pass the value through."""
        return io.NodeOutput(value)


class BatchGenInputImage(io.ComfyNode):
    """Image parameter: a file in ComfyUI's input folder, loaded like core LoadImage."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Inputs name/value (input-folder image with upload), outputs IMAGE and MASK."""
        return io.Schema(
            node_id="BatchGenInputImage",
            display_name="BatchGen Input (image)",
            category=CATEGORY,
            description=_description("image") + " Images are files in ComfyUI's input folder, loaded like Load Image.",
            inputs=[
                _name_input("image"),
                io.Combo.Input(
                    ids.INPUT_NODE_VALUE_FIELD,
                    options=_input_images(),
                    upload=io.UploadType.image,
                    tooltip="Default image from the input folder (or upload one); a batch may name any input file, "
                    'also in a subfolder ("sub/x.png") or annotated ("x.png [output]").',
                ),
            ],
            outputs=[
                io.Image.Output(tooltip="The image (all frames of an animation), RGB."),
                io.Mask.Output(tooltip="Transparency as a mask (1 = transparent), empty when the image has no alpha."),
            ],
        )

    @classmethod
    def validate_inputs(cls, value: str | None = None) -> bool | str:
        """Accept any existing file under the input/output/temp folder, not only the listed ones (like LoadImage)."""
        # Declaring `value` here also turns off ComfyUI's "value not in list" check for it.
        if value is None:
            return True  # linked from another node: known only at run time, execute checks it
        if _resolve(value) is None:
            return f"Invalid image file: {value}"
        return True

    @classmethod
    def fingerprint_inputs(cls, value: str, **_other) -> str | float:
        """Hash of the file: an image replaced under the same name runs again."""
        path = _resolve(value)
        if path is None:
            return float("nan")  # unreadable: never serve a cached result
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    @classmethod
    def execute(cls, name: str, value: str) -> io.NodeOutput:
        """Load the image and its alpha mask."""
        path = _resolve(value)
        if path is None:
            raise FileNotFoundError(f"[batchgen] image parameter '{name}': no such input file: {value}")
        image, mask = load_image(path)
        return io.NodeOutput(image, mask)


def _input_images() -> list[str]:
    """Image files at the top of the input folder, sorted (the same list as LoadImage)."""
    input_dir = folder_paths.get_input_directory()
    try:
        files = [f for f in os.listdir(input_dir) if os.path.isfile(os.path.join(input_dir, f))]
    except OSError:
        return []
    return sorted(folder_paths.filter_files_content_types(files, ["image"]))


def _resolve(value: str | None) -> str | None:
    """Path of an annotated input name ("sub/x.png [input]"), or None if missing or outside its folder."""
    if not isinstance(value, str) or not value.strip():
        return None
    name, base = folder_paths.annotated_filepath(value)
    root = os.path.realpath(base or folder_paths.get_input_directory())
    path = os.path.realpath(os.path.join(root, name))
    # Batch values come from API clients: refuse "../" escapes (ComfyUI v0.8.0 does not check).
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        return None
    return path


def load_image(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames as IMAGE [N,H,W,3] and alpha as MASK [N,H,W], like ComfyUI v0.8.0's LoadImage."""
    img = node_helpers.pillow(Image.open, path)
    images: list[torch.Tensor] = []
    masks: list[torch.Tensor] = []
    size = None
    for frame in ImageSequence.Iterator(img):
        frame = node_helpers.pillow(ImageOps.exif_transpose, frame)
        if frame.mode == "I":  # 16-bit greyscale PNG
            frame = frame.point(lambda v: v * (1 / 255))
        rgb = frame.convert("RGB")
        size = size or rgb.size
        if rgb.size != size:
            continue  # frames of another size cannot be batched
        images.append(torch.from_numpy(np.array(rgb).astype(np.float32) / 255.0)[None,])
        masks.append(_alpha_mask(frame)[None,])
        if img.format == "MPO":
            break  # MPO stereo pictures: the first frame only
    return torch.cat(images, dim=0), torch.cat(masks, dim=0)


def _alpha_mask(frame: Image.Image) -> torch.Tensor:
    """1 - alpha, or LoadImage's empty 64x64 mask when the frame has no transparency."""
    if "A" in frame.getbands():
        alpha = frame.getchannel("A")
    elif frame.mode == "P" and "transparency" in frame.info:
        alpha = frame.convert("RGBA").getchannel("A")
    else:
        return torch.zeros((EMPTY_MASK_SIZE, EMPTY_MASK_SIZE), dtype=torch.float32)
    return 1.0 - torch.from_numpy(np.array(alpha).astype(np.float32) / 255.0)
