"""comfy_host.files.output_file / folder_files: what export may read is contained in ComfyUI's output folder."""

from __future__ import annotations

from batchgen_ext.comfy_host.files import Folders, folder_files, output_file


def folders(tmp_path) -> Folders:
    for name in ("input", "output", "temp"):
        (tmp_path / name).mkdir()
    return Folders(tmp_path / "input", tmp_path / "output", tmp_path / "temp")


def test_a_saved_output_resolves_inside_the_output_folder(tmp_path):
    f = folders(tmp_path)
    (f.output / "batchgen" / "b1").mkdir(parents=True)
    (f.output / "batchgen" / "b1" / "x_00001_.png").write_bytes(b"png")
    assert output_file(f, "batchgen/b1", "x_00001_.png") == (f.output / "batchgen" / "b1" / "x_00001_.png").resolve()
    assert output_file(f, "batchgen/b1", "missing.png") is None


def test_traversal_links_and_other_folder_types_are_refused(tmp_path):
    f = folders(tmp_path)
    (tmp_path / "secret.txt").write_text("no")
    (f.input / "in.png").write_bytes(b"png")
    (f.output / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert output_file(f, "..", "secret.txt") is None
    assert output_file(f, "", "../secret.txt") is None
    assert output_file(f, "", "link.txt") is None
    assert output_file(f, "../input", "in.png") is None
    assert output_file(f, "", "in.png", "input") is None  # export reads outputs only
    assert output_file(f, "", "x\x00.png") is None
    assert output_file(f, "", "") is None


def test_folder_files_lists_regular_files_of_a_contained_folder_only(tmp_path):
    f = folders(tmp_path)
    sheets = f.output / "batchgen" / "b1" / "_contact_sheets"
    sheets.mkdir(parents=True)
    (sheets / "sheet-002.png").write_bytes(b"2")
    (sheets / "sheet-001.png").write_bytes(b"1")
    (sheets / "nested").mkdir()
    (tmp_path / "outside.png").write_bytes(b"o")
    (sheets / "escape.png").symlink_to(tmp_path / "outside.png")
    assert [p.name for p in folder_files(f, "batchgen/b1/_contact_sheets")] == ["sheet-001.png", "sheet-002.png"]
    assert folder_files(f, "batchgen/none") == [] and folder_files(f, "..") == [] and folder_files(f, "") == []
