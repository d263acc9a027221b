"""Helpers of the New batch browser tests: open the editor and the New batch view, fill the form, wait for the preview."""

from __future__ import annotations

import json
import time

from .conftest import ARTIFACTS
from .tabutil import TAB_BUTTON, load_editor, our_console_errors

EXT = "/extensions/comfyui-batchgen/js"
# The tab's list and detail views (tab-list's): the skeleton's bg-* classes, renamed bgn-* since.
DETAIL = ".batchgen-tab :is(.bg-view-detail, .bgn-view-detail)"
TOOLBAR = ":is(.bg-toolbar, .bgn-toolbar)"
NEW_BUTTON = ".batchgen-tab :is(.bg-view-list, .bgn-view-list) :is(.bg-primary, .bgn-primary)"
# The editor's model-free test workflow: a BatchGen Input (int) sets EmptyImage's width, ImageInvert, SaveImage.
CANVAS_API = {
    "1": {"class_type": "BatchGenInputInt", "inputs": {"name": "width", "value": 96}},
    "2": {"class_type": "EmptyImage", "inputs": {"width": ["1", 0], "height": 64, "batch_size": 1, "color": 255}},
    "3": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "canvas"}},
}


def open_editor(comfy, page, light: bool = False) -> str:
    """The editor at 1280x800 with the dark or light palette and an empty canvas; returns the frontend version.

    Failed responses are recorded with their URL (console_errors reports ours).
    """
    comfy.post("/settings/Comfy.ColorPalette", "light" if light else "dark")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.bad_responses = []
    page.on("response", lambda r: page.bad_responses.append((r.status, r.url)) if r.status >= 400 else None)
    page.frontend = load_editor(page, comfy)
    # An empty canvas: the default workflow's missing models would only put the editor's own warning over the screenshots.
    page.evaluate("() => { window.app.graph.clear(); document.querySelectorAll('.p-toast-close-button').forEach((b) => b.click()); }")
    return page.frontend


def open_new_view(page, preset: str | None = None) -> None:
    """Open the BatchGen tab and its New batch view: from the list's New batch button, or with preset="canvas"
    through the "Run as batch" command (what its menu entry and action-bar button run)."""
    if preset == "canvas":
        page.evaluate("() => window.app.extensionManager.command.execute('BatchGen.RunAsBatch')")
    else:
        if not page.locator(".batchgen-tab").is_visible():
            page.locator(TAB_BUTTON).first.click()
        page.locator(".batchgen-tab").wait_for(timeout=15_000)
        if page.locator(DETAIL).count():
            page.locator(f"{DETAIL} {TOOLBAR} button").first.click()  # ← Back to the list
        if page.locator('[data-testid="new-batch"]').count() == 0:
            page.locator(NEW_BUTTON).first.click()
    page.wait_for_selector('[data-testid="new-batch"]', timeout=15_000)


# The editor's main menu: behind the logo button of the side bar (1.49: .comfy-menu-button-wrapper,
# 1.58: data-testid=comfy-menu-button), else a menu bar whose top entries are on the page already.
MENU_BUTTON = ".comfy-menu-button-wrapper, [data-testid=comfy-menu-button]"


def click_menu(page, *path: str) -> None:
    """Click an entry of the editor's main menu by its path, e.g. ("Extensions", "BatchGen", "Run as batch")."""
    opener = page.locator(MENU_BUTTON)
    in_bar = not (opener.count() and opener.first.is_visible())
    if not in_bar:
        opener.first.click()
    for depth, label in enumerate(path):
        item = page.get_by_role("menuitem", name=label, exact=True).first
        item.wait_for(timeout=5_000)
        if depth == len(path) - 1 or (depth == 0 and in_bar):
            item.click()
        else:
            item.hover()


def pick_template(page, template_id: str) -> None:
    page.select_option('[data-testid="template"]', template_id)
    page.wait_for_timeout(300)


def preview_total(page, expected: int, timeout: float = 20.0) -> None:
    """Wait until the preview shows `expected` jobs and is not checking any more."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if page.locator('[data-testid="preview-pending"]').count() == 0:
            loc = page.locator('[data-testid="preview-total"] strong')
            last = loc.inner_text() if loc.count() else None
            if last == str(expected):
                return
        page.wait_for_timeout(150)
    raise AssertionError(f"preview shows {last!r} jobs, expected {expected}; problems: {problems(page)}")


def problems(page) -> dict[str, list[str]]:
    """The problems shown, by field."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-problems]')]
        .filter((s) => s.children.length).map((s) => [s.dataset.problems, [...s.children].map((c) => c.textContent)]))""")


def run_and_get_batch(comfy, page, timeout: float = 15.0) -> str:
    """Press Run (it must be enabled): the tab shows the detail view of the new batch; returns its id."""
    run = page.locator('[data-testid="run"]')
    run.wait_for(state="visible")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"run\"]')?.disabled", timeout=timeout * 1000)
    before = {b["id"] for b in comfy.get("/batchgen/v1/batches?limit=50")["batches"]}
    run.click()
    page.wait_for_selector(DETAIL, timeout=timeout * 1000)
    new = [b["id"] for b in comfy.get("/batchgen/v1/batches?limit=50")["batches"] if b["id"] not in before]
    assert len(new) == 1, new
    return new[0]


def shot(page, name: str) -> None:
    """tests/_artifacts/tab-new-<name>-<frontend version>.png"""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"tab-new-{name}-{getattr(page, 'frontend', 'unknown')}.png"))


def console_errors(page) -> list[str]:
    """Our console errors and uncaught exceptions, and failed responses of our routes and files.

    A fresh editor logs its own errors (404s for user files, the default workflow's model downloads blocked by the CSP,
    "graph accessed before initialization"); those are not ours.
    """
    # 1.58.1 logs "Unknown message type batchgen.contact_sheet" as an error: the tab's live module (tab-list's
    # live.js) does not listen to that event yet. That is the list/detail side's to register, not this form's.
    unheard = "Unknown message type batchgen.contact_sheet"
    return [f"{status} {url}" for status, url in getattr(page, "bad_responses", []) if "batchgen" in url] + [
        e for e in our_console_errors(page) if not e.startswith(unheard)]


def api_upload(page, name: str, data: bytes, mime: str) -> dict:
    """Upload through the page (multipart, as the form does)."""
    return page.evaluate("""async ({name, bytes, mime}) => {
        const f = new FormData(); f.append("file", new File([new Uint8Array(bytes)], name, {type: mime}));
        const r = await fetch("/api/batchgen/v1/uploads", {method: "POST", body: f}); return await r.json(); }""",
        {"name": name, "bytes": list(data), "mime": mime})


def load_api_on_canvas(page, api: dict) -> dict:
    """Put an API-format workflow on the canvas (the frontend's loadApiJson) and answer what graphToPrompt makes of it."""
    return page.evaluate("""async (api) => { await window.app.loadApiJson(api, "bgnew-test");
        await new Promise((r) => setTimeout(r, 300)); return (await window.app.graphToPrompt()).output; }""", json.loads(json.dumps(api)))
