"""Model folders and files as ComfyUI's folder_paths knows them, and ComfyUI-Manager's node map when installed."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Mapping
from pathlib import Path

from ..batchgen.nodepacks import NodePack, parse_manager_map

log = logging.getLogger("batchgen.host")

MANAGER_MAP = "extension-node-map.json"


def model_folders() -> list[str]:
    """Folder names registered in folder_paths (excluding non-model ones ComfyUI keeps there)."""
    import folder_paths

    return sorted(name for name in folder_paths.folder_names_and_paths if name not in ("custom_nodes", "configs"))


def model_files(folder: str) -> list[str] | None:
    """folder_paths.get_filename_list(folder) (ComfyUI caches it), or None for a folder this ComfyUI does not know."""
    import folder_paths

    if folder not in folder_paths.folder_names_and_paths:
        return None
    try:
        return list(folder_paths.get_filename_list(folder))
    except Exception:  # an unreadable folder: report its files as missing rather than fail the request
        log.warning("[batchgen] could not list model folder %s", folder, exc_info=True)
        return []


def manager_map_paths() -> list[Path]:
    """Where an installed ComfyUI-Manager keeps extension-node-map.json: its custom node folder, its pip package, or its cache."""
    import folder_paths

    found: list[Path] = []
    for root in folder_paths.get_folder_paths("custom_nodes"):
        try:
            children = sorted(Path(root).iterdir())
        except OSError:
            continue
        found += [child / MANAGER_MAP for child in children if "manager" in child.name.lower() and (child / MANAGER_MAP).is_file()]
    spec = importlib.util.find_spec("comfyui_manager")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / MANAGER_MAP
            if candidate.is_file():
                found.append(candidate)
    # Manager's downloaded copies ("<hash>_extension-node-map.json"): user/default/ComfyUI-Manager/cache (V3), user/__manager/cache (V4).
    user = Path(folder_paths.get_user_directory())
    for cache in (user / "default" / "ComfyUI-Manager" / "cache", user / "__manager" / "cache"):
        if cache.is_dir():
            found += sorted(cache.glob(f"*{MANAGER_MAP}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found


def load_manager_map() -> Mapping[str, NodePack]:
    """class_type → pack from the first readable Manager node map; empty when Manager is not installed."""
    for path in manager_map_paths():
        try:
            return parse_manager_map(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            log.warning("[batchgen] could not read ComfyUI-Manager's node map %s", path, exc_info=True)
    return {}
