"""Intake checks every job's values against the node inputs they reach, before anything is stored."""

from __future__ import annotations

import time

from tests.fakehost import CKPT_NAMES
from tests.unit.test_valuecheck import CHECKPOINT

API = "/batchgen/v1"


async def batches_total(env) -> int:
    return (await (await env.client.get(f"{API}/batches?limit=1")).json())["total"]


async def test_width_over_the_text_card_max_in_job_500_is_a_400_and_nothing_is_stored(env):
    jobs = [{"prompt": f"card {i}", "width": 256} for i in range(800)]
    jobs[500]["width"] = 4104
    resp = await env.client.post(f"{API}/batches", json={"template": "text-card", "jobs": jobs})
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_param_value", body
    assert "job 500" in body["message"] and "'width'" in body["message"] and "4096" in body["message"]
    assert body["details"]["job"] == 500 and body["details"]["param"] == "width"
    assert await batches_total(env) == 0


async def test_misspelt_checkpoint_in_one_job_of_an_inline_workflow_fails_preflight(env):
    workflow = CHECKPOINT
    jobs = [{"ckpt": CKPT_NAMES[i % 3]} for i in range(20)]
    jobs[7]["ckpt"] = "sdxl.safetensor"
    resp = await env.client.post(f"{API}/batches", json={"template": {"workflow": workflow, "bindings": {"ckpt": "1.ckpt_name"}},
                                                         "jobs": jobs})
    body = await resp.json()
    # A model file that is not there is preflight's to report: by name, folder, first job and the likely fix.
    assert resp.status == 422 and body["error"] == "preflight_failed", body
    [missing] = body["details"]["missing_models"]
    assert (missing["name"], missing["folder"], missing["job"]) == ("sdxl.safetensor", "checkpoints", 7), missing
    assert missing["close_matches"] == ["sdxl.safetensors"]
    assert body["details"]["missing_nodes"] == []
    assert "did you mean 'sdxl.safetensors'?" in body["message"] and "(job 7)" in body["message"]
    assert await batches_total(env) == 0


async def test_ten_thousand_distinct_valid_values_are_accepted_quickly(env):
    jobs = [{"prompt": f"card {i}", "width": 64 + i % 4000, "height": 64 + i % 3000} for i in range(10_000)]
    start = time.perf_counter()
    resp = await env.client.post(f"{API}/batches", json={"template": "text-card", "jobs": jobs})
    elapsed = time.perf_counter() - start
    assert resp.status == 201, await resp.json()
    assert elapsed < 5.0, elapsed  # the whole request incl. the store; the check itself is timed in tests/unit


async def test_a_workflow_with_a_prompt_list_becomes_one_job_per_line_and_preview_counts_them_first(env):
    from tests.unit.test_listnodes import PROMPTS, card_graph

    body = {"template": {"workflow": card_graph(PROMPTS)}, "params": {"seed": 3}}
    preview = await (await env.client.post(f"{API}/batches/preview", json=body)).json()
    assert preview["total"] == 3 and preview["problems"] == [], preview
    assert [j["params"]["prompt"] for j in preview["jobs"]] == ["a red fox", "你好 🦊", "third"]
    resp = await env.client.post(f"{API}/batches", json=body)
    batch = await resp.json()
    assert resp.status == 201 and batch["total"] == 3, batch
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
    assert [j["params"]["prompt"] for j in jobs] == ["a red fox", "你好 🦊", "third"]
    resp = await env.client.post(f"{API}/batches", json={**body, "prompts": ["x"]})
    assert resp.status == 400 and (await resp.json())["error"] == "list_nodes_conflict"
    assert await batches_total(env) == 1


async def test_the_bundled_prompt_list_template_is_one_job_per_line(env):
    resp = await env.client.post(f"{API}/batches", json={"template": "prompt-list"})
    batch = await resp.json()
    assert resp.status == 201 and batch["total"] == 3, batch
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
    assert [(j["params"]["prompt"], j["params"]["seed"]) for j in jobs] == [("A lighthouse at dawn", 0), ("海边的灯塔", 1),
                                                                          ("灯台と朝日 🌅", 2)]


async def test_preview_lists_a_bad_list_node_as_its_problem(env):
    from tests.unit.test_listnodes import card_graph

    node = {"class_type": "BatchGenPromptList", "inputs": {"name": "prompt", "text": "\n"}}
    resp = await env.client.post("/batchgen/v1/batches/preview", json={"template": {"workflow": card_graph(node)}})
    body = await resp.json()
    assert resp.status == 200 and body["total"] is None, body
    assert [(p["status"], p["error"]) for p in body["problems"]] == [(400, "invalid_list_node")]
    resp = await env.client.post("/batchgen/v1/batches", json={"template": {"workflow": card_graph(node)}})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_list_node"


async def test_a_prompts_from_file_node_becomes_one_job_per_row_of_its_column(env):
    from tests.unit.test_listnodes import card_graph

    folder = env.host.output_dir.parent / "input" / "lists"
    folder.mkdir(parents=True)
    (folder / "商品.csv").write_bytes("商品名,价格\r\n保温杯,39\r\n水杯 🥤,12\r\n".encode("gb18030"))
    env.host.input_files.add("lists/商品.csv")
    node = {"class_type": "BatchGenPromptsFromFile", "inputs": {"name": "prompt", "file": "lists/商品.csv", "column": "商品名"}}
    resp = await env.client.post(f"{API}/batches", json={"template": {"workflow": card_graph(node)}})
    batch = await resp.json()
    assert resp.status == 201 and batch["total"] == 2, batch
    jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
    assert [j["params"]["prompt"] for j in jobs] == ["保温杯", "水杯 🥤"]
    node["inputs"]["file"] = "lists/none.csv"
    resp = await env.client.post(f"{API}/batches", json={"template": {"workflow": card_graph(node)}})
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_list_node" and "lists/none.csv" in body["message"], body
    assert await batches_total(env) == 1


async def test_wildcard_expand_jobs_are_numbered_like_wildcard_variants_in_both_modes(env):
    from tests.unit.test_listnodes import card_graph

    for mode, total in (("combinatorial", 4), ("random", 3)):
        node = {"class_type": "BatchGenWildcardExpand",
                "inputs": {"name": "prompt", "text": "{红|blue} {cat|dog 🐕}", "mode": mode, "count": 3, "seed": 5}}
        body = {"template": {"workflow": card_graph(node)}}
        preview = await (await env.client.post(f"{API}/batches/preview", json=body)).json()
        assert [j["coords"] for j in preview["jobs"]] == [{"source": "jobs", "index": k, "wildcard": k} for k in range(total)], preview
        resp = await env.client.post(f"{API}/batches", json=body)
        batch = await resp.json()
        assert resp.status == 201 and batch["total"] == total, batch
        jobs = (await (await env.client.get(f"{API}/batches/{batch['id']}/jobs")).json())["jobs"]
        assert [j["coords"]["wildcard"] for j in jobs] == list(range(total)), mode
