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
# A frontend other than the lab's bundled one: the static folder of a comfyui-frontend-package installed with
# pip --target (.ci/run installs 1.58.1 into ~/.cache/batchgen-ci/frontend-1.58.1), served with --front-end-root.
FRONTEND_VARIABLE = "BATCHGEN_FRONTEND_ROOT"


def pytest_addoption(parser):
    parser.addoption("--frontend-root", default=None,
                     help=f"serve this ComfyUI frontend (a comfyui_frontend_package/static folder); default ${FRONTEND_VARIABLE}")


def frontend_root(config) -> Path | None:
    """The frontend folder the browser tests should serve, or None for the lab's bundled frontend."""
    value = config.getoption("--frontend-root", default=None) or os.environ.get(FRONTEND_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def frontend_args(config) -> list[str]:
    """ComfyUI flags that select the frontend under test."""
    root = frontend_root(config)
    return ["--front-end-root", str(root)] if root else []


def pytest_collection_modifyitems(config, items):
    reason = None
    if comfy_env() is None:
        reason = skip_reason()
    elif importlib.util.find_spec("playwright") is None:
        reason = "browser tests need the playwright package (scripts/test.sh installs it)"
    elif not Path(CHROMIUM).exists():
        reason = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)"
    elif (root := frontend_root(config)) and not (root / "index.html").is_file():
        reason = f"{FRONTEND_VARIABLE}={root} is not a ComfyUI frontend folder (no index.html)"
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
def comfy(tmp_path_factory, request):
    server = new_server(tmp_path_factory.mktemp("comfy"), extra_args=frontend_args(request.config))
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
        page.console_sources = []  # (type, text, url of the script or resource it came from)
        page.on("console", lambda msg: page.console_messages.append((msg.type, msg.text)))
        page.on("console", lambda msg: page.console_sources.append((msg.type, msg.text, (msg.location or {}).get("url", ""))))
        page.on("pageerror", lambda exc: page.console_messages.append(("pageerror", str(exc))))
        page.on("pageerror", lambda exc: page.console_sources.append(("pageerror", str(exc), str(exc.stack or ""))))
        yield page
        browser.close()
