"""One real ComfyUI per test module (the machine has 2 cores), skipped with a reason when absent."""

from __future__ import annotations

import pytest

from .harness import comfy_env, new_server, skip_reason


def pytest_collection_modifyitems(config, items):
    if comfy_env() is None:
        marker = pytest.mark.skip(reason=skip_reason())
        for item in items:
            if "tests/comfyui/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(marker)


@pytest.fixture(scope="module")
def comfy(tmp_path_factory, request):
    """A started ComfyUI with this extension; env overrides come from the module's COMFY_ENV dict."""
    env = getattr(request.module, "COMFY_ENV", {})
    server = new_server(tmp_path_factory.mktemp("comfy"), env=dict(env))
    server.start()
    yield server
    server.stop()
