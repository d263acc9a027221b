"""scripts/quickstart.py's choices that need no ComfyUI: the torch build for the machine, the extension link."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "quickstart.py"
spec = importlib.util.spec_from_file_location("quickstart", SCRIPT)
quickstart = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quickstart)


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(quickstart.platform, "system", lambda: "Linux")


def test_without_a_gpu_it_takes_cpu_wheels_and_runs_comfyui_with_cpu(linux, monkeypatch):
    monkeypatch.setattr(quickstart, "has_nvidia_gpu", lambda: False)
    args, _ = quickstart.parse_args([])
    specs, index, cpu = quickstart.torch_choice(args)
    assert specs == "torch torchvision torchaudio"  # torchaudio: ComfyUI v0.19+ will not start without it
    assert index == "https://download.pytorch.org/whl/cpu" and cpu is True


def test_with_an_nvidia_gpu_it_takes_cuda_wheels_unless_told_cpu(linux, monkeypatch):
    monkeypatch.setattr(quickstart, "has_nvidia_gpu", lambda: True)
    specs, index, cpu = quickstart.torch_choice(quickstart.parse_args([])[0])
    assert index.startswith("https://download.pytorch.org/whl/cu") and cpu is False
    specs, index, cpu = quickstart.torch_choice(quickstart.parse_args(["--cpu"])[0])
    assert index.endswith("/whl/cpu") and cpu is True


def test_torch_spec_and_index_can_be_overridden(linux, monkeypatch):
    monkeypatch.setattr(quickstart, "has_nvidia_gpu", lambda: False)
    args, extra = quickstart.parse_args(["--torch-spec", "torch==2.14.1 torchvision==0.29.1", "--torch-index", "", "--",
                                         "--listen", "0.0.0.0"])
    assert quickstart.torch_choice(args) == ("torch==2.14.1 torchvision==0.29.1", "", True)
    assert extra == ["--listen", "0.0.0.0"]  # after -- everything goes to ComfyUI


def test_nvidia_smi_without_a_gpu_counts_as_no_gpu(monkeypatch):
    monkeypatch.setattr(quickstart.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(quickstart.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 9, stdout="No devices were found\n"))
    assert quickstart.has_nvidia_gpu() is False


def test_the_extension_is_linked_once_and_a_foreign_folder_is_never_replaced(tmp_path):
    comfy = tmp_path / "ComfyUI"
    (comfy / "custom_nodes").mkdir(parents=True)
    link = quickstart.ensure_extension(comfy, copy=False)
    assert link == comfy / "custom_nodes" / "batchgen" and link.resolve() == quickstart.REPO
    assert quickstart.ensure_extension(comfy, copy=False) == link  # second run: nothing new
    assert sorted(p.name for p in (comfy / "custom_nodes").iterdir()) == ["batchgen"]

    other = tmp_path / "Other"
    (other / "custom_nodes" / "batchgen").mkdir(parents=True)
    (other / "custom_nodes" / "batchgen" / "mine.txt").write_text("someone else's")
    with pytest.raises(SystemExit):
        quickstart.ensure_extension(other, copy=False)
    assert (other / "custom_nodes" / "batchgen" / "mine.txt").read_text() == "someone else's"


def test_a_copy_leaves_out_development_files_and_is_refreshed_only_when_the_source_changed(tmp_path):
    comfy = tmp_path / "ComfyUI"
    (comfy / "custom_nodes").mkdir(parents=True)
    target = quickstart.ensure_extension(comfy, copy=True)
    assert not target.is_symlink() and (target / "__init__.py").is_file() and (target / "requirements.txt").is_file()
    assert not (target / "tests").exists() and not (target / ".git").exists() and not (target / ".venv").exists()
    (target / "stray.txt").write_text("x")
    quickstart.ensure_extension(comfy, copy=True)
    assert (target / "stray.txt").exists()  # unchanged source: the copy was left alone


def test_help_runs_with_the_standard_library_only():
    out = subprocess.run([sys.executable, "-I", str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    assert "--no-start" in out.stdout and "--comfyui" in out.stdout and "--dir" in out.stdout
