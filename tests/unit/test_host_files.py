"""The adapter's file handling (comfy_host.files), on real files: completeness, lookup, containment, input checks."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from batchgen_ext.comfy_host import files
from batchgen_ext.comfy_host.files import Folders
from PIL import Image


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    found = Folders(tmp_path / "input", tmp_path / "output", tmp_path / "temp")
    for folder in (found.input, found.output, found.temp):
        folder.mkdir()
    return found


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_complete_images_are_complete_and_truncated_ones_are_not(tmp_path, fmt, suffix):
    data = image_bytes(fmt)
    whole = tmp_path / f"whole{suffix}"
    whole.write_bytes(data)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) - 7])  # a kill -9 in the middle of the write
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    assert files.is_complete(whole)
    assert not files.is_complete(cut)
    assert not files.is_complete(empty)
    assert not files.is_complete(tmp_path / f"missing{suffix}")


def save(folders: Folders, prefix: str, counter: int, data: bytes, suffix: str = ".png") -> Path:
    sub, _, base = prefix.rpartition("/")
    folder = folders.output / sub
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{base}_{counter:05}_{suffix}"
    path.write_bytes(data)
    return path


def test_find_outputs_needs_a_complete_file_for_every_saving_node(folders):
    png = image_bytes("PNG")
    save(folders, "batchgen/b1/j7_a1_n5", 1, png)
    assert files.find_outputs(folders.output, {"5": "batchgen/b1/j7_a1_n5", "6": "batchgen/b1/j7_a1_n6"}) is None
    save(folders, "batchgen/b1/j7_a1_n6", 1, png[:-20])  # truncated
    assert files.find_outputs(folders.output, {"5": "batchgen/b1/j7_a1_n5", "6": "batchgen/b1/j7_a1_n6"}) is None
    save(folders, "batchgen/b1/j7_a1_n6", 2, png)
    found = files.find_outputs(folders.output, {"5": "batchgen/b1/j7_a1_n5", "6": "batchgen/b1/j7_a1_n6"})
    assert found is not None
    assert [(f.node_id, f.filename, f.subfolder) for f in found] == [
        ("5", "j7_a1_n5_00001_.png", "batchgen/b1"), ("6", "j7_a1_n6_00002_.png", "batchgen/b1")]


def test_find_outputs_ignores_other_attempts_and_escaping_prefixes(folders):
    png = image_bytes("PNG")
    save(folders, "batchgen/b1/j7_a10", 1, png)  # attempt 10 must not count as attempt 1
    assert files.find_outputs(folders.output, {"5": "batchgen/b1/j7_a1"}) is None
    (folders.output.parent / "outside").mkdir()
    (folders.output.parent / "outside" / "x_00001_.png").write_bytes(png)
    assert files.find_outputs(folders.output, {"5": "../outside/x"}) is None


def test_remove_incomplete_deletes_only_truncated_files(folders):
    png = image_bytes("PNG")
    good = save(folders, "batchgen/b1/j1_a1", 1, png)
    bad = save(folders, "batchgen/b1/j1_a1", 2, png[:-5])
    assert files.remove_incomplete(folders.output, {"5": "batchgen/b1/j1_a1"}) == 1
    assert good.exists() and not bad.exists()


def test_delete_output_folder_removes_a_batch_folder(folders):
    save(folders, "batchgen/cards-1234/j1_a1", 1, b"x")
    save(folders, "batchgen/cards-1234/j2_a1", 1, b"y")
    assert files.delete_output_folder(folders.output, "batchgen/cards-1234") == 2
    assert not (folders.output / "batchgen" / "cards-1234").exists()
    assert (folders.output / "batchgen").is_dir()


@pytest.mark.parametrize("subfolder", ["batchgen", "batchgen/", "batchgen/.", "batchgen/..", "batchgen/../other", "other",
                                       "../output/other", "", "batchgen/x\x00y", "/etc"])
def test_delete_output_folder_refuses_anything_but_a_batch_folder(folders, subfolder):
    save(folders, "batchgen/keep/j1_a1", 1, b"x")
    save(folders, "other/j1_a1", 1, b"x")
    assert files.delete_output_folder(folders.output, subfolder) == 0
    assert (folders.output / "batchgen" / "keep" / "j1_a1_00001_.png").exists()
    assert (folders.output / "other" / "j1_a1_00001_.png").exists()


def test_delete_output_folder_does_not_follow_a_symlink_out(folders, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    (folders.output / "batchgen").mkdir()
    os.symlink(victim, folders.output / "batchgen" / "link")
    assert files.delete_output_folder(folders.output, "batchgen/link") == 0
    os.symlink(folders.output, folders.output / "batchgen" / "loop")  # inside-pointing link to the root's parent
    assert files.delete_output_folder(folders.output, "batchgen/loop") == 0
    assert (victim / "precious.txt").read_text() == "keep me"
    save(folders, "batchgen/other-batch/j1_a1", 1, b"x")
    os.symlink(folders.output / "batchgen" / "other-batch", folders.output / "batchgen" / "alias")
    assert files.delete_output_folder(folders.output, "batchgen/alias") == 0  # would delete another batch's files
    assert (folders.output / "batchgen" / "other-batch" / "j1_a1_00001_.png").exists()


def test_input_file_checks(folders, tmp_path):
    (folders.input / "sub").mkdir()
    (folders.input / "a.png").write_bytes(b"x")
    (folders.input / "sub" / "b.png").write_bytes(b"x")
    (folders.output / "out.png").write_bytes(b"x")
    (folders.temp / "tmp.png").write_bytes(b"x")
    (tmp_path / "secret.png").write_bytes(b"x")
    os.symlink(tmp_path / "secret.png", folders.input / "escape.png")
    os.symlink(folders.input / "a.png", folders.input / "alias.png")
    exists = lambda name: files.input_file_exists(folders, name)  # noqa: E731
    assert exists("a.png") and exists("sub/b.png") and exists("a.png [input]") and exists("alias.png")
    assert exists("out.png [output]") and exists("tmp.png [temp]")
    assert not exists("out.png") and not exists("a.png [output]")
    assert not exists("../secret.png") and not exists("sub/../../secret.png") and not exists(str(tmp_path / "secret.png"))
    assert not exists("escape.png")  # a symlink pointing out of the input folder
    assert not exists("a.png\x00.txt") and not exists("") and not exists("   ") and not exists("sub") and not exists(".")
    assert not exists(None) and not exists(5)  # type: ignore[arg-type]


def test_split_annotation_mirrors_comfyui():
    assert files.split_annotation("sub/x.png [output]") == ("sub/x.png", "output")
    assert files.split_annotation("x.png [temp]") == ("x.png", "temp")
    assert files.split_annotation("x [input].png") == ("x [input].png", None)
