"""What the Comfy Registry and comfy-cli read from pyproject.toml and .comfyignore."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_registry_name_has_no_comfyui_in_it_and_matches_the_quickstart_folder():
    name = PROJECT["project"]["name"]
    assert "comfyui" not in name.lower()  # the Registry advises against it; the id can never change once published
    assert f'NODE_NAME = "{name}"' in (ROOT / "scripts" / "quickstart.py").read_text(encoding="utf-8")


def test_icon_named_in_pyproject_exists_in_the_repository():
    icon = PROJECT["tool"]["comfy"]["Icon"]
    path = icon.split("/main/", 1)[1]
    assert (ROOT / path).is_file(), icon
    assert (ROOT / path).read_text(encoding="utf-8").lstrip().startswith("<svg")


def test_classifiers_and_urls_are_what_comfy_cli_accepts():
    allowed_environment = {"Environment :: GPU :: NVIDIA CUDA", "Environment :: GPU :: AMD ROCm", "Environment :: GPU :: Intel Arc",
                           "Environment :: NPU :: Huawei Ascend", "Environment :: GPU :: Apple Metal"}
    for classifier in PROJECT["project"].get("classifiers", []):
        if classifier.startswith("Environment ::"):
            assert classifier in allowed_environment, classifier
    urls = PROJECT["project"]["urls"]
    assert "Issues" in urls and "Bug Tracker" not in urls and "Repository" in urls


def test_development_files_do_not_ship_to_the_registry():
    patterns = [line.strip() for line in (ROOT / ".comfyignore").read_text().splitlines() if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        return any(path.startswith(p) if p.endswith("/") else fnmatch.fnmatch(path, p) for p in patterns)

    for dev_only in ("scripts/quickstart.py", "tests/conftest.py", "bench/README.md", ".ci/run", ".github/workflows/publish.yml",
                     "docs/benchmarks.md"):
        assert ignored(dev_only), dev_only
    for shipped in ("__init__.py", "cli.py", "docs/remote.md",
                    "requirements.txt", "install.py", "web/icon.svg", "workflows/text-card.json", "docs/api.md",
                    "locales/zh/nodeDefs.json"):
        assert not ignored(shipped), shipped
