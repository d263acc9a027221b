"""Grids through the REST API: axes → jobs, the contact sheet (listed, on disk, failed cell marked, remade after a
retry), preview == submission, per-value checks on axis values, counts, the preview's ETA."""

from __future__ import annotations

import json
import random
import sqlite3

from batchgen_ext.batchgen.sheets_render import MARK, Page, layout
from PIL import Image

from tests.api.test_api import API, create, error_of, post
from tests.api.test_sources_api import all_jobs

WIDTHS = {"param": "width", "values": [256, 320, 384], "labels": ["窄", "中", "宽"], "name": "宽度"}
TEXTS = {"param": "prompt", "values": ["你好", "世界", "こんにちは"], "labels": ["问候", "世界", "日语"], "name": "文字"}


def grid_body(**extra) -> dict:
    return {"template": "text-card", "name": "grid", "axes": [WIDTHS, TEXTS], "seed": {"policy": "increment", "base": 1}, **extra}


def is_mark(pixel) -> bool:
    r, g, b = pixel[:3]
    return abs(r - MARK[0]) < 40 and abs(g - MARK[1]) < 40 and abs(b - MARK[2]) < 40


def failed_cell_marked(path, col: int, row: int) -> bool:
    """Red pixels on the cell's diagonal (the cross drawn over failed cells)."""
    geo = layout(Page("", WIDTHS["name"], WIDTHS["labels"], TEXTS["name"], TEXTS["labels"]))
    x0, y0, x1, y1 = geo.cell_box(col, row)
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (geo.width, geo.height)
        on_diagonal = [rgb.getpixel((x0 + d, y0 + d)) for d in range(4, geo.cell - 4, 7)]
    return sum(is_mark(p) for p in on_diagonal) > len(on_diagonal) * 0.6


async def sheet_events(env, batch_id: str) -> list[dict]:
    resp = await env.client.get(f"{API}/events?batch={batch_id}&limit=1000")
    return [e for e in (await resp.json())["events"] if e["type"] == "batchgen.contact_sheet"]


async def test_a_3x3_grid_makes_9_jobs_with_axis_coords_in_order(env):
    batch = await create(env, grid_body())
    assert batch["total"] == 9 and batch["contact_sheets"] == []
    jobs = await all_jobs(env, batch["id"])
    assert [(j["params"]["width"], j["params"]["prompt"]) for j in jobs] == [(w, t) for w in WIDTHS["values"] for t in TEXTS["values"]]
    assert jobs[5]["coords"] == {"axes": {"width": 1, "prompt": 2}}


async def test_the_contact_sheet_is_listed_marked_and_remade_after_a_retry(env):
    # text-card's Input nodes: 1 carries the prompt, 3 the width.
    env.host.fail_if = lambda prompt: prompt["1"]["inputs"]["value"] == "世界" and prompt["3"]["inputs"]["value"] == 320
    batch = await create(env, grid_body())
    await env.host.run_all(env.dispatcher)
    await env.service.sheets.idle()
    got = await (await env.client.get(f"{API}/batches/{batch['id']}")).json()
    assert got["status"] == "partial" and got["counts"]["failed"] == 1
    (sheet,) = got["contact_sheets"]
    sub = f"{batch['output_subfolder']}/_contact_sheets"
    assert (sheet["page"], sheet["filename"], sheet["subfolder"], sheet["type"]) == (1, "sheet-001.png", sub, "output")
    assert sheet["url"].endswith(f"/api/view?filename=sheet-001.png&subfolder={sub.replace('/', '%2F')}&type=output")
    path = env.host.output_dir / sub / "sheet-001.png"
    with Image.open(path) as img:
        assert img.size == (sheet["width"], sheet["height"]) and img.format == "PNG"
    assert failed_cell_marked(path, 1, 1)  # width 320 (column 1) × 世界 (row 1)
    assert not failed_cell_marked(path, 0, 0)
    (event,) = await sheet_events(env, batch["id"])
    assert event["data"]["pages"][0]["filename"] == "sheet-001.png" and event["data"]["error"] is None
    listed = await (await env.client.get(f"{API}/batches")).json()
    assert [b["contact_sheets"][0]["filename"] for b in listed["batches"] if b["id"] == batch["id"]] == ["sheet-001.png"]

    env.host.fail_if = None
    retried = await (await post(env, f"/batches/{batch['id']}/retry")).json()
    assert retried["retried"] == 1
    await env.host.run_all(env.dispatcher)
    await env.service.sheets.idle()
    final = await (await env.client.get(f"{API}/batches/{batch['id']}")).json()
    assert final["status"] == "succeeded" and len(final["contact_sheets"]) == 1
    assert not failed_cell_marked(path, 1, 1)  # the retried cell now shows its image
    assert len(await sheet_events(env, batch["id"])) == 2


async def test_pages_come_from_the_third_axis_and_sheets_are_removed_with_the_batch(env):
    body = grid_body(axes=[WIDTHS, TEXTS, {"param": "height", "range": "128..192 step 64", "name": "高"}])
    batch = await create(env, body)
    assert batch["total"] == 18
    await env.host.run_all(env.dispatcher)
    await env.service.sheets.idle()
    got = await (await env.client.get(f"{API}/batches/{batch['id']}")).json()
    assert [(s["page"], s["title"]) for s in got["contact_sheets"]] == [(1, "grid · 高: 128"), (2, "grid · 高: 192")]
    resp = await env.client.delete(f"{API}/batches/{batch['id']}?images=true")
    assert resp.status == 200
    assert not (env.host.output_dir / batch["output_subfolder"]).exists()


async def test_matrix_batches_get_sheets_and_plain_batches_none(env):
    grid = await create(env, {"template": "text-card", "prompts": ["a"], "matrix": {"width": [256, 320]}})
    plain = await create(env, {"template": "text-card", "prompts": ["a", "b"]})
    await env.host.run_all(env.dispatcher)
    await env.service.sheets.idle()
    got = await (await env.client.get(f"{API}/batches/{grid['id']}")).json()
    assert [s["title"] for s in got["contact_sheets"]] == ["batch · prompts[0]"]
    got = await (await env.client.get(f"{API}/batches/{plain['id']}")).json()
    assert got["contact_sheets"] == [] and not (env.host.output_dir / plain["output_subfolder"] / "_contact_sheets").exists()


async def test_an_axis_value_out_of_the_node_range_is_refused_and_stores_nothing(env):
    body = grid_body(axes=[{"param": "width", "values": [256, 4104]}])
    err = await error_of(await post(env, "/batches", body), 400)
    assert err["error"] == "invalid_param_value" and "4104" in err["message"]
    preview = await (await post(env, "/batches/preview", body)).json()
    assert preview["total"] == 2 and preview["problems"][0]["error"] == "invalid_param_value"
    with sqlite3.connect(env.store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM batches").fetchone() == (0,)


async def test_huge_grids_are_413_with_the_count_before_anything_is_built(env):
    body = grid_body(axes=[{"param": "width", "range": "1..1000"}, {"param": "height", "range": "1..1000"}])
    err = await error_of(await post(env, "/batches", body), 413)
    assert err["details"]["count"] == 1_000_000
    preview = await (await post(env, "/batches/preview", body)).json()
    assert preview["total"] is None and preview["problems"][0]["status"] == 413


async def test_bad_axes_are_400_naming_the_problem(env):
    for axes, words in (([{"param": "width", "values": [256], "colour": 1}], "colour"),
                        ([{"param": "width", "range": "256..512 step 0"}], "step"),
                        ([{"zip": [{"param": "width", "values": [256]}, {"param": "height", "values": [128, 192]}]}], "lengths"),
                        ([{"param": "nope", "values": [1]}], "nope")):
        err = await error_of(await post(env, "/batches", grid_body(axes=axes)), 400)
        assert words in err["message"], err


async def test_preview_equals_submission_for_random_grids(env):
    rng = random.Random(7)
    for case in range(12):
        axes = []
        params = rng.sample(["width", "height", "prompt"], rng.randint(1, 3))
        for param in params:
            n = rng.randint(1, 4)
            if param == "prompt":
                axes.append({"param": param, "values": [f"文字 {case}-{i} 🌸" for i in range(n)]})
            else:
                axes.append({"param": param, "range": f"{64 + 8 * rng.randint(0, 4)}..{64 + 8 * (5 + n)} step 8"})
        if len(axes) >= 2 and rng.random() < 0.4:
            first, second = axes[0], axes[1]
            size = min(len(first.get("values") or []) or 99, len(second.get("values") or []) or 99)
            if "values" in first and "values" in second:
                axes = [{"zip": [{**first, "values": first["values"][:size]}, {**second, "values": second["values"][:size]}]}, *axes[2:]]
        body = {"template": "text-card", "axes": axes, "repeat": rng.randint(1, 2), "seed": {"policy": "increment", "base": case}}
        if "prompt" not in params and rng.random() < 0.5:
            body["prompts"] = ["a", "b"]
        preview = await (await post(env, "/batches/preview?rows=1000", body)).json()
        assert not preview["problems"], preview["problems"]
        batch = await create(env, body)
        jobs = await all_jobs(env, batch["id"])
        assert preview["total"] == batch["total"] == len(jobs)
        shown = [(j["idx"], j["params"], j["seed"], j["coords"]) for j in preview["jobs"]]
        assert shown == [(j["idx"], j["params"], j["seed"], j["coords"]) for j in jobs], json.dumps(body)


async def test_preview_eta_comes_from_past_runs_of_the_template(env):
    first = await (await post(env, "/batches/preview", grid_body())).json()
    assert first["eta"]["seconds"] is None and "text-card" in first["eta"]["reason"]
    await create(env, grid_body())
    await env.host.run_all(env.dispatcher)
    with sqlite3.connect(env.store.path) as conn:  # the fake host runs jobs instantly: give them a run time
        conn.execute("UPDATE jobs SET started_at = finished_at - 2.0 WHERE status = 'succeeded'")
    again = await (await post(env, "/batches/preview", grid_body())).json()
    assert again["eta"]["samples"] == 9 and again["eta"]["median_job_seconds"] == 2.0
    assert again["eta"]["seconds"] == 2.0 * 9 / again["eta"]["parallel"] and again["eta"]["reason"] is None


async def test_a_contact_sheet_whose_render_was_cut_off_is_made_at_the_next_startup(env):
    import asyncio

    from batchgen_ext.batchgen.dispatcher import Dispatcher
    from batchgen_ext.batchgen.sheets import ContactSheets

    hang = asyncio.Event()

    async def stuck_render(*_args):
        await hang.wait()  # the process is killed while this render runs
        raise AssertionError("never reached")

    env.service.sheets._render = stuck_render
    batch = await create(env, grid_body())
    await env.host.run_all(env.dispatcher)
    for _ in range(200):
        if await env.store._fetchone("SELECT 1 FROM contact_sheets WHERE batch_id = ?", (batch["id"],)):
            break
        await asyncio.sleep(0.01)
    for task in list(env.service.sheets._tasks):
        task.cancel()  # the kill: the claim is committed, the pages never saved
    await asyncio.gather(*env.service.sheets._tasks, return_exceptions=True)
    got = await (await env.client.get(f"{API}/batches/{batch['id']}")).json()
    assert got["status"] == "succeeded" and got["contact_sheets"] == []

    # The next start: the killed process's lease has run out; a new dispatcher and sheet maker look for cut-off renders.
    old = env.dispatcher.owner.owner_id
    await env.dispatcher.stop(release=False)
    await env.store.run_in_transaction(lambda tx: tx.execute("UPDATE owners SET heartbeat_at = 0 WHERE owner_id = ?", (old,)))
    restarted = Dispatcher(env.store, env.host, env.service.config)
    await restarted.start()
    try:
        sheets = ContactSheets(env.store, env.host, owner=restarted.owner)
        assert await sheets.resume(env.service.config.lease_seconds) == 1
        pages = (await sheets.pages([batch["id"]]))[batch["id"]]
        assert [p["filename"] for p in pages] == ["sheet-001.png"]
        path = env.host.output_dir / pages[0]["subfolder"] / "sheet-001.png"
        with Image.open(path) as img:
            assert img.size == (pages[0]["width"], pages[0]["height"])
        (event,) = await sheet_events(env, batch["id"])
        assert event["data"]["pages"] == pages
        assert await sheets.resume(env.service.config.lease_seconds) == 0, "a saved sheet is not made again"
    finally:
        await restarted.stop()


async def test_a_render_claimed_by_a_live_process_is_left_to_it(env):
    from batchgen_ext.batchgen.dispatcher import Dispatcher
    from batchgen_ext.batchgen.sheets import ContactSheets
    from batchgen_ext.batchgen.store import sheets_sql

    batch = await create(env, grid_body())
    await env.host.run_all(env.dispatcher)
    await env.service.sheets.idle()
    # Another live process (this test's dispatcher) claims a newer finish and is still rendering it.
    live = env.dispatcher.owner.owner_id
    assert await env.store.run_in_transaction(sheets_sql.claim_sync, batch["id"], 10**9, 0.0, live)
    other = Dispatcher(env.store, env.host, env.service.config)
    await other.start()
    try:
        sheets = ContactSheets(env.store, env.host, owner=other.owner)
        assert await sheets.resume(env.service.config.lease_seconds) == 0
    finally:
        await other.stop()


async def test_preview_eta_counts_the_backlog_ahead_by_priority_and_fair_share(env):
    await create(env, grid_body())
    await env.host.run_all(env.dispatcher)
    with sqlite3.connect(env.store.path) as conn:  # the fake host runs jobs instantly: give them a run time
        conn.execute("UPDATE jobs SET started_at = finished_at - 2.0 WHERE status = 'succeeded'")
    alone = (await (await post(env, "/batches/preview", grid_body())).json())["eta"]
    assert alone["backlog_jobs"] == 0 and alone["finish_seconds"] == alone["seconds"] == 18.0
    # Waiting work (not run): 20 jobs at the same priority, 5 at a higher one, 7 at a lower one, 30 in a paused batch.
    await create(env, {"template": "text-card", "prompts": [f"same {i}" for i in range(20)]})
    await create(env, {"template": "text-card", "prompts": [f"urgent {i}" for i in range(5)], "priority": 10})
    await create(env, {"template": "text-card", "prompts": [f"later {i}" for i in range(7)], "priority": -5})
    paused = await create(env, {"template": "text-card", "prompts": [f"paused {i}" for i in range(30)]})
    assert (await post(env, f"/batches/{paused['id']}/pause")).status == 200
    eta = (await (await post(env, "/batches/preview", grid_body())).json())["eta"]
    # 9 of the 20 take turns with our 9 jobs, all 5 urgent ones go first, the lower and the paused ones wait.
    assert eta["backlog_jobs"] == 9 + 5
    assert eta["seconds"] == 18.0 and eta["backlog_seconds"] == 14 * 2.0 and eta["finish_seconds"] == 18.0 + 28.0
    assert "14 job(s) of other batches" in eta["covers"] and "Not counted" in eta["covers"]
    low = (await (await post(env, "/batches/preview", {**grid_body(), "priority": -10})).json())["eta"]
    assert low["backlog_jobs"] == 20 + 5 + 7, "a lower-priority batch waits for everything that is not paused"
