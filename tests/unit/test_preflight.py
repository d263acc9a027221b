"""Preflight: every missing node type and model file at once, by name, with its folder, pack and download URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.nodepacks import parse_manager_map
from batchgen_ext.batchgen.preflight import missing_requirements, preflight_error
from batchgen_ext.batchgen.registry import TemplateRegistry
from batchgen_ext.batchgen.templates import build_template
from batchgen_ext.batchgen.valuecheck import normalise_node

from tests.fakehost import CKPT_NAMES

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
EMPTY = ([], {})
# Node definitions as a ComfyUI without any model files and without BiRefNet (v0.8.0) gives them.
DEFS = {
    "UNETLoader": normalise_node({"required": {"unet_name": EMPTY, "weight_dtype": (["default", "fp8_e4m3fn"], {})}}),
    "CLIPLoader": normalise_node({"required": {"clip_name": EMPTY, "type": (["sd3", "qwen_image"], {})}}),
    "VAELoader": normalise_node({"required": {"vae_name": (["pixel_space"], {})}}),
    "CheckpointLoaderSimple": normalise_node({"required": {"ckpt_name": (CKPT_NAMES, {})}}),
    "LoadImage": normalise_node({"required": {"image": (["char.png"], {"image_upload": True})}}),
    "SaveImage": normalise_node({"required": {"images": ("IMAGE", {}), "filename_prefix": ("STRING", {})}}, output=True),
    **{ct: normalise_node({}) for ct in ("ModelSamplingAuraFlow", "CLIPTextEncode", "EmptySD3LatentImage", "KSampler", "VAEDecode",
                                         "InvertMask", "JoinImageWithAlpha", "EmptyLatentImage")},
}
FOLDERS = {"checkpoints": list(CKPT_NAMES), "diffusion_models": [], "text_encoders": [], "vae": ["pixel_space"], "loras": []}


def registry() -> TemplateRegistry:
    return TemplateRegistry(WORKFLOWS, None)


def run(template, specs=(), folders=FOLDERS, manager=None):
    return missing_requirements(template, list(specs), DEFS, folders.get, sorted(folders), manager)


def test_qwen_image_names_its_three_files_with_folders_and_urls_in_one_error():
    template = registry().get("qwen")  # the old tool's workflow_type
    nodes, models = run(template)
    assert nodes == []
    assert [(m["name"], m["folder"]) for m in models] == [
        ("qwen_image_fp8_e4m3fn.safetensors", "diffusion_models"),
        ("qwen_2.5_vl_7b_fp8_scaled.safetensors", "text_encoders"),
        ("qwen_image_vae.safetensors", "vae")]
    assert all(m["url"].startswith("https://huggingface.co/Comfy-Org/") and m["folder_known"] for m in models)
    err = preflight_error(nodes, models)
    assert err.status == 422 and err.code == "preflight_failed"
    assert err.message.startswith("this ComfyUI lacks 3 model files the workflow needs: model 'qwen_image_fp8_e4m3fn.safetensors' "
                                  "in models/diffusion_models/, download https://huggingface.co/")
    assert err.details["missing_models"] == models


def test_a_file_that_is_present_is_not_named():
    folders = {**FOLDERS, "vae": ["qwen_image_vae.safetensors"]}
    defs_vae = normalise_node({"required": {"vae_name": (["qwen_image_vae.safetensors"], {})}})
    template = registry().get("qwen-image")
    _, models = missing_requirements(template, [], {**DEFS, "VAELoader": defs_vae}, folders.get, sorted(folders))
    assert "qwen_image_vae.safetensors" not in {m["name"] for m in models} and len(models) == 2


def test_missing_node_types_come_with_their_pack_and_their_model_in_an_unknown_folder():
    template = registry().get("rembg")
    nodes, models = run(template)
    assert [(n["class_type"], n["node_ids"]) for n in nodes] == [("LoadBackgroundRemovalModel", ["2"]), ("RemoveBackground", ["3"])]
    assert all("after v0.20.1" in n["pack"]["name"] and n["pack"]["source"] == "template" for n in nodes)
    assert [(m["name"], m["folder"], m["folder_known"]) for m in models] == [("birefnet.safetensors", "background_removal", False)]
    message = preflight_error(nodes, models).message
    assert message.startswith("this ComfyUI lacks 2 node types and 1 model file the workflow needs: node type LoadBackgroundRemovalModel")
    assert "a folder this ComfyUI does not know" in message


def test_manager_map_names_the_pack_of_an_unknown_custom_node():
    doc = {"https://github.com/ltdrdata/ComfyUI-Impact-Pack": [["FaceDetailer", "SAMLoader"], {"title_aux": "ComfyUI Impact Pack"}],
           "https://github.com/other/dup": [["FaceDetailer"], {"title_aux": "Other"}]}
    packs = parse_manager_map(doc)
    template = build_template({"1": {"class_type": "FaceDetailer", "inputs": {}},
                               "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}})
    nodes, models = run(template, manager=packs)
    assert nodes == [{"class_type": "FaceDetailer", "node_ids": ["1"],
                      "pack": {"name": "ComfyUI Impact Pack", "source": "comfyui-manager",
                               "url": "https://github.com/ltdrdata/ComfyUI-Impact-Pack",
                               "hint": "install ComfyUI Impact Pack (ComfyUI-Manager → Install Custom Nodes)"}}]
    assert models == []
    unknown = build_template({"1": {"class_type": "NoSuchNode", "inputs": {}}})
    assert run(unknown)[0][0]["pack"] is None
    assert "no known node pack provides it" in preflight_error(*run(unknown)).message


def test_bound_model_values_are_checked_per_job_with_the_first_job_and_a_close_match():
    template = build_template({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}}},
                              {"ckpt": "1.ckpt_name"})

    class Spec:
        def __init__(self, params):
            self.params = params

    specs = [Spec({"ckpt": CKPT_NAMES[i % 3]}) for i in range(30)] + [Spec({"ckpt": "pony.safetensor"}), Spec({})]
    _, models = run(template, specs)
    assert [(m["name"], m["job"], m["close_matches"]) for m in models] == [("pony.safetensor", 30, ["pony.safetensors"])]


def test_a_custom_loader_is_recognised_by_its_file_list_and_a_non_model_combo_is_left_alone():
    defs = {**DEFS, "MyLoader": normalise_node({"required": {"weights": (["a.pt", "b.pt"], {}), "mode": (["fast", "slow"], {})}})}
    folders = {**FOLDERS, "upscale_models": ["a.pt", "b.pt"]}
    template = build_template({"1": {"class_type": "MyLoader", "inputs": {"weights": "c.pt", "mode": "medium"}}})
    _, models = missing_requirements(template, [], defs, folders.get, sorted(folders))
    assert [(m["name"], m["folder"]) for m in models] == [("c.pt", "upscale_models")]  # "medium" is the per-value checks' business


def test_nothing_missing_is_no_error():
    template = build_template({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT_NAMES[0]}},
                               "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}})
    assert run(template) == ([], [])
    assert preflight_error([], []) is None


def test_every_bundled_template_carries_a_complete_manifest_for_its_model_inputs():
    reg = registry()
    for template in reg.list():
        nodes, models = run(template, folders={})
        files = {(m.name, m.folder) for m in template.extra.get("models") or ()}
        assert {(m["name"], m["folder"]) for m in models} <= files, template.id
        for m in models:
            assert m.get("url"), (template.id, m)
    text = json.dumps([t.summary() for t in reg.list()], ensure_ascii=False)
    assert "qwen_image_vae.safetensors" in text


def test_the_registry_reads_the_template_inside_an_editor_workflow_and_skips_plain_ones(tmp_path):
    bundled = json.loads((WORKFLOWS / "sdxl.json").read_text(encoding="utf-8"))
    assert bundled["nodes"] and bundled["links"] and bundled["version"] == 0.4  # an editor workflow …
    (tmp_path / "mine.json").write_text(json.dumps(bundled), encoding="utf-8")
    plain = {k: v for k, v in bundled.items() if k != "extra"}
    (tmp_path / "plain.json").write_text(json.dumps(plain), encoding="utf-8")
    clash = {**bundled["extra"]["batchgen"], "id": "other", "name": "Other", "aliases": ["sdxl", "sdxl2"]}
    (tmp_path / "other.json").write_text(json.dumps(clash), encoding="utf-8")
    reg = TemplateRegistry(tmp_path, None)
    assert sorted(t.id for t in reg.list()) == ["other", "sdxl"]  # … whose extra.batchgen is the template; plain.json is skipped
    assert reg.get("sdxl").workflow["1"]["class_type"] == "CheckpointLoaderSimple"
    assert reg.get("sdxl").name == "SDXL 1.0 text-to-image"  # an alias never shadows a template id …
    assert reg.get("sdxl2").id == "other"  # … the other alias works
    with pytest.raises(ApiError) as err:
        reg.get("mine")  # the file name is not an id: the id inside is
    assert err.value.status == 404


def test_every_bundled_file_is_an_editor_workflow_whose_nodes_match_its_template():
    for path in sorted(WORKFLOWS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        api = doc["extra"]["batchgen"]["workflow"]
        assert sorted(n["type"] for n in doc["nodes"]) == sorted(n["class_type"] for n in api.values()), path.name
        assert {n["id"] for n in doc["nodes"]} == {int(k) for k in api}, path.name
        links = sum(1 for n in api.values() for v in n["inputs"].values() if isinstance(v, list))
        assert len(doc["links"]) == links, path.name
        models = {m["name"] for m in doc["extra"]["batchgen"].get("models", [])}
        on_nodes = {m["name"] for n in doc["nodes"] for m in (n.get("properties") or {}).get("models", [])}
        assert on_nodes == models, path.name  # the frontend's missing-models dialog offers each download
