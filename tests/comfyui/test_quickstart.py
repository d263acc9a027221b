"""The newcomer path: scripts/quickstart.py clones a ComfyUI, builds its venv, links us, starts it; twice is a no-op.

There is no network to GitHub here, so the clone comes from the local ComfyUI checkout (COMFYUI_DIR), the
torch build is the one that ComfyUI's python already has, and the new venv sees that python's packages
(--reuse-packages-from) instead of downloading ~650 MB of ComfyUI requirements on every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from .harness import REPO_ROOT, comfy_env, free_port

SCRIPT = REPO_ROOT / "scripts" / "quickstart.py"


def torch_spec(python) -> str:
    """The torch family exactly as ComfyUI's python has it."""
    code = ("from importlib import metadata as m\n"
            "for d in ('torch', 'torchvision', 'torchaudio'):\n"
            "    try: print(f'{d}=={m.version(d)}')\n"
            "    except m.PackageNotFoundError: pass\n")
    return " ".join(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.split())


def quickstart_args(target, comfy_dir, python) -> list[str]:
    return [sys.executable, str(SCRIPT), "--dir", str(target), "--comfyui", str(comfy_dir), "--python", sys.executable,
            "--torch-spec", torch_spec(python), "--torch-index", "", "--reuse-packages-from", str(python)]


def test_quickstart_sets_up_starts_and_a_second_run_changes_nothing(tmp_path):
    found = comfy_env()
    if found is None:
        pytest.skip("needs a local ComfyUI checkout (COMFYUI_DIR) to clone from")
    comfy_dir, python = found
    target = tmp_path / "ComfyUI"
    args = quickstart_args(target, comfy_dir, python)

    started = time.time()
    first = subprocess.run([*args, "--no-start"], capture_output=True, text=True, timeout=900)
    first_s = time.time() - started
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "cloning" in first.stdout and "installing torch" in first.stdout
    link = target / "custom_nodes" / "batchgen"
    assert link.is_symlink() and link.resolve() == REPO_ROOT
    venv_python = target / "venv" / "bin" / "python"
    assert (target / "main.py").is_file() and venv_python.exists()
    head = subprocess.run(["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert head == subprocess.run(["git", "-C", str(comfy_dir), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()

    # Second run, now starting ComfyUI: no clone, no install, and our API answers at the printed URL.
    port = free_port()
    started = time.time()
    proc = subprocess.Popen([*args, "--port", str(port), "--", "--disable-api-nodes"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        health_url = None
        for line in proc.stdout:
            lines.append(line)
            if "batchgen API health:" in line:
                health_url = line.split("batchgen API health:", 1)[1].split()[0]
                break
        ready_s = time.time() - started
        out = "".join(lines)
        assert health_url == f"http://127.0.0.1:{port}/batchgen/v1/health", out[-4000:]
        assert "no clone" in out and "nothing to install" in out and "already installed" in out, out[-4000:]
        assert "cloning" not in out and "installing torch" not in out
        with urllib.request.urlopen(health_url, timeout=10) as resp:
            health = json.load(resp)
        assert health["status"] == "ok" and health["store"]["ready"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            assert resp.status == 200 and b"<html" in resp.read(4096).lower()  # the editor
        assert (target / "user" / "__batchgen").is_dir()  # our store lives in that ComfyUI's user folder
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the script passes it on to ComfyUI
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    sys.stderr.write(f"[quickstart test] first run {first_s:.1f}s, second run to health {ready_s:.1f}s\n")
