"""Helpers for the BatchGen tab's browser tests (shared by the list/detail and the new-batch tests)."""

from __future__ import annotations

from .conftest import ARTIFACTS

TAB_BUTTON = ".batchgen-tab-button, [data-testid=batchgen-tab-button]"  # class until 1.49, data-testid in 1.58
OURS = ("/batchgen/v1/", "/extensions/comfyui-batchgen/", "batchgen:")  # our routes, our files, our console.warn prefix


def load_editor(page, comfy) -> str:
    """Open ComfyUI's editor and wait for our extension; returns the frontend version (e.g. "1.49.6")."""
    page.goto(comfy.url + "/", wait_until="domcontentloaded")
    page.wait_for_function("() => window.app?.extensionManager && window.app.extensions?.some(e => e.name === 'batchgen.core')",
                           timeout=90_000)
    page.wait_for_timeout(500)  # let the websocket settle
    return page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ || 'unknown'")


def browser_page(comfy, viewport: dict):
    """A chromium page on ComfyUI's loaded editor, recording the console like conftest's page (a generator: yields it)."""
    from playwright.sync_api import sync_playwright

    from .conftest import CHROMIUM

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport=viewport)
        page.console_messages = []
        page.console_sources = []
        page.on("console", lambda msg: page.console_sources.append((msg.type, msg.text, (msg.location or {}).get("url", ""))))
        page.on("pageerror", lambda exc: page.console_sources.append(("pageerror", str(exc), str(exc.stack or ""))))
        page.on("dialog", lambda dialog: dialog.accept())  # confirmations (delete) are answered yes
        page.version = load_editor(page, comfy)
        # A model-free workflow on the canvas (the default one misses its models and says so in a toast).
        page.evaluate("""async () => {
            const doc = await (await fetch('/api/workflow_templates/comfyui-batchgen/text-card.json')).json();
            await window.app.loadGraphData(doc);
        }""")
        close_toasts(page)
        yield page
        browser.close()


def close_toasts(page, keep: str = "") -> None:
    """Close ComfyUI's toasts (those whose text contains keep stay)."""
    page.evaluate("""(keep) => {
        for (const msg of document.querySelectorAll('.p-toast-message')) {
            if (keep && msg.textContent.includes(keep)) continue;
            (msg.querySelector('.p-toast-close-button') || msg.querySelector('button[aria-label=Close]'))?.click();
        }
    }""", keep)
    page.wait_for_timeout(300)


def open_tab(page) -> None:
    """Click the BatchGen icon in the sidebar (if the tab is not showing) and wait for the tab."""
    if not page.locator(".batchgen-tab").is_visible():
        page.locator(TAB_BUTTON).first.click()
    page.locator(".batchgen-tab").wait_for(timeout=15_000)


def our_console_errors(page) -> list[str]:
    """Console errors and uncaught exceptions that come from this extension (ComfyUI's own are not ours to fix)."""
    # ComfyUI's own queue panel showing a deleted batch's image (/api/view?…subfolder=batchgen…) is not ours.
    return [f"{text} @ {url}" for kind, text, url in page.console_sources
            if kind in ("error", "pageerror") and any(o in f"{text} {url}" for o in OURS)]


def shot(page, name: str, version: str) -> None:
    """A screenshot in tests/_artifacts, named by step and frontend version."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"tab-{name}-{version}.png"))


def set_setting(page, setting_id: str, value) -> None:
    """Change a ComfyUI setting the way its settings dialog does (stored for the user, applied at once)."""
    page.evaluate("([id, value]) => window.app.extensionManager.setting.set(id, value)", [setting_id, value])


def theme(page, name: str) -> None:
    """Switch ComfyUI's colour palette ("dark" or "light")."""
    set_setting(page, "Comfy.ColorPalette", name)
    page.wait_for_timeout(300)
