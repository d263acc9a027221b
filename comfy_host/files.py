"""Files on disk: saved outputs, their completeness, batch-folder deletion and input-file checks.

Pure over explicit folders (no ``folder_paths`` import), so it is tested without ComfyUI; the
adapter passes ComfyUI's live folders in.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..batchgen import ids
from ..batchgen.models import OutputFile

# ComfyUI's annotated file names ("sub/x.png [output]"), as folder_paths.annotated_filepath reads them.
_ANNOTATIONS = (("[output]", "output"), ("[input]", "input"), ("[temp]", "temp"))


@dataclass(frozen=True, slots=True)
class Folders:
    """ComfyUI's input, output and temp folders."""

    input: Path
    output: Path
    temp: Path

    def named(self, kind: str) -> Path:
        """The folder of an annotation kind ("input", "output", "temp")."""
        return {"input": self.input, "output": self.output, "temp": self.temp}[kind]


def is_complete(path: Path) -> bool:
    """True if an output file was written to the end (a kill mid-write leaves a truncated file)."""
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        suffix = path.suffix.lower()
        with path.open("rb") as fh:
            if suffix == ".png":
                fh.seek(max(size - 12, 0))
                return fh.read(12)[4:8] == b"IEND"
            if suffix in (".jpg", ".jpeg"):
                fh.seek(size - 2)
                return fh.read(2) == b"\xff\xd9"
            if suffix == ".webp":
                head = fh.read(8)
                return head[:4] == b"RIFF" and int.from_bytes(head[4:8], "little") + 8 == size
        return True
    except OSError:
        return False


def attempt_files(output_dir: Path, prefix: str) -> tuple[str, list[Path]]:
    """(subfolder, files) that ComfyUI's savers wrote for one filename prefix (``sub/dir/base``)."""
    root = output_dir.resolve()
    subfolder, _, base = prefix.rpartition("/")
    folder = (root / subfolder).resolve()
    if not folder.is_relative_to(root) or not folder.is_dir():
        return subfolder, []
    # SaveImage names files <base>_<counter:05>_.<ext>; anything else in the folder is not ours.
    pattern = re.compile(re.escape(base) + r"_\d{5,}_?\.[A-Za-z0-9]+$")
    return subfolder, [p for p in sorted(folder.iterdir()) if pattern.match(p.name)]


def find_outputs(output_dir: Path, prefixes: Mapping[str, str]) -> list[OutputFile] | None:
    """Complete files on disk for every saving node's prefix, or None if any node has none."""
    found: list[OutputFile] = []
    for node_id, prefix in prefixes.items():
        subfolder, files = attempt_files(output_dir, prefix)
        complete = [p for p in files if is_complete(p)]
        if not complete:
            return None
        found.extend(OutputFile(str(node_id), p.name, subfolder, "output") for p in complete)
    return found


def remove_incomplete(output_dir: Path, prefixes: Mapping[str, str]) -> int:
    """Delete truncated files an interrupted attempt left behind (they would show as broken images)."""
    removed = 0
    for prefix in prefixes.values():
        for path in attempt_files(output_dir, prefix)[1]:
            if not is_complete(path):
                try:
                    path.unlink()
                    removed += 1
                except OSError:
                    pass
    return removed


def output_path(output_dir: Path, subfolder: str) -> Path | None:
    """``output_dir/subfolder`` resolved; None for anything outside the output directory (or the directory itself)."""
    if not isinstance(subfolder, str) or not subfolder or "\x00" in subfolder:
        return None
    root = output_dir.resolve()
    path = (output_dir / subfolder).resolve()
    return path if path != root and path.is_relative_to(root) else None


def delete_output_folder(output_dir: Path, subfolder: str) -> int:
    """Delete a batch's output subfolder; refuses anything but a folder strictly inside <output>/batchgen/."""
    if not isinstance(subfolder, str) or not subfolder or "\x00" in subfolder:
        return 0
    root = (output_dir / ids.OUTPUT_ROOT).resolve()
    raw = output_dir / subfolder
    if raw.is_symlink():
        return 0  # rmtree would follow nothing, but a link's target is not the batch's own folder
    folder = raw.resolve()
    if folder == root or not folder.is_relative_to(root) or not folder.is_dir():
        return 0
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return count


def split_annotation(name: str) -> tuple[str, str | None]:
    """("sub/x.png", "output") for "sub/x.png [output]"; (name, None) without an annotation."""
    for suffix, kind in _ANNOTATIONS:
        if name.endswith(suffix):
            return name[: -len(suffix)].rstrip(" "), kind
    return name, None


def read_input_file(folders: Folders, name: str, limit: int = 32 * 1024 * 1024) -> bytes | None:
    """The bytes of a file inside the input folder (or the annotated output/temp folder), or None (missing, outside, too big)."""
    if not input_file_exists(folders, name):
        return None
    stripped, kind = split_annotation(name)
    path = (folders.named(kind or "input").resolve() / stripped).resolve()
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def input_file_exists(folders: Folders, name: str) -> bool:
    """True for an existing file inside the input folder (or the annotated output/temp folder)."""
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        return False
    try:
        stripped, kind = split_annotation(name)
        root = folders.named(kind or "input").resolve()
        path = (root / stripped).resolve()  # resolves symlinks: a link pointing outside is refused below
        return path != root and path.is_relative_to(root) and path.is_file()
    except (OSError, ValueError):
        return False


def output_file(folders: Folders, subfolder: str, filename: str, kind: str = "output") -> Path | None:
    """The resolved path of a saved file, or None unless it is a regular file inside its output/temp folder."""
    if kind not in ("output", "temp") or not all(isinstance(v, str) and "\x00" not in v for v in (subfolder, filename)):
        return None
    if not filename or "/" in filename or "\\" in filename or filename in (".", ".."):
        return None
    try:
        root = folders.named(kind).resolve()
        path = (root / subfolder / filename).resolve()  # follows symlinks: one pointing outside is refused below
        return path if path.is_relative_to(root) and path.is_file() else None
    except (OSError, ValueError):
        return None


def folder_files(folders: Folders, subfolder: str) -> list[Path]:
    """The regular files directly inside <output>/<subfolder>, by name; empty when it is absent or escapes the output folder."""
    if not isinstance(subfolder, str) or not subfolder or "\x00" in subfolder:
        return []
    try:
        root = folders.output.resolve()
        folder = (root / subfolder).resolve()
        if folder == root or not folder.is_relative_to(root) or not folder.is_dir():
            return []
        found = [p.resolve() for p in sorted(folder.iterdir()) if p.is_file()]
        return [p for p in found if p.is_relative_to(root)]
    except OSError:
        return []
