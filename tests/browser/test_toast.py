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


def _open_batchgen_settings(page) -> None:
    """Open ComfyUI's settings dialog on its BatchGen category (the way a user does: the dialog, then the category)."""
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.ShowSettingsDialog')")
    # The category in the dialog's side list (an option or a button, depending on the frontend).
    category = page.get_by_role("dialog").get_by_text("BatchGen", exact=True).locator("visible=true").first
    category.wait_for(timeout=15_000)
    category.click()
    page.locator("[data-testid=bgn-feed-window]").wait_for(timeout=15_000)


def test_server_settings_and_remote_access_in_the_settings_dialog(comfy, page):
    from .tabutil import close_toasts, load_editor, our_console_errors, theme

    version = load_editor(page, comfy)
    close_toasts(page)
    _open_batchgen_settings(page)
    window = page.locator("[data-testid=bgn-feed-window]")
    summary = page.locator("[data-testid=bgn-feed-window-summary]")
    # The server's value is what the dialog shows (changed behind the dialog's back, then opened again).
    assert comfy.request("PATCH", "/batchgen/v1/settings", {"feed_window": 3})[0] == 200
    page.keyboard.press("Escape")
    page.get_by_role("dialog").get_by_text("BatchGen", exact=True).first.wait_for(state="hidden", timeout=10_000)
    _open_batchgen_settings(page)
    page.wait_for_function("() => document.querySelector('[data-testid=bgn-feed-window]')?.value === '3'", timeout=10_000)
    window.select_option("6")
    page.wait_for_function("() => document.querySelector('[data-testid=bgn-feed-window-summary]')?.textContent.includes('6')",
                           timeout=10_000)
    assert comfy.get("/batchgen/v1/settings")["feed_window"]["value"] == 6
    assert comfy.get("/batchgen/v1/health")["dispatcher"]["window"] == 6
    assert summary.is_visible()
    # A refused change (the settings file cannot be written: a directory sits where its temporary copy goes) shows the
    # server's error in place and the select goes back to the value in effect.
    blocker = comfy.user_dir / "__batchgen" / f".settings.json.{comfy.proc.pid}.tmp"
    blocker.mkdir()
    try:
        window.select_option("9")
        refused = page.locator("[data-testid=bgn-feed-window-error]")
        refused.wait_for(timeout=10_000)
        assert "settings_not_saved" in refused.inner_text()
        page.wait_for_function("() => document.querySelector('[data-testid=bgn-feed-window]')?.value === '6'", timeout=10_000)
        assert comfy.get("/batchgen/v1/settings")["feed_window"]["value"] == 6
        window.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"settings-refused-{version}.png"))
    finally:
        blocker.rmdir()

    # A token: its value once, with a copy button and a warning; afterwards only its name in the list.
    page.locator("[data-testid=bgn-token-name]").fill("browser test 令牌")
    page.locator("[data-testid=bgn-token-scope]").select_option("read")
    page.locator("[data-testid=bgn-token-create]").click()
    value_box = page.locator("[data-testid=bgn-token-value]")
    value_box.wait_for(timeout=10_000)
    token = value_box.input_value()
    assert token.startswith("bg_") and len(token) > 40
    assert page.locator("[data-testid=bgn-token-copy]").is_visible()
    assert "only this once" in page.locator("[data-testid=bgn-token-created]").inner_text()
    row = page.locator("[data-testid=bgn-token-row]").filter(has_text="browser test 令牌")
    row.wait_for(timeout=10_000)
    page.locator("[data-testid=bgn-feed-window]").scroll_into_view_if_needed()
    shot = ARTIFACTS / f"settings-dark-{version}.png"
    page.locator("[data-testid=bgn-remote-access]").scroll_into_view_if_needed()
    page.screenshot(path=str(shot))
    status, _, _ = comfy.request("GET", "/batchgen/v1/batches", headers={"Authorization": f"Bearer {token}"})
    assert status == 200  # the value shown is a working token
    page.locator("[data-testid=bgn-token-done]").click()
    assert value_box.count() == 0 and token not in page.content()
    assert "browser test 令牌" in row.inner_text() and token not in row.inner_text()

    # Browser origins: a bad one is refused in place and changes nothing; a good one is added, then removed.
    origin_input = page.locator("[data-testid=bgn-origin-input]")
    origin_input.fill("https://app.example/path")
    page.locator("[data-testid=bgn-origin-add]").click()
    error = page.locator("[data-testid=bgn-origin-error]")
    error.wait_for(timeout=10_000)
    assert "is not an exact origin" in error.inner_text()
    assert comfy.get("/batchgen/v1/settings")["cors_origins"]["saved"] == []
    origin_input.fill("HTTP://LocalHost:5173/")
    page.locator("[data-testid=bgn-origin-add]").click()
    page.locator("[data-testid=bgn-origin-row]").filter(has_text="http://localhost:5173").wait_for(timeout=10_000)
    assert comfy.get("/batchgen/v1/settings")["cors_origins"]["saved"] == ["http://localhost:5173"]
    theme(page, "light")
    page.screenshot(path=str(ARTIFACTS / f"settings-light-{version}.png"))
    theme(page, "dark")
    page.locator("[data-testid=bgn-origin-row]").filter(has_text="http://localhost:5173") \
        .locator("[data-testid=bgn-origin-remove]").click()
    page.locator("[data-testid=bgn-origin-row]").filter(has_text="http://localhost:5173").wait_for(state="detached", timeout=10_000)
    assert comfy.get("/batchgen/v1/settings")["cors_origins"]["saved"] == []

    # Revoke, with a confirmation in place.
    row.locator("[data-testid=bgn-token-revoke]").click()
    row.locator("[data-testid=bgn-token-revoke-yes]").click()
    row.wait_for(state="detached", timeout=10_000)
    status, _, _ = comfy.request("GET", "/batchgen/v1/batches", headers={"Authorization": f"Bearer {token}"})
    assert status == 401
    assert [t["revoked"] for t in comfy.get("/batchgen/v1/tokens")["tokens"] if t["name"] == "browser test 令牌"] == [True]
    comfy.request("PATCH", "/batchgen/v1/settings", {"feed_window": "auto"})
    # The browser reports the refused PATCH (507) itself; anything else of ours is an error.
    errors = [e for e in our_console_errors(page) if not ("status of 507" in e and "/batchgen/v1/settings" in e)]
    assert not errors, errors
