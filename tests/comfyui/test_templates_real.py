"""The real-model templates on a real ComfyUI: they fit its node definitions, bind, and fail preflight naming exactly what is missing.

No weights exist on this machine. One model file (Qwen's VAE) is placed as an empty file in a model
folder of this server's own, so "exactly the missing files" is tested against a folder that holds
one of them. Nothing of a failed submission is stored.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from .harness import comfy_env, new_server

API = "/batchgen/v1"
REAL = {"qwen-image": "qwen", "qwen-image-edit": "qwen_edit", "flux-schnell": "flux", "sdxl": None, "cutout": "rembg"}
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
PRESENT = ("vae", "qwen_image_vae.safetensors")
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
MANAGER_MAP = {"https://github.com/ltdrdata/ComfyUI-Impact-Pack": [["FaceDetailer", "SAMLoader"], {"title_aux": "ComfyUI Impact Pack"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if comfy_env() is None:
        pytest.skip("no ComfyUI")
    models = tmp_path_factory.mktemp("models")
    (models / PRESENT[0]).mkdir()
    (models / PRESENT[0] / PRESENT[1]).write_bytes(b"")
    config = models / "extra_models.yaml"
    config.write_text(f"batchgen_test_models:\n    base_path: {models}\n    vae: vae\n")
    srv = new_server(tmp_path_factory.mktemp("comfy"), extra_args=["--extra-model-paths-config", str(config)])
    # A stand-in for an installed ComfyUI-Manager: only its node map (ComfyUI logs the folder as a failed custom node).
    manager = srv.data_dir / "custom_nodes" / "ComfyUI-Manager"
    manager.mkdir(parents=True)
    (manager / "extension-node-map.json").write_text(json.dumps(MANAGER_MAP), encoding="utf-8")
    srv.start()
    # An RGBA input image for the cut-out and the edit templates' image parameter.
    Image.new("RGBA", (64, 48), (200, 30, 30, 255)).save(srv.input_dir / "char.png")
    yield srv
    srv.stop()


def embedded(template_id: str) -> dict:
    """Our template data as the bundled file carries it."""
    doc = json.loads((WORKFLOWS / f"{template_id}.json").read_text(encoding="utf-8"))
    return doc["extra"]["batchgen"] if "nodes" in doc else doc


def manifest(template_id: str) -> dict[str, str]:
    return {m["name"]: m["folder"] for m in embedded(template_id)["models"]}


def batches_total(server) -> int:
    return server.get(f"{API}/batches?limit=1")["total"]


def spec_type(spec) -> str:
    kind = spec[0]
    return "COMBO" if isinstance(kind, list) else kind


def check_against_object_info(workflow: dict, info: dict) -> list[str]:
    """Every node input the graph sets fits the running ComfyUI's definition (types, links, ranges, non-model choices)."""
    problems = []
    for node_id, node in workflow.items():
        spec = info.get(node["class_type"])
        if spec is None:
            continue  # missing node types are preflight's to report
        declared = {**spec["input"].get("required", {}), **spec["input"].get("optional", {})}
        for name in spec["input"].get("required", {}):
            if name not in node["inputs"]:
                problems.append(f"{node_id}.{name}: required input not set")
        for name, value in node["inputs"].items():
            if name not in declared:
                problems.append(f"{node_id}.{name}: {node['class_type']} has no such input")
                continue
            kind, extra = spec_type(declared[name]), (declared[name][1] if len(declared[name]) > 1 else {})
            if isinstance(value, list):
                source = workflow[value[0]]
                out_types = info.get(source["class_type"], {}).get("output")
                if out_types is not None and out_types[value[1]] != kind and kind != "*":
                    problems.append(f"{node_id}.{name}: link from {source['class_type']} gives {out_types[value[1]]}, wants {kind}")
            elif kind in ("INT", "FLOAT"):
                if "min" in extra and value < extra["min"] or "max" in extra and value > extra["max"]:
                    problems.append(f"{node_id}.{name}: {value} out of range")
            elif kind == "COMBO":
                options = declared[name][0] if isinstance(declared[name][0], list) else extra.get("options", [])
                if options and value not in options and not name.endswith("_name") and name != "image":
                    problems.append(f"{node_id}.{name}: {value!r} not among {options[:5]}…")
            elif kind not in WIDGET_TYPES:
                problems.append(f"{node_id}.{name}: a {kind} input needs a link, got {value!r}")
    return problems


def test_every_real_template_fits_the_node_definitions_of_this_comfyui_and_binds(server):
    info = server.get("/object_info")
    listed = {t["id"]: t for t in server.get(f"{API}/templates")["templates"]}
    for template_id, alias in REAL.items():
        doc = embedded(template_id)
        assert check_against_object_info(doc["workflow"], info) == [], template_id
        detail = server.get(f"{API}/templates/{template_id}")
        params = {p["name"]: p for p in detail["parameters"]}
        assert set(params) == set(doc["bindings"]), template_id
        for param in params.values():
            for slot in param["slots"]:
                node_id, _, name = slot.partition(".")
                assert name in doc["workflow"][node_id]["inputs"], slot
        assert {m["name"] for m in listed[template_id]["models"]} == set(manifest(template_id))
        assert all(m["url"].startswith("https://huggingface.co/") for m in listed[template_id]["models"])
        if alias is not None:
            assert listed[template_id]["aliases"] == [alias]
            assert server.get(f"{API}/templates/{alias}")["id"] == template_id
    for template_id in ("qwen-image", "flux-schnell", "sdxl"):
        assert {p["name"] for p in listed[template_id]["parameters"]} == {"prompt", "negative", "seed", "width", "height", "steps",
                                                                          "cfg", "batch_size"}
    assert {p["name"] for p in listed["qwen-image-edit"]["parameters"]} == {"image", "prompt", "negative", "seed", "steps", "cfg",
                                                                           "batch_size"}
    assert [p["name"] for p in listed["cutout"]["parameters"]] == ["image"]


def missing_nodes_here(info: dict, template_id: str) -> set[str]:
    return {n["class_type"] for n in embedded(template_id)["workflow"].values() if n["class_type"] not in info}


@pytest.mark.parametrize("template_id", list(REAL))
def test_a_submission_fails_preflight_naming_exactly_the_missing_files_and_stores_nothing(server, template_id):
    info = server.get("/object_info")
    ref = REAL[template_id] or template_id
    params = {"image": "char.png"} if "image" in embedded(template_id)["bindings"] else {}
    if "batch_size" in embedded(template_id)["bindings"]:
        params["batch_size"] = 3
    body = {"template": ref, "prompts": ["一只猫 a cat", "a dog 🐶"] if "prompt" in embedded(template_id)["bindings"] else None,
            "params": params}
    body = {k: v for k, v in body.items() if v is not None}
    before = batches_total(server)
    status, err = server.post(f"{API}/batches", body)
    assert status == 422 and err["error"] == "preflight_failed", err
    expected = {name: folder for name, folder in manifest(template_id).items() if (folder, name) != PRESENT}
    got = {m["name"]: m["folder"] for m in err["details"]["missing_models"]}
    assert got == expected, err
    urls = {m["name"]: m["url"] for m in embedded(template_id)["models"]}
    for entry in err["details"]["missing_models"]:
        assert entry["url"] == urls[entry["name"]]
        assert entry["name"] in err["message"] and f"models/{entry['folder']}/" in err["message"]
    missing_types = missing_nodes_here(info, template_id)
    assert {n["class_type"] for n in err["details"]["missing_nodes"]} == missing_types
    for node in err["details"]["missing_nodes"]:
        assert node["pack"] is not None and "ComfyUI" in node["pack"]["name"] and node["class_type"] in err["message"]
    if template_id == "cutout":
        birefnet = err["details"]["missing_models"][0]
        assert birefnet["folder_known"] is ("LoadBackgroundRemovalModel" in info)
    assert batches_total(server) == before, "a failed preflight stored a batch"
    # The preview shows the same problem first, with the jobs it would have made (batch_size reaching each job).
    status, preview = server.post(f"{API}/batches/preview", body)
    assert status == 200 and preview["problems"][0]["error"] == "preflight_failed", preview
    assert preview["problems"][0]["details"] == err["details"]
    assert preview["total"] == (2 if "prompts" in body else 1)
    if "batch_size" in params:
        assert all(job["params"]["batch_size"] == 3 for job in preview["jobs"])
    assert not any(p["error"] in ("invalid_param_value", "workflow_invalid") for p in preview["problems"]), preview
    assert batches_total(server) == before


def test_generate_with_the_old_tools_workflow_type_names_the_missing_files(server):
    status, err = server.post(f"{API}/generate", {"workflow_type": "qwen", "prompt": "海边的灯塔", "width": 1024, "batch_size": 2})
    assert status == 422 and err["error"] == "preflight_failed", err
    assert {m["name"] for m in err["details"]["missing_models"]} == {"qwen_image_fp8_e4m3fn.safetensors",
                                                                    "qwen_2.5_vl_7b_fp8_scaled.safetensors"}


def test_an_out_of_range_batch_size_is_still_reported_beside_the_missing_models_in_the_preview(server):
    status, preview = server.post(f"{API}/batches/preview", {"template": "sdxl", "prompts": ["x"], "params": {"batch_size": 5000}})
    assert status == 200, preview
    codes = [p["error"] for p in preview["problems"]]
    assert codes == ["preflight_failed", "invalid_param_value"], preview
    assert re.search(r"batch_size.*4096", preview["problems"][1]["message"]), preview


def test_the_cutout_tail_saves_a_png_that_keeps_its_alpha_channel(server):
    """Everything after BiRefNet's mask, model-free: the mask through InvertMask + JoinImageWithAlpha reaches SaveImage as RGBA."""
    graph = {k: v for k, v in embedded("cutout")["workflow"].items() if v["class_type"] not in ("LoadBackgroundRemovalModel",
                                                                                               "RemoveBackground", "InvertMask")}
    # LoadImage's mask is 1 - alpha, as InvertMask makes of BiRefNet's foreground mask: it stands in for the model.
    graph["5"]["inputs"]["alpha"] = ["1", 1]
    half = Image.new("RGBA", (64, 48), (200, 30, 30, 255))
    half.paste((0, 0, 0, 0), (32, 0, 64, 48))
    half.save(server.input_dir / "half.png")
    status, batch = server.post(f"{API}/batches", {"template": {"workflow": graph, "bindings": {"image": "1.image"}},
                                                   "params": {"image": "half.png"}})
    assert status == 201, batch
    done = server.wait_batch(batch["id"], timeout=120)
    assert done["status"] == "succeeded", done
    [job] = server.all_jobs(batch["id"])
    out = job["outputs"][0]
    with Image.open(server.output_dir / out["subfolder"] / out["filename"]) as img:
        assert img.mode == "RGBA" and img.size == (64, 48)
        alpha = img.getchannel("A")
        assert alpha.getpixel((5, 5)) == 255 and alpha.getpixel((60, 5)) == 0


def test_a_custom_node_type_is_named_with_its_pack_from_comfyui_managers_node_map(server):
    workflow = {"1": {"class_type": "LoadImage", "inputs": {"image": "char.png"}},
                "2": {"class_type": "FaceDetailer", "inputs": {"image": ["1", 0]}},
                "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
    before = batches_total(server)
    status, err = server.post(f"{API}/batches", {"template": {"workflow": workflow}})
    assert status == 422 and err["error"] == "preflight_failed", err
    assert err["details"]["missing_nodes"] == [{
        "class_type": "FaceDetailer", "node_ids": ["2"],
        "pack": {"name": "ComfyUI Impact Pack", "source": "comfyui-manager", "url": "https://github.com/ltdrdata/ComfyUI-Impact-Pack",
                 "hint": "install ComfyUI Impact Pack (ComfyUI-Manager → Install Custom Nodes)"}}]
    assert "node type FaceDetailer (from ComfyUI Impact Pack: install ComfyUI Impact Pack" in err["message"]
    assert batches_total(server) == before
