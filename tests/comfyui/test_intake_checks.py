"""Intake checks every job's values against ComfyUI's own node definitions (issue 6 point 4), on a real ComfyUI."""

from __future__ import annotations

import pytest

from .harness import comfy_env, new_server

API = "/batchgen/v1"
CHECKPOINTS = [f"{name}.safetensors" for name in ("sdxl", "sd15", "flux-dev", "flux-schnell", "sd3", "sd35-large", "pony",
                                                  "juggernaut", "dreamshaper", "realvis", "animagine", "playground")]


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    """A ComfyUI whose checkpoint list holds 12 (empty, never loaded) model files."""
    if comfy_env() is None:
        pytest.skip("no ComfyUI")
    models = tmp_path_factory.mktemp("models")
    (models / "checkpoints").mkdir()
    for name in CHECKPOINTS:
        (models / "checkpoints" / name).write_bytes(b"")
    config = models / "models.yaml"
    config.write_text(f"batchgen_test_models:\n    base_path: {models}\n    checkpoints: checkpoints\n")
    server = new_server(tmp_path_factory.mktemp("comfy"), extra_args=["--extra-model-paths-config", str(config)])
    server.start()
    yield server
    server.stop()


def batch_count(comfy) -> int:
    return comfy.get(f"{API}/batches?limit=1")["total"]


def test_width_over_the_text_card_max_in_job_500_is_refused_and_nothing_is_stored(comfy):
    before = batch_count(comfy)
    jobs = [{"prompt": f"card {i}", "width": 256, "height": 128} for i in range(600)]
    jobs[500]["width"] = 4104  # the BatchGenTextCard node's max is 4096; the value reaches it through an Input node's link
    status, body = comfy.post(f"{API}/batches", {"template": "text-card", "jobs": jobs})
    assert status == 400, body
    assert body["error"] == "invalid_param_value"
    assert "job 500" in body["message"] and "'width'" in body["message"] and "from 64 to 4096" in body["message"], body
    assert body["details"]["job"] == 500 and body["details"]["param"] == "width" and body["details"]["max"] == 4096
    assert batch_count(comfy) == before
    assert comfy.native_queue() == (0, 0)


def test_negative_width_in_a_later_job_is_refused(comfy):
    before = batch_count(comfy)
    status, body = comfy.post(f"{API}/batches", {"template": "text-card", "prompts": ["a", "b", "c"],
                                                 "matrix": {"width": [128, -5]}})
    assert status == 400 and body["details"]["param"] == "width" and body["details"]["min"] == 64, body
    assert body["details"]["job"] == 1 and "job 1" in body["message"]
    assert batch_count(comfy) == before


def test_misspelt_checkpoint_in_one_job_fails_preflight_naming_the_job_and_the_closest_model(comfy):
    before = batch_count(comfy)
    workflow = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
                "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["1", 1]}},
                "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0],
                                                           "latent_image": ["3", 0], "seed": 1, "steps": 1, "cfg": 1.0,
                                                           "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
                "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
                "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}}}
    jobs = [{"ckpt": CHECKPOINTS[i % 4], "prompt": f"p{i}"} for i in range(40)]
    jobs[23]["ckpt"] = "sdxl.safetensor"
    status, body = comfy.post(f"{API}/batches", {"template": {"workflow": workflow, "bindings": {"ckpt": "1.ckpt_name"}}, "jobs": jobs})
    assert status == 422 and body["error"] == "preflight_failed", body
    [missing] = body["details"]["missing_models"]
    assert (missing["name"], missing["folder"], missing["job"]) == ("sdxl.safetensor", "checkpoints", 23), missing
    assert "(job 23) in models/checkpoints/" in body["message"]
    assert "did you mean 'sdxl.safetensors'?" in body["message"], body["message"]
    assert batch_count(comfy) == before


def test_short_combo_lists_the_choices_and_valid_values_run(comfy):
    workflow = {"1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 32, "batch_size": 1, "color": 255}},
                "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 48,
                                                             "height": 48, "crop": "disabled"}},
                "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
    template = {"workflow": workflow, "bindings": {"method": "2.upscale_method", "color": "1.color"}}
    before = batch_count(comfy)
    status, body = comfy.post(f"{API}/batches", {"template": template, "jobs": [{"method": "bilinear"}, {"method": "bilinar"}]})
    assert status == 400 and body["details"]["job"] == 1, body
    assert "'bilinear'" in body["message"] and "'lanczos'" in body["message"]
    status, body = comfy.post(f"{API}/batches", {"template": template, "jobs": [{"color": 0}, {"color": 2**24}]})
    assert status == 400 and body["details"]["param"] == "color" and body["details"]["max"] == 16777215, body
    assert batch_count(comfy) == before

    status, batch = comfy.post(f"{API}/batches", {"template": template, "jobs": [{"method": m, "color": i} for i, m in
                                                                                 enumerate(["bilinear", "area", "lanczos"])]})
    assert status == 201, batch
    done = comfy.wait_batch(batch["id"])
    assert done["counts"]["succeeded"] == 3, done
