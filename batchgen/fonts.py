"""Font discovery: the fallback chain from BATCHGEN_FONT, BATCHGEN_FONT_DIRS and the system's font folders.

Shared by the Text Card node (nodes/textcard) and the contact sheets (batchgen/sheets_render.py), so both find CJK fonts alike.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import sys
from pathlib import Path

from PIL import ImageFont

from .fontfaces import BUILTIN_FACE, FontFace, _covering, _face_for, _has_glyph, _sfnt_tables

log = logging.getLogger("batchgen.fonts")

FONT_EXTENSIONS = (".ttf", ".otf", ".ttc", ".otc")

# Fonts are picked by file name (lower case, fnmatch), best first. File names, not family
# names, because reading every font's name table on a big system would be slow.
LATIN_FONTS = (
    "dejavusans.ttf", "notosans-regular.ttf", "notosans-regular.otf", "liberationsans-regular.ttf", "arial.ttf",
    "segoeui.ttf", "helvetica.ttc", "helveticaneue.ttc", "sfns.ttf", "freesans.ttf", "roboto-regular.ttf",
    "ubuntu-r.ttf", "verdana.ttf",
)  # fmt: skip
CJK_FONTS = (
    # Noto Sans CJK / Source Han Sans (Debian fonts-noto-cjk, Adobe), WenQuanYi, Droid Sans Fallback (Linux)
    "notosanscjk-regular.ttc", "notosanscjksc-regular.otf", "notosanscjk*-regular.ttc", "notosanscjk*-regular.otf",
    "notosans*cjk*regular*", "sourcehansans-regular.ttc", "sourcehansans*-regular.otf", "sourcehansans*.ttc",
    "wqy-microhei.ttc", "wqy-zenhei.ttc", "droidsansfallbackfull.ttf", "droidsansfallback.ttf",
    # Microsoft YaHei, Yu Gothic, Meiryo, Malgun Gothic, SimHei (Windows); PingFang, Hiragino, Apple SD Gothic (macOS)
    "msyh.ttc", "msyh.ttf", "pingfang.ttc", "hiragino sans gb.ttc", "ヒラギノ角ゴシック w3.ttc", "hiraginosans-w3.ttc",
    "applesdgothicneo.ttc", "arial unicode.ttf", "arialuni.ttf", "yugothr.ttc", "meiryo.ttc", "msgothic.ttc",
    "malgun.ttf", "simhei.ttf", "simsun.ttc",
    # single-language Noto (Google Fonts downloads)
    "notosanssc-*.otf", "notosanssc-*.ttf", "notosansjp-*.otf", "notosanskr-*.otf",
)  # fmt: skip
EMOJI_FONTS = (
    # colour first (Noto Color Emoji, Segoe UI Emoji, Apple Color Emoji), then monochrome for wider symbol coverage
    "notocoloremoji.ttf", "seguiemj.ttf", "apple color emoji.ttc", "notoemoji-regular.ttf", "notoemoji*.ttf",
    "symbola*.ttf", "seguisym.ttf", "twemoji*.ttf",
)  # fmt: skip
# How many fonts of each group join the chain: several CJK fonts because some lack Hangul or kana.
CHAIN_LIMITS = {"latin": 1, "cjk": 3, "emoji": 2}
MAX_USER_DIR_FONTS = 8
STYLE_WORDS = ("bold", "italic", "oblique", "light", "thin", "black", "condensed", "mono", "extra", "semi", "medium")
MAX_SCANNED_FONTS = 400  # cmap reads when no preferred font covers a script (about 1 ms each)

# Probe characters: the report and the missing-font warning are about what renders, not file names.
SCRIPT_PROBES = {"latin": "A", "chinese": "中", "japanese": "あ", "korean": "한", "emoji": "🚀"}

# Bitmap-only colour fonts (CBDT/sbix) open only at their strike sizes; Noto Color Emoji is 109.
BITMAP_STRIKES = (109, 160, 136, 96, 64, 48, 40, 32, 20)


def _system_font_dirs() -> list[Path]:
    """Well-known font folders of Linux, macOS and Windows, existing ones only."""
    home = Path.home()
    dirs: list[Path] = []
    if sys.platform == "win32":
        windir = os.environ.get("WINDIR", r"C:\Windows")
        dirs.append(Path(windir) / "Fonts")
        local = os.environ.get("LOCALAPPDATA")
        if local:
            dirs.append(Path(local) / "Microsoft" / "Windows" / "Fonts")
    elif sys.platform == "darwin":
        dirs += [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library" / "Fonts"]
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
        dirs += [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path(xdg) / "fonts", home / ".fonts"]
    return [d for d in dirs if d.is_dir()]


def _env_font_dirs() -> list[Path]:
    """Folders named in BATCHGEN_FONT_DIRS (os.pathsep separated); missing ones are logged."""
    dirs = [Path(p.strip()).expanduser() for p in os.environ.get("BATCHGEN_FONT_DIRS", "").split(os.pathsep) if p.strip()]
    for missing in (d for d in dirs if not d.is_dir()):
        log.warning("[batchgen] BATCHGEN_FONT_DIRS entry %s is not a folder, ignoring it", missing)
    return [d for d in dirs if d.is_dir()]


def _font_files(dirs: list[Path]) -> list[str]:
    """Font files below the folders, in folder order, each file once."""
    seen: set[str] = set()
    files: list[str] = []
    for root in dirs:
        found: list[str] = []
        for folder, _subdirs, names in os.walk(root):  # no followlinks: symlinked folders may loop
            found += [os.path.join(folder, n) for n in names if n.lower().endswith(FONT_EXTENSIONS)]
        for path in sorted(found, key=_regular_first):
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                files.append(path)
    return files


def _regular_first(path: str) -> tuple[bool, str]:
    """Sort key: regular weights before bold/italic/light variants, then by path."""
    name = os.path.basename(path).lower()
    return any(word in name for word in STYLE_WORDS), path


def _pick(files: list[str], patterns: tuple[str, ...], limit: int) -> list[str]:
    """Up to `limit` files, in the order of the preference patterns."""
    picked: list[str] = []
    for pattern in patterns:
        for path in files:
            if path not in picked and fnmatch.fnmatch(os.path.basename(path).lower(), pattern):
                picked.append(path)
                if len(picked) >= limit:
                    return picked
    return picked


def _make_face(path: str, index: int = 0) -> FontFace | None:
    """Open-test a font file and describe it; None (logged) when Pillow cannot use it."""
    tables = _sfnt_tables(path, index)
    color = bool(tables and tables.keys() & {b"CBDT", b"sbix", b"COLR"})
    # An odd size opens only on scalable fonts; bitmap-only ones (CBDT, sbix) need one of their strikes.
    for size in (None, *BITMAP_STRIKES):
        try:
            font = ImageFont.truetype(path, size or 37, index=index)
        except OSError:
            continue
        family, style = font.getname()
        name = f"{family} {style}".strip() if style not in (None, "Regular", "Book") else str(family)
        return FontFace(path=path, index=index, name=name, native_size=size, color=color)
    log.warning("[batchgen] cannot open font %s, skipping it", path)
    return None


@functools.lru_cache(maxsize=1)
def find_fonts() -> tuple[FontFace, ...]:
    """The font fallback chain, best first: BATCHGEN_FONT, BATCHGEN_FONT_DIRS, then system fonts (cached)."""
    chain: list[FontFace] = []

    def add(face: FontFace | None) -> None:
        if face is not None and all((f.path, f.index) != (face.path, face.index) for f in chain):
            chain.append(face)

    env_font = os.environ.get("BATCHGEN_FONT", "").strip()
    if env_font:
        if os.path.isfile(env_font):
            add(_make_face(env_font))
        else:
            log.warning("[batchgen] BATCHGEN_FONT=%s is not a file, ignoring it", env_font)
    for path in _font_files(_env_font_dirs())[:MAX_USER_DIR_FONTS]:
        add(_make_face(path))
    system = _font_files(_system_font_dirs())
    for group, patterns in (("latin", LATIN_FONTS), ("cjk", CJK_FONTS), ("emoji", EMOJI_FONTS)):
        for path in _pick(system, patterns, CHAIN_LIMITS[group]):
            add(_make_face(path))
    for probe in SCRIPT_PROBES.values():
        if _covering(tuple(chain), probe) is None:
            add(_scan_for(system, probe))
    _warn_missing(tuple(chain))
    return tuple(chain)


def _scan_for(files: list[str], char: str) -> FontFace | None:
    """Any installed font with a glyph for the character: the slow path when no preferred font has it."""
    for path in files[:MAX_SCANNED_FONTS]:
        if _has_glyph(FontFace(path), char):
            return _make_face(path)
    return None


def _warn_missing(chain: tuple[FontFace, ...]) -> None:
    """Log one warning naming the scripts that will render as boxes, and the fix."""
    if not chain:
        log.warning(
            "[batchgen] no usable font found: text cards and contact sheets use Pillow's built-in Latin-only font, other scripts render as boxes. %s",
            _FONT_FIX,
        )
        return
    missing = [script for script, probe in SCRIPT_PROBES.items() if _covering(chain, probe) is None]
    if missing:
        log.warning("[batchgen] no font for %s: text cards and contact sheets will draw those characters as boxes. %s", ", ".join(missing), _FONT_FIX)


_FONT_FIX = (
    "Install fonts (Debian/Ubuntu: apt-get install fonts-wqy-microhei fonts-symbola fonts-noto-color-emoji) "
    "or set BATCHGEN_FONT to a font file / BATCHGEN_FONT_DIRS to font folders, then restart ComfyUI."
)


def font_report() -> dict:
    """Which font renders each script (name, path), the chain, and the scripts without a font."""
    chain = find_fonts()

    def describe(face: FontFace | None) -> dict | None:
        return None if face is None else {"name": face.name, "path": face.path, "index": face.index}

    # The face that actually draws each probe (emoji prefer colour fonts), None if it would be a box.
    scripts = {script: describe(_covering(chain, probe) and _face_for(chain, probe)) for script, probe in SCRIPT_PROBES.items()}
    if not chain:
        scripts["latin"] = describe(BUILTIN_FACE)
    return {
        "latin": scripts["latin"],
        "cjk": scripts["chinese"] or scripts["japanese"] or scripts["korean"],
        "emoji": scripts["emoji"],
        "scripts": scripts,
        "missing": [script for script, face in scripts.items() if face is None],
        "chain": [describe(face) for face in chain],
        "builtin_fallback": not chain,
    }
