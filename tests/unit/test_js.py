"""The tab's pure JavaScript modules pass their Node tests (tests/js/*.test.mjs, Node's own test runner)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.comfyui.harness import comfy_required

ROOT = Path(__file__).resolve().parents[2]


def test_the_tabs_pure_modules_pass_their_node_tests():
    node = shutil.which("node")
    if node is None:
        if comfy_required():
            pytest.fail("node is missing: BATCHGEN_REQUIRE_COMFYUI=1 needs the tab's JavaScript tests to run (apt-get install nodejs)")
        pytest.skip("node is not installed: the tab's JavaScript tests (tests/js) are skipped")
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert files, "no tests/js/*.test.mjs"
    run = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
