"""The typed API on a real ComfyUI: JSON 404/405 under both prefixes (ComfyUI's own routes untouched), hostile bodies
answered 4xx, ComfyUI's validation failure in words, the old tool's /generate body, the generated OpenAPI served."""

from __future__ import annotations

import json

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_PUBLIC_URL": "https://gpu.example.com/comfy"}
JSON = {"Content-Type": "application/json"}


def test_unknown_paths_and_wrong_methods_are_our_json_under_both_prefixes(comfy):
    for prefix in ("", "/api"):
        status, body, _ = comfy.request("GET", f"{prefix}{API}/nope")
        assert status == 404 and body["error"] == "no_such_route", (prefix, status, body)
        status, body, headers = comfy.request("PUT", f"{prefix}{API}/batches", {})
        assert status == 405 and body["details"]["allowed"] == ["GET", "POST"], (prefix, status, body)
        assert "POST" in headers["Allow"]


def test_comfyuis_own_routes_are_not_shadowed(comfy):
    for path in ("/queue", "/api/queue", "/object_info/SaveImage", "/api/system_stats", "/history"):
        status, body, _ = comfy.request("GET", path)
        assert status == 200 and isinstance(body, dict), (path, status)
    status, _, _ = comfy.request("GET", "/")
    assert status == 200


def test_openapi_is_served_and_lists_every_route(comfy):
    doc = comfy.get(f"/api{API}/openapi.json")
    assert doc["openapi"] == "3.1.0"
    assert {"/batches", "/generate", "/events", "/jobs/{job_id}"} <= set(doc["paths"])


def test_hostile_bodies_get_4xx_json(comfy):
    bodies = [
        b'{"template": "text-card", "params": {"width": ' + b"9" * 5000 + b"}}",
        b'{"template": "text-card", "params": {"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}",
        b'{"template": "text-card", "name": "\\ud800"}',
        b'{"template": "text-card", "params": {"width": NaN}}',
        b'{"template": "text-card", "params": {"width": 1e400}}',
        b'{"template": "text-card", "propmts": ["a"]}',
    ]
    for raw in bodies:
        status, body, _ = comfy.request("POST", f"{API}/batches", raw=raw, headers=JSON)
        assert status == 400 and isinstance(body, dict) and body["error"] in ("invalid_json", "unknown_field"), (raw[:60], status, body)
    for job_id in ("%C2%B2", "%D9%A1"):  # "²" and Arabic-Indic one
        assert comfy.request("GET", f"{API}/jobs/{job_id}")[0] == 404
    assert comfy.get(f"{API}/batches")["total"] == 0


def test_comfyui_validation_failure_names_the_node_in_the_message(comfy):
    workflow = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 1, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                                                   "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0], "negative": ["6", 0],
                                                   "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "x"}},
    }
    status, body = comfy.post(f"{API}/batches", {"template": {"workflow": workflow}, "prompts": ["a"]})
    # A missing model file is preflight's: named with its folder before ComfyUI's validation is asked.
    assert status == 422 and body["error"] == "preflight_failed", body
    assert "model 'x.safetensors' in models/checkpoints/" in body["message"], body["message"]
    broken = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
              "2": {"class_type": "ImageInvert", "inputs": {}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
    status, body = comfy.post(f"{API}/batches", {"template": {"workflow": broken}})
    assert status == 400 and body["error"] == "workflow_invalid", body
    assert body["message"].startswith("node 2 (ImageInvert) "), body["message"]


def test_old_tools_generate_body_runs_and_links_use_the_public_url(comfy):
    status, data = comfy.post(f"{API}/generate", {"workflow_type": "text-card", "prompt": "old tool 旧", "width": 128, "height": 96})
    assert status == 201, data
    assert data["job"]["params"]["width"] == 128 and data["job"]["params"]["height"] == 96
    comfy.wait_batch(data["id"], timeout=120)
    job = comfy.get(f"{API}/jobs/{data['job']['id']}")
    assert job["status"] == "succeeded", job
    out = job["outputs"][0]
    assert out["url"] == "https://gpu.example.com/comfy" + out["path"]
    status, payload, _ = comfy.request("GET", out["path"])
    assert status == 200


def test_health_has_no_paths(comfy):
    health = comfy.get(f"{API}/health")
    assert str(comfy.user_dir) not in json.dumps(health) and health["store"]["file"] == "batchgen.sqlite3"


def test_settings_change_the_cors_allow_list_and_the_feed_window_without_a_restart(comfy):
    from .test_control import ours_in_native_queue, submit, wait_until

    origin = "http://localhost:5199"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    assert comfy.request("OPTIONS", "/api" + API + "/batches", headers=preflight)[0] == 403
    status, body, _ = comfy.request("PATCH", API + "/settings", {"cors_origins": [origin]})
    assert status == 200 and body["cors_origins"]["saved"] == [origin]
    status, _, headers = comfy.request("OPTIONS", "/api" + API + "/batches", headers=preflight)
    assert status == 204 and headers["Access-Control-Allow-Origin"] == origin

    # The window: a fixed 3, then 6, seen in /health and in how many of our prompts sit in ComfyUI's own queue.
    status, body, _ = comfy.request("PATCH", API + "/settings", {"feed_window": 3})
    assert status == 200 and body["feed_window"]["window_now"] == 3
    assert comfy.get(API + "/health")["dispatcher"]["window"] == 3
    batch = submit(comfy, "window", 12, seconds=0.5)
    try:
        wait_until(lambda: ours_in_native_queue(comfy, batch["id"]) == 3, timeout=20)
        seen = [ours_in_native_queue(comfy, batch["id"]) for _ in range(10)]
        assert max(seen) <= 3, seen
        assert comfy.request("PATCH", API + "/settings", {"feed_window": 6})[0] == 200
        wait_until(lambda: ours_in_native_queue(comfy, batch["id"]) == 6, timeout=20)
        dispatcher = comfy.get(API + "/health")["dispatcher"]
        assert dispatcher["window"] == 6 and dispatcher["window_now"] == 6
    finally:
        comfy.post(f"{API}/batches/{batch['id']}/cancel", {})
        comfy.request("PATCH", API + "/settings", {"feed_window": "auto", "cors_origins": []})
    assert comfy.request("OPTIONS", "/api" + API + "/batches", headers=preflight)[0] == 403
    assert comfy.get(API + "/health")["dispatcher"]["window"] == 4  # automatic: the default window again
