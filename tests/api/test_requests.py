"""What a new user runs into: unknown fields with suggestions, the old tool's bodies, clear codes, JSON 404/405."""

from __future__ import annotations

import pytest

from tests.api.test_api import API, card, create, db_counts, error_of, post


async def rejected(env, resp, status: int, code: str) -> dict:
    body = await error_of(resp, status)
    assert body["error"] == code, body
    assert db_counts(env) == (0, 0), "a rejected request stored something"
    return body


async def test_misspelt_top_level_field_is_400_with_a_suggestion(env):
    body = await rejected(env, await post(env, "/batches", {"template": "text-card", "propmts": ["a", "b", "c"]}), 400, "unknown_field")
    assert "`propmts`" in body["message"] and "did you mean `prompts`?" in body["message"]
    assert body["details"]["field"] == "propmts"


async def test_template_parameter_at_the_top_level_says_put_it_in_params(env):
    body = await rejected(env, await post(env, "/batches", {"template": "text-card", "prompts": ["a"], "width": 256}), 400, "unknown_field")
    assert "put `width` in `params`" in body["message"]


async def test_the_old_tools_batch_shape_names_both_fields_and_what_to_send(env):
    resp = await post(env, "/batches", {"requests": [{"prompt": "a"}], "batch_name": "old"})
    body = await rejected(env, resp, 400, "unknown_field")
    assert "`requests`" in body["message"] and "`batch_name`" in body["message"]
    assert "`jobs`" in body["message"] and "`name`" in body["message"]


async def test_unknown_field_inside_a_nested_object_names_its_path(env):
    resp = await post(env, "/batches", {"template": "text-card", "prompts": ["a"], "seed": {"polcy": "fixed", "base": 3}})
    body = await rejected(env, resp, 400, "unknown_field")
    assert "`seed.polcy`" in body["message"] and "did you mean `policy`?" in body["message"]


async def test_wrong_type_deep_in_the_request_names_the_path_in_words(env):
    body = await rejected(env, await post(env, "/batches", {"template": "text-card", "prompts": ["a", "b", "c", 4]}), 400, "invalid_prompts")
    assert body["message"].startswith("prompts[3] must be a string"), body["message"]
    assert body["details"]["field"] == "prompts[3]"


@pytest.mark.parametrize(("field", "value", "code"), [
    ("priority", 5000, "invalid_priority"), ("priority", "high", "invalid_priority"), ("priority", True, "invalid_priority"),
    ("max_attempts", 0, "invalid_max_attempts"), ("repeat", 0, "invalid_repeat"), ("repeat", 2.5, "invalid_repeat"),
    ("name", 7, "invalid_name"), ("name", "n" * 201, "invalid_name"), ("seed", -1, "invalid_seed"), ("seed", 2**64, "invalid_seed"),
    ("seed", "sometimes", "invalid_seed"), ("seed", {"base": -1}, "invalid_seed"), ("params", [1], "invalid_params"),
    ("matrix", {"width": 5}, "invalid_matrix"), ("jobs", ["a"], "invalid_jobs"),
])
async def test_bad_field_values_keep_their_stable_codes(env, field, value, code):
    await rejected(env, await post(env, "/batches", {"template": "text-card", "prompts": ["a"], field: value}), 400, code)


@pytest.mark.parametrize("where", ["params", "jobs"])
async def test_seed_parameter_out_of_range_is_400(env, where):
    body = {"template": "text-card", "params": {"seed": -1}} if where == "params" else {"template": "text-card", "jobs": [{"seed": 2**64}]}
    await rejected(env, await post(env, "/batches", body), 400, "invalid_seed")


async def test_seed_above_2_53_is_kept_exactly(env):
    big = 2**64 - 1
    data = await (await post(env, "/generate", {"template": "text-card", "seed": big})).json()
    assert data["job"]["seed"] == big and data["job"]["params"]["seed"] == big


async def test_params_seed_without_a_policy_is_one_fixed_seed_for_every_job(env):
    bid = (await create(env, {"template": "text-card", "prompts": ["a", "b", "c"], "params": {"seed": 77}}))["id"]
    jobs = (await (await env.client.get(f"{API}/batches/{bid}/jobs")).json())["jobs"]
    assert [j["seed"] for j in jobs] == [77, 77, 77]


async def test_generate_accepts_the_old_tools_body(env):
    resp = await post(env, "/generate", {"workflow_type": "text-card", "prompt": "old tool", "width": 320, "height": 200, "seed": 5})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["template_id"] == "text-card"
    assert data["job"]["params"] == {"prompt": "old tool", "width": 320, "height": 200, "seed": 5}


async def test_generate_negative_prompt_is_the_negative_parameter(env):
    wf = {"1": {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "p"}},
          "2": {"class_type": "BatchGenInputText", "inputs": {"name": "negative", "value": "n"}},
          "3": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 0], "width": 64, "height": 64, "seed": 0, "font_size": 0}},
          "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}}}
    resp = await post(env, "/generate", {"template": {"workflow": wf}, "prompt": "a", "negative_prompt": "blurry"})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["job"]["params"]["negative"] == "blurry"


async def test_generate_unknown_top_level_name_is_400_with_a_suggestion(env):
    body = await rejected(env, await post(env, "/generate", {"template": "text-card", "prompt": "a", "widht": 320}), 400, "unknown_field")
    assert "did you mean the template parameter `width`?" in body["message"], body["message"]
    body = await rejected(env, await post(env, "/generate", {"template": "text-card", "prompt": "a", "steps": 20}), 400, "unknown_field")
    assert "`steps`" in body["message"]


async def test_generate_prompt_that_is_not_text_has_its_own_code(env):
    await rejected(env, await post(env, "/generate", {"template": "text-card", "prompt": 5}), 400, "invalid_prompt_text")


async def test_misspelt_template_id_is_404_with_the_list_and_a_suggestion(env):
    body = await rejected(env, await post(env, "/batches", {"template": "text_card", "prompts": ["a"]}), 404, "template_not_found")
    assert "did you mean 'text-card'?" in body["message"]
    assert "text-card" in body["details"]["available"] and body["details"]["suggestion"] == "text-card"


@pytest.mark.parametrize("path", ["/nope", "/batches/x/y/z", "/v2/batches", ""])
async def test_unknown_paths_under_the_prefix_are_our_json_404(env, path):
    resp = await env.client.get(f"/batchgen{path if path.startswith('/v2') else '/v1' + path}")
    body = await error_of(resp, 404)
    assert body["error"] == "no_such_route" and "openapi.json" in body["message"]


async def test_wrong_method_is_our_json_405_with_the_allowed_methods(env):
    resp = await env.client.put(f"{API}/batches", json={})
    body = await error_of(resp, 405)
    assert body["error"] == "method_not_allowed" and body["details"]["allowed"] == ["GET", "POST"]
    assert resp.headers["Allow"] == "GET, POST, HEAD"
    resp = await env.client.get(f"{API}/batches/abc/cancel")
    assert (await error_of(resp, 405))["details"]["allowed"] == ["POST"]


async def test_control_post_without_content_type_says_what_to_send(env):
    bid = (await create(env, card(1)))["id"]
    resp = await env.client.post(f"{API}/batches/{bid}/pause")
    body = await error_of(resp, 415)
    assert "Content-Type: application/json" in body["message"] and "{}" in body["message"]


async def test_control_body_with_unknown_fields_is_400(env):
    bid = (await create(env, card(1)))["id"]
    body = await error_of(await post(env, f"/batches/{bid}/pause", {"reason": "lunch"}), 400)
    assert body["error"] == "unknown_field"
    assert (await (await env.client.get(f"{API}/batches/{bid}")).json())["paused"] is False


async def test_retry_of_a_paused_then_cancelled_batch_runs_its_jobs(env):
    bid = (await create(env, card(3)))["id"]
    assert (await post(env, f"/batches/{bid}/pause")).status == 200
    assert (await post(env, f"/batches/{bid}/cancel")).status == 200
    retried = await (await post(env, f"/batches/{bid}/retry")).json()
    assert retried["retried"] == 3 and retried["paused"] is False and retried["status"] == "pending"
    await env.host.run_all(env.dispatcher)
    assert (await (await env.client.get(f"{API}/batches/{bid}")).json())["status"] == "succeeded"


async def test_output_urls_use_the_public_url_when_configured(env):
    import dataclasses

    env.service.config = dataclasses.replace(env.service.config, public_url="https://gpu.example.com/comfy")
    data = await (await post(env, "/generate", {"template": "text-card", "prompt": "x"})).json()
    await env.host.run_all(env.dispatcher)
    job = await (await env.client.get(f"{API}/jobs/{data['job']['id']}")).json()
    assert job["outputs"][0]["url"] == "https://gpu.example.com/comfy" + job["outputs"][0]["path"]


async def test_health_has_no_paths_and_no_exception_text(env):
    env.store.last_error = "database is locked: /home/someone/ComfyUI/user/__batchgen/batchgen.sqlite3"
    data = await (await env.client.get(f"{API}/health")).json()
    text = str(data)
    assert "/home/" not in text and str(env.user_dir) not in text
    assert data["store"]["problem"] == "database locked by another process"
    assert data["store"]["file"] == "batchgen.sqlite3"


async def test_intake_validates_with_comfyui_uncached(env):
    await create(env, card(2))
    await create(env, card(2))
    assert env.host.uncached_validations == 2, "each request must be validated by ComfyUI, not served from the cache"


async def test_get_routes_also_answer_head(env):
    resp = await env.client.head(f"{API}/health")
    assert resp.status == 200


# -- GET /events (interface 1: BatchService.list_events, implemented on the engine side) ---------------


async def test_events_route_passes_the_checked_query_to_the_service(env, monkeypatch):
    calls = []

    async def list_events(after, batch_id, limit):
        calls.append((after, batch_id, limit))
        return {"events": [{"seq": after + 1, "type": "batchgen.batch", "batch_id": batch_id, "job_id": None, "created_at": 1.5,
                            "data": {"seq": after + 1}}], "last_seq": after + 1, "oldest_seq": 1, "has_more": False}

    monkeypatch.setattr(env.service, "list_events", list_events, raising=False)
    resp = await env.client.get(f"{API}/events?after=41&batch=abc&limit=7")
    data = await resp.json()
    assert resp.status == 200 and data["events"][0]["seq"] == 42 and data["last_seq"] == 42
    resp = await env.client.get(f"{API}/events")
    assert resp.status == 200
    assert calls == [(41, "abc", 7), (0, None, 100)]
    for query, code in (("after=-1", "invalid_after"), ("limit=0", "invalid_pagination"), ("limit=1001", "invalid_pagination"),
                        ("after=x", "invalid_after"), ("since=3", "unknown_field")):
        assert (await error_of(await env.client.get(f"{API}/events?{query}"), 400))["error"] == code
    assert len(calls) == 2, "a bad query reached the service"


async def test_events_after_a_seq_come_from_the_durable_log(env):
    if not hasattr(env.service, "list_events"):
        pytest.skip("BatchService.list_events (interface 1) is the engine helper's; not merged into this branch yet")
    bid = (await create(env, card(2)))["id"]
    await env.host.run_all(env.dispatcher)
    everything = await (await env.client.get(f"{API}/events?limit=1000")).json()
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == sorted(seqs) and seqs and everything["last_seq"] == seqs[-1]
    later = await (await env.client.get(f"{API}/events?after={seqs[0]}&batch={bid}")).json()
    assert [e["seq"] for e in later["events"]] == [e["seq"] for e in everything["events"][1:] if e["batch_id"] == bid]
    assert (await error_of(await env.client.get(f"{API}/events?batch=nope"), 404))["error"] == "batch_not_found"
