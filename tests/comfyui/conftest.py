"""One real ComfyUI per test module (the machine has 2 cores), skipped with a reason when absent.

With BATCHGEN_REQUIRE_COMFYUI=1 (set by .ci/run when a lab exists) every skip here is a failure:
CI must never go green because the real-ComfyUI tests quietly did not run.
"""

from __future__ import annotations

import pytest

from .harness import REQUIRE_VARIABLE, comfy_env, comfy_required, new_server, skip_reason


def pytest_collection_modifyitems(config, items):
    if comfy_env() is None:
        marker = pytest.mark.skip(reason=skip_reason())
        for item in items:
            if "tests/comfyui/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(marker)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_skip_when_required(outcome.get_result())


def fail_skip_when_required(report) -> None:
    """Turn a skipped report into a failure that says why, when CI requires the real tests."""
    if not (report.skipped and comfy_required()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{REQUIRE_VARIABLE}=1 makes this skip a failure: {reason}"


@pytest.fixture(scope="module")
def comfy(tmp_path_factory, request):
    """A started ComfyUI with this extension; env overrides come from the module's COMFY_ENV dict."""
    env = getattr(request.module, "COMFY_ENV", {})
    server = new_server(tmp_path_factory.mktemp("comfy"), env=dict(env))
    server.start()
    yield server
    server.stop()
