"""Sources through the REST API: inline tables (a GBK CSV from Chinese Excel), wildcards, coords, the stored request, preview."""

from __future__ import annotations

import base64
import json
import random
import sqlite3

import pytest
from batchgen_ext.batchgen.schema import MIGRATIONS
from batchgen_ext.batchgen.store import Store

from tests.api.test_api import API, create, db_counts, error_of, post
from tests.unit.xlsxkit import xlsx_bytes

GBK_CSV = "prompt,width,height\n" + "".join(f"商品 {i} 号「杯子」,{256 + i},128\n" for i in range(200))


def gbk_table() -> dict:
    return {"data_base64": base64.b64encode(GBK_CSV.encode("gbk")).decode("ascii")}


async def all_jobs(env, batch_id: str) -> list[dict]:
    resp = await env.client.get(f"{API}/batches/{batch_id}/jobs?limit=1000")
    return (await resp.json())["jobs"]


async def test_a_gbk_csv_sent_as_base64_becomes_one_job_per_row_with_its_row_number(env):
    batch = await create(env, {"template": "text-card", "table": gbk_table(), "seed": {"policy": "increment", "base": 5}})
    assert batch["total"] == 200
    jobs = await all_jobs(env, batch["id"])
    assert jobs[0]["params"]["prompt"] == "商品 0 号「杯子」" and jobs[0]["params"]["width"] == 256
    assert jobs[199]["params"]["prompt"] == "商品 199 号「杯子」" and jobs[199]["seed"] == 204
    assert [j["coords"] for j in jobs[:2]] == [{"source": "table", "row": 2}, {"source": "table", "row": 3}]
    one = await env.client.get(f"{API}/jobs/{jobs[5]['id']}")
    assert (await one.json())["coords"] == {"source": "table", "row": 7}


async def test_a_bad_cell_is_400_naming_row_and_column_and_stores_nothing(env):
    text = GBK_CSV.replace("272,128", "wide,128")  # row of i=16: spreadsheet row 18
    resp = await post(env, "/batches", {"template": "text-card", "table": {"text": text}})
    body = await error_of(resp, 400)
    assert body["error"] == "invalid_table_value"
    assert body["message"] == "row 18, column 'width': expected an integer, got 'wide'"
    assert db_counts(env) == (0, 0)


async def test_unknown_table_field_and_wrong_format_are_400(env):
    for table, code in [({"text": "prompt\na", "sheet": 1}, "unknown_field"), ({"text": "prompt\na", "format": "xls"}, "invalid_table")]:
        body = await error_of(await post(env, "/batches", {"template": "text-card", "table": table}), 400)
        assert body["error"] == code, body
    assert db_counts(env) == (0, 0)


async def test_wildcard_prompt_with_3x4_combinations_makes_12_jobs_in_order(env):
    batch = await create(env, {"template": "text-card", "prompts": ["{红|绿|蓝} {cat|dog|🐟|鸟}"], "wildcards": {"mode": "combinatorial"}})
    jobs = await all_jobs(env, batch["id"])
    assert [j["params"]["prompt"] for j in jobs] == [f"{c} {a}" for c in "红绿蓝" for a in ["cat", "dog", "🐟", "鸟"]]
    assert [j["coords"]["wildcard"] for j in jobs] == list(range(12))


async def test_a_billion_combinations_is_413_and_nothing_is_stored(env):
    text = " ".join("{" + "|".join("abcdefghij") + "}" for _ in range(9))
    body = await error_of(await post(env, "/batches", {"template": "text-card", "prompts": [text], "wildcards": {}}), 413)
    assert body["error"] == "too_many_jobs" and "1000000000" in body["message"]
    assert db_counts(env) == (0, 0)


async def test_wildcard_files_come_from_the_wildcards_folder(env, tmp_path):
    folder = tmp_path / "wildcards"
    folder.mkdir()
    (folder / "colour.txt").write_text("红\n蓝\n", encoding="utf-8")
    env.service.wildcards_dir = folder
    batch = await create(env, {"template": "text-card", "prompts": ["a __colour__ cup"], "wildcards": {}})
    assert [j["params"]["prompt"] for j in await all_jobs(env, batch["id"])] == ["a 红 cup", "a 蓝 cup"]
    body = await error_of(await post(env, "/batches", {"template": "text-card", "prompts": ["__nope__"], "wildcards": {}}), 400)
    assert body["error"] == "wildcard_not_found" and "nope.txt" in body["message"]


async def test_the_batch_stores_the_request_it_was_expanded_from_with_the_drawn_wildcard_seed(env):
    req = {"template": "text-card", "prompts": ["{a|b|c}"], "wildcards": {"mode": "random", "count": 4}, "params": {"width": 300}}
    batch = await create(env, req)
    with sqlite3.connect(env.store.path) as conn:
        (stored,) = conn.execute("SELECT request_json FROM batches WHERE id = ?", (batch["id"],)).fetchone()
    stored = json.loads(stored)
    assert stored["prompts"] == ["{a|b|c}"] and stored["params"] == {"width": 300}
    assert isinstance(stored["wildcards"]["seed"], int)
    # Re-running the stored request gives the same texts.
    again = await create(env, stored)
    first = [j["params"]["prompt"] for j in await all_jobs(env, batch["id"])]
    assert first == [j["params"]["prompt"] for j in await all_jobs(env, again["id"])]


PREVIEW_BODIES = [
    {"template": "text-card", "prompts": ["a", "b 中文 🦊"], "seed": 3},
    {"template": "text-card", "jobs": [{"prompt": "x", "width": 300}], "matrix": {"height": [100, 200, 300]}, "seed": "increment"},
    {"template": "text-card", "table": gbk_table(), "seed": {"policy": "increment", "base": 10}},
    {"template": "text-card", "table": {"format": "jsonl", "text": '{"prompt": "j1"}\n{"prompt": "j2", "height": 64}\n'},
     "repeat": 3, "seed": {"base": 0}},
    {"template": "text-card", "prompts": ["{1|2|3} x {a|b|c|d}"], "wildcards": {"mode": "combinatorial"}, "seed": 9},
    {"template": "text-card", "prompts": ["{red|green} {cup|mug}"], "wildcards": {"mode": "random", "count": 7, "seed": 1}, "seed": 0},
    {"template": "text-card", "params": {"prompt": "only params", "seed": 77}},
]


@pytest.mark.parametrize("body", PREVIEW_BODIES, ids=range(len(PREVIEW_BODIES)))
async def test_the_submission_creates_exactly_the_jobs_the_preview_showed(env, body):
    resp = await post(env, "/batches/preview?rows=1000", body)
    preview = await resp.json()
    assert resp.status == 200, preview
    assert preview["problems"] == [] and preview["reproducible"] is True
    assert db_counts(env) == (0, 0), "a preview stored something"
    batch = await create(env, body)
    assert batch["total"] == preview["total"]
    jobs = await all_jobs(env, batch["id"])
    assert [{"idx": j["idx"], "params": j["params"], "seed": j["seed"], "coords": j["coords"]} for j in jobs] == preview["jobs"]


async def test_preview_shows_the_first_rows_the_bindings_used_and_nothing_is_queued(env):
    resp = await post(env, "/batches/preview", {"template": "text-card", "table": gbk_table()})
    preview = await resp.json()
    assert preview["total"] == 200 and len(preview["jobs"]) == 20
    assert {b["name"] for b in preview["bindings"]} == {"prompt", "width", "height", "seed"}
    assert preview["reproducible"] is False, "random seeds are drawn again by the submission"
    assert env.host.pending == [] and env.host.running is None
    assert db_counts(env) == (0, 0)


async def test_preview_reports_the_problem_the_submission_would_answer(env):
    bad = {"template": "text-card", "table": {"text": "prompt,width\na,wide\n"}}
    preview = await (await post(env, "/batches/preview", bad)).json()
    submitted = await (await post(env, "/batches", bad)).json()
    assert preview["total"] is None
    assert preview["problems"] == [{"status": 400, **submitted}]
    big = {"template": "text-card", "prompts": ["x"], "params": {"width": 10**7}}
    preview = await (await post(env, "/batches/preview", big)).json()
    resp = await post(env, "/batches", big)
    assert preview["total"] == 1 and preview["problems"][0] == {"status": resp.status, **await resp.json()}
    assert db_counts(env) == (0, 0)


async def test_preview_of_a_body_it_cannot_read_is_the_same_400(env):
    body = await error_of(await post(env, "/batches/preview", {"template": "text-card", "propmts": ["a"]}), 400)
    assert body["error"] == "unknown_field"


async def test_a_version_3_database_migrates_to_5_and_old_jobs_have_no_coords(tmp_path):
    db = tmp_path / "v3.sqlite3"
    v3 = sqlite3.connect(db)
    v3.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
    for version, sql in [m for m in MIGRATIONS if m[0] <= 3]:
        v3.executescript(sql)
        v3.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    v3.execute("INSERT INTO batches (id, seq, name, status, template_json, output_subfolder, total, n_pending, created_at, updated_at) "
               "VALUES ('old', 1, 'old', 'pending', '{}', 'batchgen/old', 1, 1, 0, 0)")
    v3.execute("INSERT INTO jobs (batch_id, idx, status, params_json, created_at) VALUES ('old', 0, 'pending', '{\"prompt\": \"p\"}', 0)")
    v3.commit()
    v3.close()
    store = Store(db)
    await store.open()
    try:
        jobs, _ = await store.list_jobs("old")
        assert jobs[0].coords == {} and jobs[0].params == {"prompt": "p"}
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert max(v for (v,) in conn.execute("SELECT version FROM schema_migrations")) == MIGRATIONS[-1][0]
        assert conn.execute("SELECT request_json FROM batches").fetchone() == (None,)


async def test_generate_stores_a_request_that_names_its_template(env):
    resp = await post(env, "/generate", {"workflow_type": "text-card", "prompt": "一张", "width": 200})
    assert resp.status == 201, await resp.text()
    with sqlite3.connect(env.store.path) as conn:
        (stored,) = conn.execute("SELECT request_json FROM batches").fetchone()
    stored = json.loads(stored)
    assert stored["template"] == "text-card" and stored["params"] == {"width": 200, "prompt": "一张"}
    assert (await create(env, stored))["total"] == 1


async def test_an_xlsx_sheet_gives_the_same_jobs_as_the_csv(env):
    rows = [["prompt", "width", "height"], *[[f"商品 {i} 号「杯子」", 256 + i, 128] for i in range(200)]]
    data = base64.b64encode(xlsx_bytes(rows)).decode("ascii")
    seed = {"policy": "increment", "base": 1}
    from_xlsx = await create(env, {"template": "text-card", "table": {"format": "xlsx", "data_base64": data}, "seed": seed})
    from_csv = await create(env, {"template": "text-card", "table": gbk_table(), "seed": seed})
    strip = lambda jobs: [(j["params"], j["seed"], j["coords"]) for j in jobs]  # noqa: E731
    assert strip(await all_jobs(env, from_xlsx["id"])) == strip(await all_jobs(env, from_csv["id"]))


def random_body(rng) -> dict:
    """A batch request mixing every source, with seeds and wildcard picks fixed so the submission can reproduce it."""
    words = ["红", "blue", "🐟", "猫", "x y", ""]
    group = lambda: "{" + "|".join(rng.sample(words, rng.randint(1, 3))) + "}"  # noqa: E731
    body: dict = {"template": "text-card", "seed": rng.choice([7, {"policy": "increment", "base": rng.randint(0, 99)}, "fixed"])}
    if rng.random() < 0.6:
        body["prompts"] = [f"{group()} {rng.choice(words)} {group()}" for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        body["jobs"] = [{"prompt": rng.choice(words) + group(), "width": rng.choice([64, 96])} for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.4:
        body["table"] = {"text": "prompt,height\n" + "".join(f"{rng.choice(words)} {group()},{rng.choice(['', '80'])}\n"
                                                              for _ in range(rng.randint(1, 3)))}
    if rng.random() < 0.4:
        body["matrix"] = {"width": rng.sample([64, 80, 96], rng.randint(1, 2))}
    if rng.random() < 0.3:
        body["repeat"] = rng.randint(2, 3)
    if rng.random() < 0.7:
        body["wildcards"] = rng.choice([{"mode": "combinatorial"}, {"mode": "random", "count": rng.randint(1, 4), "seed": rng.randint(0, 9)}])
    return body


async def test_property_preview_equals_submission_for_random_mixes_of_sources(env):
    rng = random.Random(20261201)
    checked = 0
    for _ in range(40):
        body = random_body(rng)
        preview = await (await post(env, "/batches/preview?rows=1000", body)).json()
        resp = await post(env, "/batches", body)
        created = await resp.json()
        if preview["problems"]:
            assert preview["problems"][0] == {"status": resp.status, **created}, body
            continue
        assert resp.status == 201, (body, created)
        jobs = await all_jobs(env, created["id"])
        assert created["total"] == preview["total"] == len(jobs)
        assert [{"idx": j["idx"], "params": j["params"], "seed": j["seed"], "coords": j["coords"]} for j in jobs] == preview["jobs"], body
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("field", [{"table": {"text": "prompt\na"}}, {"wildcards": {}}])
async def test_generate_refuses_row_sources(env, field):
    body = await error_of(await post(env, "/generate", {"template": "text-card", **field}), 400)
    assert body["error"] == "not_a_single_job"
