"""The BatchGen tab's New batch view on a real ComfyUI in Chromium: the form makes batches that run.

One ComfyUI for the module. Each test fills the form as a user would (typing, choosing, uploading files through the
file inputs), waits for the dry-run preview, presses Run and checks the batch on the server. Screenshots of the form
go to tests/_artifacts/tab-new-*.png in the dark and the light palette.
"""

from __future__ import annotations

import io

from PIL import Image

from .tabnew_kit import (
    CANVAS_API,
    api_upload,
    click_menu,
    console_errors,
    load_api_on_canvas,
    open_editor,
    open_new_view,
    pick_template,
    preview_total,
    problems,
    run_and_get_batch,
    shot,
)


def open_on_canvas(page, job: dict) -> dict:
    """The detail view's "open on canvas" for one job (canvas.openJobOnCanvas with the tab's ctx); the widget values after."""
    page.evaluate("() => window.app.graph.clear()")
    opened = page.evaluate("""async (job) => { const canvas = await import("/extensions/comfyui-batchgen/js/tab/canvas.js");
        return await canvas.openJobOnCanvas(canvas.installedCtx(), job); }""", job)
    assert opened is True, console_errors(page)
    page.wait_for_timeout(500)
    return page.evaluate("""() => { const g = window.app.canvas?.graph ?? window.app.graph;
        return Object.fromEntries(g.nodes.map((n) => [n.id, Object.fromEntries((n.widgets || []).map((w) => [w.name, w.value]))])); }""")


def png(color: tuple[int, int, int], size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_twenty_text_cards_from_the_form_preview_twenty_run_and_complete(comfy, page):
    open_editor(comfy, page)
    open_new_view(page)
    # A fresh form starts on the template of Settings → BatchGen → "Default template" (text-card by default).
    page.wait_for_function("() => document.querySelector('[data-testid=\"template\"]')?.value === 'text-card'", timeout=10_000)
    pick_template(page, "text-card")
    page.fill('[data-testid="name"]', "form cards")
    page.fill('[data-testid="prompts"]', "\n".join(f"卡片 card {i}" for i in range(20)))
    page.fill('[data-testid="param-width"]', "256")
    page.fill('[data-testid="param-height"]', "128")
    preview_total(page, 20)
    assert page.locator('[data-testid="prompts-count"]').inner_text().startswith("20")
    assert page.locator('[data-testid="preview-rows"] tbody tr').count() == 8
    page.locator('[data-testid="preview-rows"]').scroll_into_view_if_needed()
    shot(page, "cards-dark")
    batch_id = run_and_get_batch(comfy, page)
    batch = comfy.wait_batch(batch_id, timeout=120)
    assert batch["status"] == "succeeded" and batch["total"] == 20 and batch["name"] == "form cards", batch
    jobs = comfy.get(f"/batchgen/v1/batches/{batch_id}/jobs?limit=20")["jobs"]
    assert {j["params"]["width"] for j in jobs} == {256} and jobs[3]["params"]["prompt"] == "卡片 card 3"
    assert console_errors(page) == []


def test_problems_are_shown_next_to_their_fields_and_run_stays_disabled(comfy, page):
    open_editor(comfy, page, light=True)
    open_new_view(page)
    pick_template(page, "text-card")
    page.fill('[data-testid="prompts"]', "a {red|blue cup")
    page.select_option('[data-testid="wildcards-mode"]', "combinatorial")
    page.fill('[data-testid="param-width"]', "12")
    page.fill('[data-testid="repeat"]', "0")
    page.click('[data-testid="axis-add"]')
    page.select_option('[data-testid="axis-param-0"]', "height")
    page.select_option('[data-testid="axis-mode-0"]', "range")
    page.fill('[data-testid="axis-values-0"]', "1..x")
    page.wait_for_timeout(900)
    shown = problems(page)
    assert "at least 64" in " ".join(shown.get("params.width", [])), shown
    assert shown.get("repeat") and shown.get("axes"), shown
    assert page.locator('[data-testid="run"]').is_disabled()
    shot(page, "problems-light")
    # Fix the local problems: the server's problem (the unclosed wildcard group) is shown by the wildcards field.
    page.fill('[data-testid="param-width"]', "256")
    page.fill('[data-testid="repeat"]', "1")
    page.click('[data-testid="axis-remove-0"]')
    page.wait_for_timeout(1200)
    shown = problems(page)
    assert list(shown) == ["wildcards"], shown
    assert page.locator('[data-testid="run"]').is_disabled()
    page.fill('[data-testid="prompts"]', "a {red|blue} cup")
    preview_total(page, 2)
    assert problems(page) == {}
    assert not page.locator('[data-testid="run"]').is_disabled()
    assert console_errors(page) == []


def test_a_three_by_three_grid_runs_and_gets_its_contact_sheet_in_chinese(comfy, page):
    comfy.post("/settings/Comfy.Locale", "zh")
    try:
        open_editor(comfy, page)
        open_new_view(page)
        assert page.locator('[data-testid="new-batch"] .bgnew-title').inner_text() == "新建批次"
        # The action-bar button is relabelled from our locale files once they load (the frontend translates only commands).
        page.wait_for_selector("button:has-text('作为批次运行')", timeout=5000)
        assert page.locator("button:has-text('Run as batch')").count() == 0
        grid_batch(comfy, page)
    finally:
        comfy.post("/settings/Comfy.Locale", "en")


def grid_batch(comfy, page):
    pick_template(page, "text-card")
    page.fill('[data-testid="name"]', "grid")
    page.fill('[data-testid="prompts"]', "grid cell")
    for i, (param, values) in enumerate((("width", "128, 192, 256"), ("height", "96|128|160"))):
        page.click('[data-testid="axis-add"]')
        page.select_option(f'[data-testid="axis-param-{i}"]', param)
        page.fill(f'[data-testid="axis-values-{i}"]', values)
    page.wait_for_timeout(200)
    assert page.locator('[data-testid="grid-shape"]').inner_text() == "3 × 3 = 9 格"
    preview_total(page, 9)
    shot(page, "grid-dark")
    batch_id = run_and_get_batch(comfy, page)
    batch = comfy.wait_batch(batch_id, timeout=120)
    assert batch["status"] == "succeeded" and batch["total"] == 9
    for _ in range(50):
        if batch["contact_sheets"]:
            break
        page.wait_for_timeout(200)
        batch = comfy.get(f"/batchgen/v1/batches/{batch_id}")
    assert len(batch["contact_sheets"]) == 1, batch
    assert console_errors(page) == []


def test_a_csv_and_an_image_set_uploaded_through_the_form(comfy, page):
    open_editor(comfy, page)
    # A model-free template with an image parameter (LoadImage → ImageInvert → SaveImage).
    first = api_upload(page, "seed.png", png((200, 30, 30)), "image/png")
    status, saved = comfy.post("/batchgen/v1/templates", {"id": "invert", "name": "Invert", "workflow": {
        "1": {"class_type": "LoadImage", "inputs": {"image": first["image"]}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}}}})
    assert status == 201, saved
    open_new_view(page)
    pick_template(page, "text-card")
    csv = "prompt,width\n第一行,128\nsecond,192\nthird,256\n".encode("utf-8")
    page.set_input_files('[data-testid="table-file"]', files=[{"name": "cards.csv", "mimeType": "text/csv", "buffer": csv}])
    page.wait_for_selector('[data-testid="table-info"]')
    assert "3" in page.locator('[data-testid="table-info"]').inner_text()
    preview_total(page, 3)
    rows = page.locator('[data-testid="preview-rows"] tbody tr')
    assert rows.count() == 3 and "第一行" in rows.nth(0).inner_text() and "192" in rows.nth(1).inner_text()
    rows.first.scroll_into_view_if_needed()
    shot(page, "table-dark")
    table_batch = run_and_get_batch(comfy, page)
    assert comfy.wait_batch(table_batch, timeout=60)["status"] == "succeeded"

    open_new_view(page)
    pick_template(page, "invert")
    # The form keeps the table across templates; its columns are not parameters of this one, which is said by the table.
    page.wait_for_function("() => document.querySelector('[data-problems=\"table\"]')?.textContent.includes('prompt')")
    assert page.locator('[data-testid="run"]').is_disabled()
    page.click('[data-testid="table-remove"]')
    files = [{"name": f"img{i}.png", "mimeType": "image/png", "buffer": png((40 * i, 90, 160))} for i in range(1, 4)]
    page.set_input_files('[data-testid="images-file"]', files=files)
    page.wait_for_selector('[data-testid="images-info"]')
    preview_total(page, 3)
    page.wait_for_function("() => [...document.querySelectorAll('.bgnew-thumbs img')].every((i) => i.complete && i.naturalWidth > 0)")
    shot(page, "images-dark")
    image_batch = run_and_get_batch(comfy, page)
    batch = comfy.wait_batch(image_batch, timeout=60)
    assert batch["status"] == "succeeded" and batch["total"] == 3, batch
    assert console_errors(page) == []


def test_the_canvas_workflow_is_batched_saved_as_a_template_and_a_job_reopens_with_its_values(comfy, page):
    open_editor(comfy, page, light=True)
    output = load_api_on_canvas(page, CANVAS_API)
    assert output["1"]["class_type"] == "BatchGenInputInt" and output["2"]["inputs"]["width"] == ["1", 0]
    # "Run as batch" from the editor's action bar (where the frontend has one), else the command it runs.
    button = page.locator("button:has-text('Run as batch')")
    if button.count():
        button.first.click()
        page.wait_for_selector('[data-testid="new-batch"]', timeout=15_000)
    else:
        open_new_view(page, preset="canvas")
    page.wait_for_selector('[data-testid="detected"] .bgnew-badge')
    assert "width" in page.locator('[data-testid="detected"]').inner_text()
    page.click('[data-testid="axis-add"]')
    page.select_option('[data-testid="axis-param-0"]', "width")
    page.fill('[data-testid="axis-values-0"]', "64, 80, 112")
    preview_total(page, 3)
    shot(page, "canvas-light")
    inline_batch = run_and_get_batch(comfy, page)
    assert comfy.wait_batch(inline_batch, timeout=60)["status"] == "succeeded"
    # Not saved as a template: this browser kept its editor graph, so a job still opens with its values.
    inline_job = comfy.get(f"/batchgen/v1/batches/{inline_batch}/jobs")["jobs"][2]
    assert inline_job["params"]["width"] == 112
    assert open_on_canvas(page, inline_job)["1"]["value"] == 112

    # The same from the editor's menu: Extensions → BatchGen → Run as batch.
    click_menu(page, "Extensions", "BatchGen", "Run as batch")
    page.wait_for_selector('[data-testid="new-batch"]', timeout=15_000)
    page.wait_for_selector('[data-testid="save-name"]')
    page.fill('[data-testid="save-name"]', "Canvas invert")
    page.click('[data-testid="save-template"]')
    page.wait_for_function("() => document.querySelector('[data-testid=\"template\"]').value === 'canvas-invert'")
    detail = comfy.get("/batchgen/v1/templates/canvas-invert")
    assert detail["editor_workflow"] and {n["type"] for n in detail["editor_workflow"]["nodes"]} >= {"EmptyImage", "SaveImage"}
    page.click('[data-testid="axis-add"]')
    page.select_option('[data-testid="axis-param-0"]', "width")
    page.fill('[data-testid="axis-values-0"]', "72, 88")
    preview_total(page, 2)
    saved_batch = run_and_get_batch(comfy, page)
    assert comfy.wait_batch(saved_batch, timeout=60)["status"] == "succeeded"
    job = comfy.get(f"/batchgen/v1/batches/{saved_batch}/jobs")["jobs"][1]
    assert job["params"]["width"] == 88

    widgets = open_on_canvas(page, job)
    assert widgets["1"]["value"] == 88 and widgets["1"]["name"] == "width", widgets
    assert console_errors(page) == []

