"""The BatchGen tab on a real ComfyUI and frontend: the batch list live from the websocket, the detail view with its
job table, gallery and lightbox, failed jobs and retry, the controls, a ComfyUI restart underneath, Chinese, themes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.comfyui.test_durability import sleep_jobs, sleep_template

from .tabutil import TAB_BUTTON, browser_page, close_toasts, open_tab, our_console_errors, set_setting, shot, theme

API = "/batchgen/v1"
COMFY_ENV = {"BATCHGEN_WINDOW": "2"}
README_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "tab.png"


@pytest.fixture(scope="module")
def editor(comfy):
    """One browser page with ComfyUI's editor for the whole module (loading the editor costs 10–15 s)."""
    yield from browser_page(comfy, {"width": 1280, "height": 800})


@pytest.fixture
def page(editor):
    """The module's page (the per-test page of conftest would reload the editor for every test)."""
    return editor


@pytest.fixture
def tab(comfy, page, request):
    """The BatchGen tab open on its list; yields the frontend version."""
    version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ || 'unknown'")
    open_tab(page)
    back = page.locator(".bgn-view-detail .bgn-toolbar button").first
    if back.is_visible():
        back.click()
    page.locator(".bgn-view-list").wait_for(timeout=10_000)
    yield version
    shot(page, f"end-{request.node.name.removeprefix('test_')[:40]}", version)  # the last state, also after a failure
    assert not our_console_errors(page), our_console_errors(page)


def submit(comfy, body: dict) -> dict:
    status, batch = comfy.post(f"{API}/batches", body)
    assert status == 201, batch
    return batch


def card(page, batch_id: str):
    return page.locator(f'.bgn-card[data-id="{batch_id}"]')


def test_a_batch_appears_and_completes_live_then_its_gallery_and_lightbox(comfy, page, tab):
    batch = submit(comfy, {"name": "cards 绘本", "template": "text-card", "prompts": [f"Card {i}" for i in range(20)],
                           "params": {"width": 480, "height": 320}})
    item = card(page, batch["id"])
    item.wait_for(timeout=15_000)  # the new batch shows up without a reload
    item.locator(".bgn-count-main", has_text="20/20").wait_for(timeout=60_000)
    assert item.locator(".bgn-chip").inner_text().strip().lower() == "succeeded"
    assert item.locator(".bgn-card-meta").inner_text().startswith("text-card")
    close_toasts(page, keep="cards 绘本")
    shot(page, "list-dark", tab)

    item.click()
    page.locator(".bgn-view-detail .bgn-row").first.wait_for(timeout=10_000)
    assert page.locator(".bgn-view-detail .bgn-title").inner_text() == "cards 绘本"
    assert page.locator('.bgn-row[data-status="succeeded"]').count() >= 15  # the rows on screen, all done
    # Each row's status is whole in the default sidebar (only the seed's digits may be cut).
    cut = page.evaluate("""() => [...document.querySelectorAll('.bgn-row .bgn-meta')].filter((m) => {
        const fixed = m.querySelector('.bgn-meta-fixed').getBoundingClientRect();
        return fixed.right > m.getBoundingClientRect().right + 0.5 || !m.textContent.startsWith('succeeded'); }).length""")
    assert cut == 0, cut
    shot(page, "detail-jobs", tab)

    page.locator('.bgn-tab[data-tab="gallery"]').click()
    thumbs = page.locator(".bgn-thumb")
    thumbs.first.wait_for(timeout=10_000)
    page.wait_for_function("() => [...document.querySelectorAll('.bgn-thumb')].slice(0, 6).every(i => i.complete && i.naturalWidth > 0)",
                           timeout=15_000)
    sizes = page.evaluate("() => [...document.querySelectorAll('.bgn-thumb')].map(i => [i.naturalWidth, i.naturalHeight])")
    loaded = [(w, h) for w, h in sizes if w]  # lazy: the cells below the fold load when scrolled to
    assert len(sizes) == 20 and len(loaded) >= 6, sizes
    assert all(w == 200 and h == 133 for w, h in loaded), sizes  # small thumbnails (the images are 480×320)
    shot(page, "gallery", tab)

    thumbs.nth(0).click()
    box = page.locator(".bgn-lightbox")
    box.wait_for(timeout=5_000)
    page.wait_for_function("() => document.querySelector('.bgn-lb-img')?.naturalWidth === 480", timeout=10_000)
    assert "Card 0" in box.inner_text()
    # A modal dialog named by its title; it has the focus, and Tab / Shift+Tab cycle inside it, never behind it.
    assert box.get_attribute("role") == "dialog" and box.get_attribute("aria-modal") == "true"
    assert page.locator(f"#{box.get_attribute('aria-labelledby')}").inner_text().startswith("#0")
    assert page.evaluate("() => document.activeElement === document.querySelector('.bgn-lightbox')")
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.closest('.bgn-lightbox') ? "
                                     "(document.activeElement.getAttribute('aria-label') || document.activeElement.textContent) : null"))
    assert None not in focused, focused
    assert focused[:4] == ["Previous", "Next", "Close", "Open on canvas"] and focused[4:] == focused[:2], focused
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Open on canvas"  # from the first back to the last
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.bgn-lightbox')?.innerText.includes('Card 1')", timeout=5_000)
    assert "2 / 20" in box.inner_text()
    shot(page, "lightbox", tab)
    page.keyboard.press("Escape")
    box.wait_for(state="detached", timeout=5_000)
    # The focus is back on the thumbnail that opened it.
    assert page.evaluate("() => document.activeElement.matches('.bgn-cell[data-pos=\"0\"]')")


def test_failed_jobs_show_their_node_and_one_is_retried(comfy, page, tab):
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(comfy.input_dir / "good.png")
    (comfy.input_dir / "broken.png").write_bytes(b"this is not a PNG")
    template = {"workflow": {"1": {"class_type": "BatchGenInputImage", "inputs": {"name": "image", "value": "good.png"}},
                             "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bad"}}}}
    batch = submit(comfy, {"name": "one bad", "template": template, "jobs": [{"image": "good.png"}, {"image": "broken.png"}]})
    comfy.wait_batch(batch["id"])
    item = card(page, batch["id"])
    item.locator('.bgn-chip[data-status="partial"]').wait_for(timeout=20_000)
    # The finished-batch toast links to the batch: it opens in the tab.
    link = page.locator(".batchgen-toast-link").last
    link.wait_for(timeout=10_000)
    assert "one bad: 1/2 succeeded, 1 failed" in link.locator("xpath=..").inner_text()
    shot(page, "toast-link", tab)
    link.click()
    page.locator(".bgn-view-detail .bgn-title", has_text="one bad").wait_for(timeout=10_000)
    page.locator('.bgn-tab[data-tab="jobs"]').click()
    page.locator(".bgn-tab-tools select").select_option("failed")
    row = page.locator('.bgn-row[data-status="failed"]')
    row.wait_for(timeout=10_000)
    assert page.locator(".bgn-row").count() == 1
    assert "BatchGenInputImage (#1)" in row.inner_text()
    shot(page, "failed-filter", tab)
    job_id = row.get_attribute("data-id")
    row.get_by_role("button", name="Retry this job").click()
    # The retried job runs again (and fails again, the file is still broken): its attempts reach 2, live.
    deadline = time.time() + 30
    while comfy.get(f"{API}/jobs/{job_id}")["attempts"] < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert comfy.get(f"{API}/jobs/{job_id}")["attempts"] == 2
    comfy.wait_batch(batch["id"])
    page.locator('.bgn-row[data-status="failed"]').wait_for(timeout=10_000)


def test_pause_resume_cancel_retry_and_delete_from_the_detail_view(comfy, page, tab):
    batch = submit(comfy, {"name": "controls", "template": sleep_template(0.3), "jobs": sleep_jobs(10, 0.3, 100)})
    card(page, batch["id"]).click()
    controls = page.locator(".bgn-controls")
    controls.locator('[data-action="pause"]').click()
    page.locator('.bgn-detail-head .bgn-chip[data-status="paused"]').wait_for(timeout=10_000)
    assert comfy.get(f"{API}/batches/{batch['id']}")["paused"] is True
    shot(page, "paused", tab)
    controls.locator('[data-action="resume"]').click()
    page.locator('.bgn-detail-head .bgn-chip[data-status="running"]').wait_for(timeout=10_000)
    # The tab's icon carries the number of running batches.
    page.wait_for_function("(sel) => document.querySelector(sel)?.textContent.includes('1')", arg=TAB_BUTTON, timeout=10_000)
    controls.locator('[data-action="cancel"]').click()
    page.locator('.bgn-detail-head .bgn-chip[data-status="cancelled"]').wait_for(timeout=15_000)
    controls.locator('[data-action="retry"]').click()
    page.locator('.bgn-detail-head .bgn-chip[data-status="running"], .bgn-detail-head .bgn-chip[data-status="pending"]').wait_for(
        timeout=10_000)
    done = comfy.wait_batch(batch["id"], timeout=60)
    assert done["counts"]["succeeded"] == 10
    page.locator('.bgn-detail-head .bgn-chip[data-status="succeeded"]').wait_for(timeout=10_000)
    page.locator(".bgn-count-main", has_text="10/10").wait_for(timeout=5_000)
    controls.locator('[data-action="delete"]').click()
    confirm = page.locator(".bgn-confirm")
    confirm.locator("input[type=checkbox]").check()  # with its images
    shot(page, "delete-confirm", tab)
    folder = comfy.output_dir / done["output_subfolder"]
    assert folder.is_dir()
    confirm.locator('[data-action="confirm-delete"]').click()
    page.locator(".bgn-view-list").wait_for(timeout=10_000)
    assert not folder.exists()
    assert card(page, batch["id"]).count() == 0
    assert comfy.request("GET", f"{API}/batches/{batch['id']}")[0] == 404


def test_the_tab_survives_a_comfyui_restart_and_shows_the_right_counts(comfy, page, tab):
    batch = submit(comfy, {"name": "restart", "template": sleep_template(0.3), "jobs": sleep_jobs(8, 0.3, 300)})
    item = card(page, batch["id"])
    item.locator('.bgn-count[data-status="succeeded"]').wait_for(timeout=20_000)
    if tab.startswith("1.49"):  # the README's picture: a running, a partial and a finished batch
        close_toasts(page)
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_IMAGE))
    comfy.stop(kill=True)
    page.locator(".bgn-view-list .bgn-banner:not([hidden])").wait_for(timeout=15_000)  # the tab says it is reconnecting
    shot(page, "reconnecting", tab)
    comfy.start()
    done = comfy.wait_batch(batch["id"], timeout=90)
    assert done["status"] == "succeeded"
    page.locator(".bgn-view-list .bgn-banner[hidden]").wait_for(state="attached", timeout=30_000)
    item.locator(".bgn-count-main", has_text="8/8").wait_for(timeout=30_000)
    assert item.locator(".bgn-chip").get_attribute("data-status") == "succeeded"


def test_chinese_and_the_light_theme_switch_without_a_reload(comfy, page, tab):
    submit(comfy, {"name": "语言", "template": "text-card", "prompts": ["你好"], "params": {"width": 64, "height": 64}})
    # The editor's action-bar button follows the language too, like the tab (where this frontend has an action bar).
    bar_button = page.locator("button:has-text('Run as batch')")
    has_bar = bar_button.count() > 0
    try:
        set_setting(page, "Comfy.Locale", "zh")
        page.get_by_text("批次", exact=True).wait_for(timeout=10_000)
        assert page.get_by_role("button", name="新建批次").is_visible()
        if has_bar:
            page.locator("button:has-text('作为批次运行')").wait_for(timeout=5_000)
            assert bar_button.count() == 0
        theme(page, "light")
        shot(page, "list-light-zh", tab)
        bg = page.evaluate("() => getComputedStyle(document.querySelector('.bgn-card')).backgroundColor")
        nums = [int(n) for n in re.findall(r"\d+", bg)[:3]]
        assert sum(nums) / 3 > 150, bg  # a light card on the light theme
    finally:
        set_setting(page, "Comfy.Locale", "en")
        theme(page, "dark")
    page.get_by_text("Batches", exact=True).wait_for(timeout=10_000)
    if has_bar:
        bar_button.first.wait_for(timeout=5_000)
        # With the tab closed too: the settings' change event says when (nothing checks while the tab is away).
        page.locator(TAB_BUTTON).first.click()
        page.locator(".batchgen-tab").wait_for(state="detached", timeout=5_000)
        try:
            set_setting(page, "Comfy.Locale", "zh")
            page.locator("button:has-text('作为批次运行')").wait_for(timeout=5_000)
        finally:
            set_setting(page, "Comfy.Locale", "en")
        bar_button.first.wait_for(timeout=5_000)


def test_a_grid_batch_shows_its_grid_by_axis_and_its_contact_sheet(comfy, page, tab):
    batch = submit(comfy, {"name": "网格", "template": "text-card", "params": {"height": 64},
                           "axes": [{"param": "width", "values": [64, 96, 128], "name": "宽度"},
                                    {"param": "prompt", "values": ["你好", "世界", "猫"], "name": "文字"}]})
    done = comfy.wait_batch(batch["id"])
    assert done["status"] == "succeeded"
    card(page, batch["id"]).click()
    page.locator('.bgn-tab[data-tab="grid"]').click()
    page.wait_for_function("() => document.querySelectorAll('.bgn-grid-img').length === 9 && "
                           "[...document.querySelectorAll('.bgn-grid-img')].every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    headers = page.locator(".bgn-grid thead th").all_inner_texts()
    assert headers[1:] == ["64", "96", "128"], headers
    assert page.locator(".bgn-grid tbody th").all_inner_texts() == ["你好", "世界", "猫"]
    shot(page, "grid", tab)
    page.locator('.bgn-tab[data-tab="sheets"]').wait_for(timeout=15_000)  # the sheet arrives with its own event
    page.locator('.bgn-tab[data-tab="sheets"]').click()
    page.wait_for_function("() => { const i = document.querySelector('.bgn-sheet img'); return i && i.complete && i.naturalWidth > 0; }",
                           timeout=15_000)
    shot(page, "contact-sheet", tab)


def test_a_grid_of_1200_cells_is_shown_in_windows_of_whole_columns_fetched_when_shown(comfy, page, tab):
    # 40 × 30 cells, paused at once: the grid is there to browse without 1,200 jobs having to run.
    batch = submit(comfy, {"name": "big grid", "template": "text-card", "params": {"prompt": "g"},
                           "axes": [{"param": "width", "range": "64..376 step 8"}, {"param": "height", "range": "64..296 step 8"}]})
    assert batch["total"] == 1200
    comfy.post(f"{API}/batches/{batch['id']}/pause", {})
    offsets: list[tuple[int, int]] = []

    def fetched(request):
        if f"/batches/{batch['id']}/jobs?" in request.url:
            q = dict(part.split("=", 1) for part in request.url.split("?", 1)[1].split("&"))
            offsets.append((int(q.get("offset", 0)), int(q.get("limit", 100))))

    page.on("request", fetched)
    try:
        card(page, batch["id"]).click()
        page.locator('.bgn-tab[data-tab="grid"]').click()
        window = page.locator('[data-grid="window"]')
        window.wait_for(timeout=15_000)
        assert window.inner_text() == "Jobs 1–990 of 1,200"  # 33 whole columns of 30 rows
        headers = page.locator(".bgn-grid thead th").all_inner_texts()
        assert headers[1:] == [str(w) for w in range(64, 321, 8)], headers
        assert page.locator(".bgn-grid tbody tr").count() == 30
        assert max(o + n for o, n in offsets) <= 1000 and all(n <= 200 for _, n in offsets), offsets  # never the whole batch
        # The grid scrolls inside its frame; the window's pager stays above it.
        scrolled = page.locator(".bgn-grid-wrap").evaluate("(w) => { w.scrollTop = w.scrollHeight; return w.scrollTop; }")
        assert scrolled > 0 and page.locator(".bgn-grid-pane").evaluate("(p) => p.scrollTop") == 0
        shot(page, "grid-window-1", tab)
        page.locator('[data-grid="next"]').click()
        page.locator('[data-grid="window"]', has_text="Jobs 991–1,200 of 1,200").wait_for(timeout=10_000)
        headers = page.locator(".bgn-grid thead th").all_inner_texts()
        assert headers[1:] == [str(w) for w in range(328, 377, 8)], headers
        assert page.locator(".bgn-grid tbody tr").count() == 30
        assert page.locator('[data-grid="next"]').is_disabled()
        shot(page, "grid-window-2", tab)
        page.locator('[data-grid="prev"]').click()
        page.locator('[data-grid="window"]', has_text="Jobs 1–990 of 1,200").wait_for(timeout=10_000)
    finally:
        page.remove_listener("request", fetched)
        comfy.post(f"{API}/batches/{batch['id']}/cancel", {})
