"""Upload checks without HTTP: image sniffing and re-encoding, file names, kinds, and zip bombs that lie about their size."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from batchgen_ext.batchgen import xlsx
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.image_sets import natural_key
from batchgen_ext.batchgen.imaging import reencode, sniff
from batchgen_ext.batchgen.upload_checks import classify, display_name
from PIL import Image

from tests.uploadkit import huge_png, png

MAX = 70_000_000


def save(tmp_path, data: bytes, name: str = "in.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def image_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_sniff_knows_png_jpeg_webp_and_nothing_else():
    assert sniff(png()) == "png"
    assert sniff(image_bytes(Image.new("RGB", (2, 2)), "JPEG")) == "jpeg"
    assert sniff(image_bytes(Image.new("RGB", (2, 2)), "WEBP")) == "webp"
    for other in (b"GIF89a....", b"<svg", b"BM\x00\x00", b"RIFF\x00\x00\x00\x00WAVE", b""):
        assert sniff(other) is None


def test_a_palette_png_with_transparency_keeps_its_alpha_and_loses_its_metadata(tmp_path):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    data = image_bytes(img, "PNG", transparency=1)
    out = tmp_path / "out.png"
    checked = reencode(save(tmp_path, data), out, MAX)
    assert (checked.format, checked.width, checked.height) == ("png", 4, 4)
    with Image.open(out) as got:
        assert got.mode == "RGBA" and got.getpixel((0, 0)) == (255, 0, 0, 0)


def test_an_animated_webp_keeps_only_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = image_bytes(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    out = tmp_path / "out.webp"
    reencode(save(tmp_path, data), out, MAX)
    with Image.open(out) as got:
        r, g, b = got.convert("RGB").getpixel((1, 1))
        assert getattr(got, "n_frames", 1) == 1 and r > 240 and g < 16 and b < 16  # lossy WEBP at quality 95: red, nearly exact


def test_a_16_bit_grey_png_becomes_a_plain_image(tmp_path):
    data = image_bytes(Image.new("I;16", (3, 3), 40000), "PNG")
    out = tmp_path / "out.png"
    reencode(save(tmp_path, data), out, MAX)
    with Image.open(out) as got:
        assert got.mode in ("RGB", "L")


@pytest.mark.parametrize(("data", "status", "code"), [
    (huge_png(), 413, "image_too_large"),
    (huge_png(9000, 9000), 413, "image_too_large"),  # 81 MP: over our 70 MP before Pillow's own limit
    (png(size=(300, 300))[:400], 400, "invalid_image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 400, "invalid_image"),
    (b"<html><body>hi</body></html>", 415, "unsupported_upload_type"),
])
def test_bad_images_are_refused_and_the_target_is_not_created(tmp_path, data, status, code):
    out = tmp_path / "out.png"
    with pytest.raises(ApiError) as err:
        reencode(save(tmp_path, data), out, MAX)
    assert (err.value.status, err.value.code) == (status, code), err.value.message
    assert not out.exists()


@pytest.mark.parametrize("raw", ["../x.png", "a/b.png", "C:\\x.png", "..", "c:x.png", "..%2F..%2Fetc%2Fpasswd", "x\x00.png"])
def test_file_names_with_folders_are_refused(raw):
    with pytest.raises(ApiError) as err:
        display_name(raw)
    assert err.value.code == "invalid_file_name"


def test_display_names_are_cleaned_not_refused():
    assert display_name("猫 %E7%8C%AB.png") == "猫 猫.png"
    assert display_name("a\r\nb.csv") == "ab.csv"
    assert display_name(None) == "upload" and len(display_name("x" * 500)) == 200


def test_classify_trusts_bytes_over_names():
    assert classify(png(), "data.csv", "", None, None) == ("image", "png")
    assert classify(b"PK\x03\x04rest", "t.csv", "", None, None) == ("table", "xlsx")
    assert classify(b"prompt\n", "t.tsv", "text/plain", None, None) == ("table", "tsv")
    assert classify(b'{"prompt": "a"}\n', "t.txt", "", "table", "jsonl") == ("table", "jsonl")
    for head, name, ctype, kind in [(b"prompt\n", "p.png", "", None), (b"prompt\n", "t.csv", "image/png", None),
                                    (png(), "p.png", "", "table"), (b"<html>", "t.csv", "text/csv", None)]:
        with pytest.raises(ApiError) as err:
            classify(head, name, ctype, kind, None)
        assert err.value.status == 415
    with pytest.raises(ApiError) as err:
        classify(png(), "p.png", "image/png", "table", None)
    assert "kind is table" in err.value.message


def lying_zip(real: int, claimed: int) -> bytes:
    """A zip whose one member unpacks to ``real`` bytes but whose headers claim ``claimed``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * real)
    data = bytearray(buf.getvalue())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, claimed)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, claimed)
    return bytes(data)


def test_a_zip_that_lies_about_its_size_is_refused_before_calamine(monkeypatch):
    called = []
    monkeypatch.setattr(xlsx, "_plain", lambda c: called.append(c) or c)
    with pytest.raises(ApiError) as err:
        xlsx.check_archive(io.BytesIO(lying_zip(20 * 1024 * 1024, 1000)))
    assert err.value.status == 400 and not called


def test_a_highly_compressed_member_is_413_even_under_the_total_limit():
    with pytest.raises(ApiError) as err:
        xlsx.check_archive(io.BytesIO(lying_zip(20 * 1024 * 1024, 20 * 1024 * 1024)))
    assert err.value.status == 413 and "compressed" in err.value.message


def test_natural_order():
    names = ["img10.png", "img2.png", "IMG1.png", "img1.png", "a.png"]
    assert sorted(names, key=natural_key) == ["a.png", "IMG1.png", "img1.png", "img2.png", "img10.png"]
