"""Text cards: size, seed colours, legibility, real CJK/emoji glyphs, wrapping, font discovery."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from batchgen_ext.nodes.textcard import faces, find_fonts, font_report, fonts, render_text_card
from PIL import Image, ImageChops

MIXED = "Hello world — 中文 日本語 한국어 😀🚀 café"
ROOT = Path(__file__).resolve().parents[2]
NOTDEF = "\U0010fffd"  # private use code point that no normal font has: draws the .notdef box


# Simulates other machines: BATCHGEN_TEST_FONTS=none (no fonts at all) or latin (only DejaVu Sans, a fresh Debian).
SIMULATED_FONTS = os.environ.get("BATCHGEN_TEST_FONTS", "")
LATIN_FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf")


@pytest.fixture(autouse=True)
def fresh_font_cache(monkeypatch, tmp_path_factory):
    """Each test sees the fonts of its own environment; later tests see the real ones again."""
    if SIMULATED_FONTS:
        dirs = []
        if SIMULATED_FONTS == "latin":
            folder = tmp_path_factory.getbasetemp() / "latin-only-fonts"
            folder.mkdir(exist_ok=True)
            for path in LATIN_FONT_CANDIDATES:
                if os.path.isfile(path) and not (folder / os.path.basename(path)).exists():
                    shutil.copy(path, folder)
            dirs = [folder]
        monkeypatch.setattr(fonts, "_system_font_dirs", lambda: list(dirs))
        monkeypatch.delenv("BATCHGEN_FONT", raising=False)
        monkeypatch.delenv("BATCHGEN_FONT_DIRS", raising=False)
    find_fonts.cache_clear()
    yield
    find_fonts.cache_clear()


def ink(card: Image.Image, blank: Image.Image, threshold: int = 40) -> Image.Image:
    """Mask of the pixels the text changed (card vs. the same card without text)."""
    diff = ImageChops.difference(card, blank).convert("L")
    return diff.point(lambda v: 255 if v > threshold else 0)


def ink_of(text: str, width: int = 160, height: int = 160, seed: int = 3, font_size: int = 0) -> Image.Image:
    """Ink mask of a text on a card."""
    return ink(render_text_card(text, width, height, seed, font_size), render_text_card("", width, height, seed, font_size))


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    """Whether two images are pixel-identical."""
    return a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def text_rows(mask: Image.Image) -> int:
    """Number of separate horizontal bands of ink (≈ lines of text)."""
    width, height = mask.size
    data = mask.tobytes()
    bands, inside = 0, False
    for y in range(height):
        has_ink = any(data[y * width : (y + 1) * width])
        bands += has_ink and not inside
        inside = has_ink
    return bands


def wcag_contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """WCAG 2 contrast ratio, computed here independently of the module."""

    def lum(rgb: tuple[int, ...]) -> float:
        lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


FONTCONFIG_QUERY = {"chinese": ":lang=zh-cn", "japanese": ":lang=ja", "korean": ":lang=ko", "emoji": ":charset=1f680"}


def installed_by_fontconfig(script: str) -> bool:
    """An independent opinion: does fontconfig list a font for the script in the folders we search?"""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return False
    out = subprocess.run([fc_list, FONTCONFIG_QUERY[script], "file"], capture_output=True, text=True, timeout=60).stdout
    roots = [str(d) for d in fonts._system_font_dirs()]
    return any(line.split(":")[0].startswith(tuple(roots)) for line in out.splitlines() if roots)


def require_script(script: str) -> None:
    """Skip when no installed font draws the script; fail when fontconfig sees one that we missed."""
    if script not in font_report()["missing"]:
        return
    if installed_by_fontconfig(script):
        pytest.fail(f"fontconfig lists a {script} font but textcard found none")
    pytest.skip(f"no {script} font installed (Debian: apt-get install fonts-wqy-microhei fonts-symbola fonts-noto-color-emoji)")


def test_mixed_script_card_has_requested_size_and_draws_text():
    card = render_text_card(MIXED, 640, 360, seed=1)
    assert card.mode == "RGB"
    assert card.size == (640, 360)
    assert ink(card, render_text_card("", 640, 360, seed=1)).getbbox() is not None


@pytest.mark.parametrize("size", [(64, 64), (1000, 80), (80, 1000)])
def test_odd_sizes_render(size):
    assert render_text_card(MIXED * 3, *size, seed=2).size == size


def test_same_seed_gives_same_pixels():
    assert same_pixels(render_text_card(MIXED, 320, 200, seed=42), render_text_card(MIXED, 320, 200, seed=42))


def test_different_seeds_give_visibly_different_backgrounds():
    cards = [render_text_card("", 120, 80, seed=s) for s in range(6)]
    for i in range(len(cards)):
        for j in range(i + 1, len(cards)):
            a, b = cards[i].getpixel((60, 40)), cards[j].getpixel((60, 40))
            distance = sum(abs(x - y) for x, y in zip(a, b, strict=True))
            assert distance > 30, f"seeds {i} and {j} look alike: {a} vs {b}"
    huge = 2**64 - 1
    assert not same_pixels(render_text_card("", 120, 80, seed=huge), render_text_card("", 120, 80, seed=huge - 1))


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_text_contrasts_with_background(seed):
    # A full block glyph gives solid ink; compare it with the background right under it.
    card = render_text_card("\u2588\u2588\u2588", 200, 120, seed=seed, font_size=40)
    blank = render_text_card("", 200, 120, seed=seed, font_size=40)
    diff = ImageChops.difference(card, blank).convert("L")
    x, y = max(((x, y) for x in range(0, 200, 2) for y in range(0, 120, 2)), key=lambda p: diff.getpixel(p))
    assert wcag_contrast(card.getpixel((x, y)), blank.getpixel((x, y))) >= 4.5


@pytest.mark.parametrize(("script", "first", "second"), [("chinese", "中", "文"), ("japanese", "語", "あ"), ("korean", "한", "국")])
def test_cjk_draws_real_glyphs_not_boxes(script, first, second):
    require_script(script)
    box = ink_of(NOTDEF, font_size=80)
    a, b = ink_of(first, font_size=80), ink_of(second, font_size=80)
    assert a.getbbox() and b.getbbox(), "no ink at all"
    # Missing glyphs all draw the same .notdef box: real glyphs differ from it and from each other.
    assert not same_pixels(a, box)
    assert not same_pixels(b, box)
    assert not same_pixels(a, b)


def test_emoji_draws_real_glyphs_not_boxes():
    require_script("emoji")
    box = ink_of(NOTDEF, font_size=80)
    a, b = ink_of("🚀", font_size=80), ink_of("🎉", font_size=80)
    assert a.getbbox() and b.getbbox()
    assert not same_pixels(a, box)
    assert not same_pixels(a, b)


def test_colour_emoji_font_draws_in_colour():
    report = font_report()
    if report["emoji"] is None or "Color" not in report["emoji"]["name"]:
        pytest.skip("no colour emoji font (Debian: apt-get install fonts-noto-color-emoji)")
    card = render_text_card("🎉", 160, 160, seed=0, font_size=80)
    mask = ink_of("🎉", font_size=80, seed=0)
    ink_pixels = [card.getpixel((x, y)) for x in range(160) for y in range(160) if mask.getpixel((x, y))]
    saturated = [p for p in ink_pixels if max(p) - min(p) > 80]
    assert len(saturated) > len(ink_pixels) // 4


def test_long_latin_text_wraps_and_stays_inside_the_card():
    width, height = 400, 300
    text = "a quiet harbour at dusk with fishing boats and lanterns reflected in still water " * 8
    mask = ink_of(text, width, height)
    left, top, right, bottom = mask.getbbox()
    margin = round(min(width, height) * 0.05)
    assert left >= margin and top >= margin and right <= width - margin and bottom <= height - margin
    assert text_rows(mask) >= 5, "long text should wrap into several lines"
    assert right - left > width * 0.6, "wrapped lines should use the card's width"


def test_long_cjk_text_without_spaces_wraps():
    require_script("chinese")
    width, height = 300, 300
    mask = ink_of("一只可爱的小猫坐在窗台上看着外面的雨" * 4, width, height)
    left, _top, right, _bottom = mask.getbbox()
    assert text_rows(mask) >= 3
    assert right <= width - round(width * 0.05)


def test_overflowing_text_is_cut_not_spilled():
    width, height = 200, 100
    mask = ink_of("overflow " * 400, width, height, font_size=30)
    left, top, right, bottom = mask.getbbox()
    assert top > 0 and bottom < height and left > 0 and right < width


def test_font_size_sets_glyph_height():
    small = ink_of("Hxg", 400, 300, font_size=20).getbbox()
    large = ink_of("Hxg", 400, 300, font_size=60).getbbox()
    ratio = (large[3] - large[1]) / (small[3] - small[1])
    assert 2.4 < ratio < 3.6


def first_band_height(mask: Image.Image) -> int:
    """Height of the first horizontal band of ink (the first text line)."""
    width, height = mask.size
    data = mask.tobytes()
    rows = [any(data[y * width : (y + 1) * width]) for y in range(height)]
    start = rows.index(True)
    end = rows.index(False, start) if False in rows[start:] else height
    return end - start


def test_auto_size_fills_the_card_and_shrinks_for_longer_text():
    short = ink_of("Hxg", 400, 300, font_size=0)
    long = ink_of("Hxg " + "words that need room " * 20, 400, 300, font_size=0)
    assert first_band_height(short) > 300 * 0.2, "a short prompt should be drawn large"
    assert text_rows(long) >= 3
    assert first_band_height(short) > 2 * first_band_height(long)


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError):
        render_text_card("x", 0, 10)
    with pytest.raises(ValueError):
        render_text_card("x", 10, 10, font_size=-1)


def test_font_report_names_the_fonts():
    report = font_report()
    assert report["latin"] and report["latin"]["name"]
    for entry in report["chain"]:
        assert entry["name"] and os.path.isfile(entry["path"])
    for group in ("cjk", "emoji"):
        if group in report["missing"] or report[group] is None:
            continue
        assert report[group]["name"] in {entry["name"] for entry in report["chain"]}


def latin_only_font() -> str:
    """Path of an installed font without CJK glyphs, or skip."""
    latin = font_report()["latin"]
    if not latin or not latin["path"] or faces._has_glyph(faces.FontFace(latin["path"], latin["index"]), "中"):
        pytest.skip("needs a Latin-only font such as DejaVu Sans (Debian: fonts-dejavu-core)")
    return latin["path"]


def test_missing_cjk_font_warns_once_and_draws_boxes(monkeypatch, caplog):
    font = latin_only_font()
    monkeypatch.setattr(fonts, "_system_font_dirs", lambda: [])
    monkeypatch.setenv("BATCHGEN_FONT", font)
    monkeypatch.delenv("BATCHGEN_FONT_DIRS", raising=False)
    find_fonts.cache_clear()
    caplog.clear()  # latin_only_font() itself may have warned about the machine's own fonts
    with caplog.at_level(logging.WARNING, logger="batchgen"):
        render_text_card("中文", 160, 160)
        render_text_card("한국어", 160, 160)
        report = font_report()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("[batchgen] ")
    assert "chinese" in warnings[0] and "korean" in warnings[0]
    assert "apt-get install" in warnings[0] and "BATCHGEN_FONT" in warnings[0]
    assert report["cjk"] is None
    assert report["latin"]["path"] == font
    assert same_pixels(ink_of("中", font_size=80), ink_of(NOTDEF, font_size=80)), "without a CJK font, CJK is a box"


def test_font_dirs_env_adds_fonts(monkeypatch):
    require_script("chinese")
    cjk_dir = os.path.dirname(font_report()["cjk"]["path"])
    monkeypatch.setattr(fonts, "_system_font_dirs", lambda: [])
    monkeypatch.delenv("BATCHGEN_FONT", raising=False)
    monkeypatch.setenv("BATCHGEN_FONT_DIRS", os.pathsep.join(["/nonexistent-batchgen-fonts", cjk_dir]))
    find_fonts.cache_clear()
    assert font_report()["scripts"]["chinese"]["path"].startswith(cjk_dir)


def test_no_fonts_at_all_falls_back_to_builtin(monkeypatch, caplog):
    monkeypatch.setattr(fonts, "_system_font_dirs", lambda: [])
    monkeypatch.delenv("BATCHGEN_FONT", raising=False)
    monkeypatch.delenv("BATCHGEN_FONT_DIRS", raising=False)
    find_fonts.cache_clear()
    with caplog.at_level(logging.WARNING, logger="batchgen"):
        mask = ink_of("Hello", 200, 100)
    assert mask.getbbox() is not None
    assert font_report()["builtin_fallback"] is True
    assert any("built-in" in r.getMessage() for r in caplog.records)


def test_glyph_lookup_agrees_with_what_freetype_draws():
    # The cmap lookup decides the font per character; if it were wrong, text would silently turn into boxes.
    chain = find_fonts()
    if not chain:
        pytest.skip("no fonts installed")
    for face in chain:
        for char in "Aé€中あ한🚀😀":
            assert faces._has_glyph(face, char) == faces._differs_from_notdef(face, char), (face.name, char)


@pytest.mark.skipif(bool(SIMULATED_FONTS), reason="already simulating")
@pytest.mark.parametrize("simulated", ["none", "latin"])
def test_this_file_passes_on_machines_with_fewer_fonts(simulated):
    # The README's test command must pass on a fresh machine: without any font, or with only DejaVu Sans.
    env = {**os.environ, "BATCHGEN_TEST_FONTS": simulated}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
