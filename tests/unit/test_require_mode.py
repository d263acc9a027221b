"""BATCHGEN_REQUIRE_COMFYUI=1 (set by .ci/run when a lab exists) turns a skipped real-ComfyUI test into a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_real_suite(require: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COMFYUI_DIR", "COMFYUI_PYTHON", "BATCHGEN_REQUIRE_COMFYUI")}
    if require is not None:
        env["BATCHGEN_REQUIRE_COMFYUI"] = require
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/comfyui/test_core_e2e.py",
                           "tests/browser"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_without_comfyui_the_real_tests_skip_with_the_reason():
    out = run_real_suite(None)
    assert out.returncode == 0, out.stdout[-2000:]
    assert " skipped" in out.stdout and "failed" not in out.stdout and "error" not in out.stdout


def test_with_the_variable_set_a_missing_comfyui_fails_every_real_test_loudly():
    out = run_real_suite("1")
    assert out.returncode == 1, out.stdout[-2000:]
    assert "skipped" not in out.stdout.splitlines()[-1]
    assert "BATCHGEN_REQUIRE_COMFYUI=1 makes this skip a failure" in out.stdout and "COMFYUI_DIR" in out.stdout


def test_zero_means_not_required():
    assert run_real_suite("0").returncode == 0
