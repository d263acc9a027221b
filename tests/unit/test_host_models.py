"""comfy_host.models over a stand-in folder_paths: model folders, and where ComfyUI-Manager's node map is found."""

from __future__ import annotations

import json
import sys
import types

import pytest
from batchgen_ext.comfy_host import models

MAP = {"https://github.com/x/pack": [["NodeA"], {"title_aux": "Pack X"}]}


@pytest.fixture
def folder_paths(tmp_path, monkeypatch):
    custom = tmp_path / "custom_nodes"
    custom.mkdir()
    user = tmp_path / "user"
    user.mkdir()
    fake = types.SimpleNamespace(
        folder_names_and_paths={"checkpoints": ([], set()), "vae": ([], set()), "custom_nodes": ([str(custom)], set())},
        get_filename_list=lambda folder: {"checkpoints": ["a.safetensors"], "vae": []}[folder],
        get_folder_paths=lambda folder: [str(custom)],
        get_user_directory=lambda: str(user))
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    return custom, user


def test_model_folders_and_files_as_folder_paths_lists_them(folder_paths):
    assert models.model_folders() == ["checkpoints", "vae"]  # custom_nodes is not a model folder
    assert models.model_files("checkpoints") == ["a.safetensors"]
    assert models.model_files("background_removal") is None  # a folder this ComfyUI does not know


def test_no_manager_means_no_map(folder_paths):
    assert models.load_manager_map() == {}


def test_the_map_is_found_in_managers_custom_node_folder(folder_paths):
    custom, _ = folder_paths
    (custom / "ComfyUI-Manager").mkdir()
    (custom / "ComfyUI-Manager" / "extension-node-map.json").write_text(json.dumps(MAP), encoding="utf-8")
    pack = models.load_manager_map()["NodeA"]
    assert (pack.name, pack.url, pack.source) == ("Pack X", "https://github.com/x/pack", "comfyui-manager")


def test_the_map_is_found_in_managers_cache_and_a_broken_one_is_skipped(folder_paths):
    custom, user = folder_paths
    (custom / "comfyui-manager").mkdir()
    (custom / "comfyui-manager" / "extension-node-map.json").write_text("{not json", encoding="utf-8")
    cache = user / "__manager" / "cache"
    cache.mkdir(parents=True)
    (cache / "1234_extension-node-map.json").write_text(json.dumps(MAP), encoding="utf-8")
    assert models.load_manager_map()["NodeA"].name == "Pack X"
