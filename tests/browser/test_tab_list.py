"""The BatchGen tab in ComfyUI's sidebar: the batch list, live from the websocket, on a real ComfyUI and frontend."""

from __future__ import annotations

from .tabutil import load_editor, open_tab, our_console_errors, shot


def test_the_tab_opens_from_the_sidebar_with_its_list(comfy, page):
    version = load_editor(page, comfy)
    open_tab(page)
    page.get_by_text("Batches", exact=True).wait_for(timeout=10_000)
    assert page.get_by_role("button", name="New batch").is_visible()
    shot(page, "open", version)
    assert not our_console_errors(page), our_console_errors(page)
