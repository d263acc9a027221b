"""The frontend module loads in ComfyUI's UI and announces a finished batch with a toast."""

from __future__ import annotations

from .conftest import ARTIFACTS


def test_finished_batch_shows_a_toast_in_comfyui(comfy, page):
    page.goto(comfy.url + "/", wait_until="domcontentloaded")
    # The app is up once the extension manager exists and our module registered itself.
    page.wait_for_function("() => window.app?.extensionManager && window.app.extensions?.some(e => e.name === 'batchgen.core')",
                           timeout=60_000)
    page.wait_for_timeout(1000)  # let the websocket settle
    status, batch = comfy.post("/batchgen/v1/batches", {"name": "toast demo 绘本", "template": "text-card",
                                                        "prompts": ["Hello", "你好"], "params": {"width": 128, "height": 96}})
    assert status == 201, batch
    comfy.wait_batch(batch["id"])
    # exact: 1.58's toasts also announce "<summary>. <detail>" in a screen-reader paragraph
    toast = page.get_by_text("Batch succeeded", exact=True)
    toast.wait_for(timeout=20_000)
    assert page.get_by_text("toast demo 绘本: 2/2 succeeded", exact=True).is_visible()
    page.screenshot(path=str(ARTIFACTS / "toast-batch-succeeded.png"))
    errors = [text for kind, text in page.console_messages if kind in ("error", "pageerror") and "batchgen" in text.lower()]
    assert not errors, errors
