"""Browser tests: Debian's chromium driven by Playwright against a real ComfyUI."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.comfyui.conftest import fail_skip_when_required
from tests.comfyui.harness import comfy_env, new_server, skip_reason

CHROMIUM = os.environ.get("BATCHGEN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"


def pytest_collection_modifyitems(config, items):
    reason = None
    if comfy_env() is None:
        reason = skip_reason()
    elif importlib.util.find_spec("playwright") is None:
        reason = "browser tests need the playwright package (scripts/test.sh installs it)"
    elif not Path(CHROMIUM).exists():
        reason = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)"
    if reason:
        for item in items:
            if "tests/browser/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # With BATCHGEN_REQUIRE_COMFYUI=1 a missing ComfyUI, playwright or chromium fails the test.
    outcome = yield
    fail_skip_when_required(outcome.get_result())


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    server = new_server(tmp_path_factory.mktemp("comfy"))
    server.start()
    # Skip the first-visit templates dialog so the editor is what loads.
    server.post("/settings/Comfy.TutorialCompleted", True)
    yield server
    server.stop()


@pytest.fixture
def page(comfy):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.console_messages = []
        page.on("console", lambda msg: page.console_messages.append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: page.console_messages.append(("pageerror", str(exc))))
        yield page
        browser.close()
