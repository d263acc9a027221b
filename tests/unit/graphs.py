"""API-format workflow graphs shared by the unit tests (fresh copies on every call)."""

from __future__ import annotations

from typing import Any


def sd_graph() -> dict[str, Any]:
    """Classic SD1.5 text-to-image, as ComfyUI's 'Export (API)' writes it.

    The negative encoder has the *smaller* node id, so a detector that just takes "the first
    CLIPTextEncode" as the prompt would bind the wrong one.
    """
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, watermark", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox in the snow", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 156680208700286,
                "steps": 20,
                "cfg": 8.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["7", 0],
                "negative": ["6", 0],
                "latent_image": ["5", 0],
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    }


def flux_graph() -> dict[str, Any]:
    """FLUX.1-dev text-to-image with the custom sampler nodes."""
    return {
        "11": {"class_type": "DualCLIPLoader",
               "inputs": {"clip_name1": "t5xxl_fp16.safetensors", "clip_name2": "clip_l.safetensors", "type": "flux"}},
        "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "10": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["11", 0]}},
        "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
        "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["26", 0]}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 219670278747233}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 28, "denoise": 1.0, "model": ["12", 0]}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "13": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {"noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0], "latent_image": ["27", 0]},
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "flux", "images": ["8", 0]}},
    }


def img2img_graph() -> dict[str, Any]:
    """LoadImage → invert → save (nodes FakeHost knows)."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png", "upload": "image"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}},
    }


def card_graph() -> dict[str, Any]:
    """A model-free graph FakeHost can run: input nodes → text card → SaveImage."""
    return {
        "1": {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "hello"}},
        "2": {"class_type": "BatchGenInputInt", "inputs": {"name": "seed", "value": 0}},
        "5": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 0], "seed": ["2", 0], "width": 64, "height": 64, "font_size": 0}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "card"}},
    }


def fail_graph() -> dict[str, Any]:
    """A graph whose node "2" (FailNode) raises in FakeHost's worker."""
    return {
        "1": {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "x"}},
        "2": {"class_type": "FailNode", "inputs": {"text": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "fail"}},
    }


def is_link(value: Any) -> bool:
    """[node_id, output_index], as in the API format."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)
