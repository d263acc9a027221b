"""Render a prompt as a "text card" image: wrapped, auto-fitted, multi-script, seed-coloured.

Pure module (stdlib + Pillow): the demo node and tests use it without ComfyUI. Latin, CJK
and emoji render through a per-character fallback over a chain of system fonts.
"""

from __future__ import annotations

import bisect
import colorsys
import fnmatch
import functools
import hashlib
import logging
import math
import os
import struct
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("batchgen.textcard")

__all__ = ["FontFace", "find_fonts", "font_report", "render_text_card"]

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

MIN_FONT_SIZE = 6
MAX_FONT_SIZE = 512
ASCENT = 0.98  # baseline below the line top, in em: above every tested font's ascent
LINE_HEIGHT = 1.3  # line pitch in em, room for descenders and emoji
MIN_CONTRAST = 7.0  # WCAG AAA for body text
ELLIPSIS = "…"

ZWJ = "\u200d"
CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x33FF),  # CJK symbols, kana, bopomofo, Hangul compatibility, enclosed
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables and Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2300, 0x23FF))
# Variation selectors, skin tones, tag characters, ZWJ, keycap: part of the character before them.
EXTENDER_RANGES = ((0xFE00, 0xFE0F), (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F), (0x200D, 0x200D), (0x20E3, 0x20E3))
# Characters a line must not start with: they attach to the token before them.
NO_BREAK_BEFORE = set("，。、．！？：；）」』》〉】〕’”…‥ー々〜～,.!?;:)]}%")


# ---------------------------------------------------------------------------
# Font discovery
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FontFace:
    """One face of a font file, as a link of the fallback chain."""

    path: str
    index: int = 0
    name: str = ""
    native_size: int | None = None  # set for bitmap-only fonts: they are drawn at this size and scaled
    color: bool = False  # has colour glyphs (CBDT, sbix, COLR): drawn with embedded_color

    @property
    def builtin(self) -> bool:
        """Pillow's built-in font, the last resort."""
        return self.path == ""


BUILTIN_FACE = FontFace(path="", name="Pillow built-in")


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


def _covering(chain: tuple[FontFace, ...], char: str) -> FontFace | None:
    """First face of the chain with a glyph for the character."""
    return next((face for face in chain if _has_glyph(face, char)), None)


def _warn_missing(chain: tuple[FontFace, ...]) -> None:
    """Log one warning naming the scripts that will render as boxes, and the fix."""
    if not chain:
        log.warning(
            "[batchgen] no usable font found: text cards use Pillow's built-in Latin-only font, other scripts render as boxes. %s",
            _FONT_FIX,
        )
        return
    missing = [script for script, probe in SCRIPT_PROBES.items() if _covering(chain, probe) is None]
    if missing:
        log.warning("[batchgen] no font for %s: text cards will draw those characters as boxes. %s", ", ".join(missing), _FONT_FIX)


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


# ---------------------------------------------------------------------------
# Glyph coverage: read the font's cmap (cheap, exact); rendering comparison as a fallback
# ---------------------------------------------------------------------------


def _sfnt_tables(path: str, index: int = 0) -> dict[bytes, tuple[int, int]] | None:
    """Table directory {tag: (offset, length)} of an sfnt font or collection face; None if not sfnt."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            base = 0
            if head[:4] == b"ttcf":
                count = struct.unpack(">I", head[8:12])[0]
                if not 0 <= index < count:
                    return None
                fh.seek(12 + 4 * index)
                base = struct.unpack(">I", fh.read(4))[0]
                fh.seek(base)
                head = fh.read(12)
            if head[:4] not in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
                return None
            num = struct.unpack(">H", head[4:6])[0]
            records = [struct.unpack(">4sIII", fh.read(16)) for _ in range(num)]
    except (OSError, struct.error):
        return None  # unreadable or truncated: the caller falls back to rendering checks
    return {tag: (offset, length) for tag, _checksum, offset, length in records}


def _cmap_ranges(path: str, index: int) -> tuple[list[int], list[int]] | None:
    """Sorted (starts, ends) of the code points the font maps to a real glyph; None if unreadable."""
    tables = _sfnt_tables(path, index)
    if not tables or b"cmap" not in tables:
        return None
    offset, length = tables[b"cmap"]
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
        return _parse_cmap(data)
    except (OSError, struct.error, ValueError):
        return None


def _parse_cmap(data: bytes) -> tuple[list[int], list[int]] | None:
    """Parse the best Unicode subtable (format 12, else 4) of a cmap table."""
    count = struct.unpack_from(">H", data, 2)[0]
    subtables = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, 4 + 8 * i)
        subtables[(platform, encoding)] = offset
    # Full-repertoire (format 12) subtables first: emoji live above U+FFFF.
    for key in ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0)):
        if key in subtables:
            offset = subtables[key]
            fmt = struct.unpack_from(">H", data, offset)[0]
            if fmt == 12:
                return _merge(_cmap_format12(data, offset))
            if fmt == 4:
                return _merge(_cmap_format4(data, offset))
    return None


def _cmap_format12(data: bytes, offset: int) -> list[tuple[int, int]]:
    """Ranges of a format 12 (segmented coverage) subtable."""
    groups = struct.unpack_from(">I", data, offset + 12)[0]
    ranges = []
    for i in range(groups):
        start, end, glyph = struct.unpack_from(">III", data, offset + 16 + 12 * i)
        ranges.append((start + 1, end) if glyph == 0 else (start, end))  # glyph 0 is .notdef
    return [r for r in ranges if r[0] <= r[1]]


def _cmap_format4(data: bytes, offset: int) -> list[tuple[int, int]]:
    """Ranges of a format 4 (BMP segment mapping) subtable, skipping chars mapped to .notdef."""
    segs = struct.unpack_from(">H", data, offset + 6)[0] // 2
    ends = struct.unpack_from(f">{segs}H", data, offset + 14)
    starts = struct.unpack_from(f">{segs}H", data, offset + 16 + 2 * segs)
    deltas = struct.unpack_from(f">{segs}h", data, offset + 16 + 4 * segs)
    range_pos = offset + 16 + 6 * segs
    range_offsets = struct.unpack_from(f">{segs}H", data, range_pos)
    ranges: list[tuple[int, int]] = []
    for i in range(segs):
        start, end = starts[i], min(ends[i], 0xFFFE)
        if start > end:
            continue
        if range_offsets[i] == 0:
            # glyph = (c + delta) mod 65536; only one c can hit glyph 0
            hole = (-deltas[i]) & 0xFFFF
            ranges += [r for r in ((start, min(end, hole - 1)), (max(start, hole + 1), end)) if r[0] <= r[1]]
            continue
        glyph_pos = range_pos + 2 * i + range_offsets[i]
        for c in range(start, end + 1):
            if struct.unpack_from(">H", data, glyph_pos + 2 * (c - start))[0] != 0:
                ranges.append((c, c))
    return ranges


def _merge(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sort and join adjacent ranges into parallel start/end lists for bisect."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(ranges):
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


@functools.lru_cache(maxsize=64)
def _coverage(face: FontFace) -> tuple[list[int], list[int]] | None:
    """The face's cmap ranges, read once per face."""
    return None if face.builtin else _cmap_ranges(face.path, face.index)


@functools.lru_cache(maxsize=65536)
def _has_glyph(face: FontFace, char: str) -> bool:
    """Whether the face draws the character itself rather than its .notdef box (cached per face+char)."""
    if face.builtin:
        return True  # last resort: nothing to fall back to
    ranges = _coverage(face)
    if ranges is not None:
        starts, ends = ranges
        i = bisect.bisect_right(starts, ord(char)) - 1
        return i >= 0 and ord(char) <= ends[i]
    return _differs_from_notdef(face, char)


def _differs_from_notdef(face: FontFace, char: str) -> bool:
    """Fallback for fonts without a readable cmap: compare the glyph with the .notdef rendering."""
    font = _load_font(face, 32)
    notdef = "\U0010fffd"  # private use, never in a normal font: always renders as .notdef
    try:
        a, b = font.getmask(char), font.getmask(notdef)
    except (OSError, ValueError):
        return False
    return a.size != b.size or bytes(a) != bytes(b)


def _load_font(face: FontFace, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The face at a pixel size (bitmap-only faces always at their native size)."""
    return _open_font(face, face.native_size or size)


@functools.lru_cache(maxsize=256)
def _open_font(face: FontFace, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Open a face at a size once (FreeType keeps the file open)."""
    if face.builtin:
        return ImageFont.load_default(size)
    return ImageFont.truetype(face.path, size, index=face.index)


# ---------------------------------------------------------------------------
# Text segmentation
# ---------------------------------------------------------------------------


def _in_ranges(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Whether a code point lies in one of the ranges."""
    return any(lo <= cp <= hi for lo, hi in ranges)


def _is_extender(char: str) -> bool:
    """Marks that belong to the character before them (combining, variation selectors, skin tones, ZWJ)."""
    return bool(unicodedata.combining(char)) or _in_ranges(ord(char), EXTENDER_RANGES)


def _clusters(text: str) -> list[str]:
    """Split into user-perceived characters (approximate grapheme clusters, emoji sequences kept whole)."""
    out: list[str] = []
    for char in text:
        regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        joins_flag = regional and out and len(out[-1]) == 1 and 0x1F1E6 <= ord(out[-1]) <= 0x1F1FF
        if out and out[-1] not in ("\n", " ") and (_is_extender(char) or out[-1].endswith(ZWJ) or joins_flag):
            out[-1] += char
        else:
            out.append(char)
    return out


def _breakable(cluster: str) -> bool:
    """CJK and emoji may break before any character; Latin only between words."""
    cp = ord(cluster[0])
    return _in_ranges(cp, CJK_RANGES) or _in_ranges(cp, EMOJI_RANGES)


def _tokens(text: str) -> list[str]:
    """Wrap units: "\\n", " ", Latin words, and single CJK/emoji clusters (with trailing closing punctuation)."""
    tokens: list[str] = []
    word = False  # whether tokens[-1] is a Latin word still growing
    for cluster in _clusters(text):
        if cluster in ("\n", " "):
            tokens.append(cluster)
            word = False
        elif tokens and cluster[0] in NO_BREAK_BEFORE and tokens[-1] not in ("\n", " "):
            tokens[-1] += cluster
        elif _breakable(cluster):
            tokens.append(cluster)
            word = False
        elif word:
            tokens[-1] += cluster
        else:
            tokens.append(cluster)
            word = True
    return tokens


def _clean(text: str) -> str:
    """Normalise line ends and tabs, drop other control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")


# ---------------------------------------------------------------------------
# Font choice per cluster, runs and measuring
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=16384)
def _face_for(chain: tuple[FontFace, ...], cluster: str) -> FontFace:
    """Font for a cluster: emoji presentation prefers colour fonts; no match draws the first face's box."""
    if not chain:
        return BUILTIN_FACE
    base = cluster[0]
    emoji_first = ord(base) >= 0x1F000 or "\ufe0f" in cluster
    order = sorted(chain, key=lambda f: not f.color) if emoji_first else chain
    return _covering(tuple(order), base) or chain[0]


def _runs(chain: tuple[FontFace, ...], text: str) -> list[tuple[FontFace, str]]:
    """Split text into (face, text) runs drawn with one font each."""
    runs: list[tuple[FontFace, str]] = []
    for cluster in _clusters(text):
        face = _face_for(chain, cluster)
        # Invisible joiners/selectors the face lacks would draw as boxes: drop them.
        kept = cluster[0] + "".join(c for c in cluster[1:] if face.builtin or _has_glyph(face, c) or unicodedata.combining(c))
        if runs and runs[-1][0] == face:
            runs[-1] = (face, runs[-1][1] + kept)
        else:
            runs.append((face, kept))
    return runs


def _scale(face: FontFace, size: int) -> float:
    """Factor from the font's drawing size to the wanted size (bitmap fonts draw at native size)."""
    return size / face.native_size if face.native_size else 1.0


@functools.lru_cache(maxsize=8192)
def _run_width(face: FontFace, size: int, text: str) -> float:
    """Advance width of a run at a size, in pixels."""
    return _load_font(face, size).getlength(text) * _scale(face, size)


def _width(chain: tuple[FontFace, ...], size: int, text: str) -> float:
    """Advance width of mixed-script text at a size."""
    return sum(_run_width(face, size, run) for face, run in _runs(chain, text))


# ---------------------------------------------------------------------------
# Layout: wrapping, fitting, truncation
# ---------------------------------------------------------------------------


def _split_long(chain: tuple[FontFace, ...], size: int, token: str, max_w: float) -> list[str]:
    """Break a token wider than the line into pieces by character."""
    pieces = [""]
    for cluster in _clusters(token):
        if pieces[-1] and _width(chain, size, pieces[-1] + cluster) > max_w:
            pieces.append("")
        pieces[-1] += cluster
    return pieces


def _wrap(chain: tuple[FontFace, ...], size: int, text: str, max_w: float) -> list[str]:
    """Greedy wrap: break at spaces between words and anywhere in CJK; hard breaks at newlines."""
    lines: list[str] = []
    line, line_w = "", 0.0
    for token in _tokens(text):
        if token == "\n":
            lines.append(line.rstrip())
            line, line_w = "", 0.0
            continue
        token_w = _width(chain, size, token)
        if line_w + token_w <= max_w or (token == " " and line):
            line, line_w = line + token, line_w + token_w
            continue
        if token == " ":
            continue  # a space never starts a wrapped line
        if line.strip():
            lines.append(line.rstrip())
        line, line_w = "", 0.0
        if token_w > max_w:
            *full, token = _split_long(chain, size, token, max_w)
            lines += full
            token_w = _width(chain, size, token)
        line, line_w = token, token_w
    lines.append(line.rstrip())
    return lines


def _line_pitch(size: int) -> int:
    """Distance between baselines."""
    return math.ceil(size * LINE_HEIGHT)


def _block_height(size: int, lines: int) -> int:
    """Height of a text block of n lines (the last without its line gap)."""
    return (lines - 1) * _line_pitch(size) + math.ceil(size * (ASCENT + 0.27)) if lines else 0


def _max_lines(size: int, box_h: int) -> int:
    """How many lines fit in the box height."""
    n = 0
    while _block_height(size, n + 1) <= box_h:
        n += 1
    return n


def _fits(chain: tuple[FontFace, ...], size: int, text: str, box_w: int, box_h: int) -> bool:
    """Whether the wrapped text fits the box at this size without truncation."""
    lines = _wrap(chain, size, text, box_w)
    return _block_height(size, len(lines)) <= box_h and all(_width(chain, size, ln) <= box_w for ln in lines)


def _largest_size(box_w: int, box_h: int) -> int:
    """Largest size at which one line, and one wide (CJK/emoji) character, still fit the box."""
    return max(MIN_FONT_SIZE, min(MAX_FONT_SIZE, int(box_h / (ASCENT + 0.27)), int(box_w / 1.3)))


def _auto_size(chain: tuple[FontFace, ...], text: str, box_w: int, box_h: int) -> int:
    """Largest size (binary search) at which the text fits; capped so a short prompt is not a poster."""
    low = MIN_FONT_SIZE
    high = max(low, min(_largest_size(box_w, box_h), int(min(box_w, box_h) * 0.4)))
    while low < high:
        mid = (low + high + 1) // 2
        if _fits(chain, mid, text, box_w, box_h):
            low = mid
        else:
            high = mid - 1
    return low


def _truncate(chain: tuple[FontFace, ...], size: int, lines: list[str], max_lines: int, box_w: int) -> list[str]:
    """Keep the lines that fit; end the last kept one with an ellipsis when text was dropped."""
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    if not kept:
        return kept
    last = _clusters(kept[-1])
    while last and _width(chain, size, "".join(last) + ELLIPSIS) > box_w:
        last.pop()
    kept[-1] = "".join(last).rstrip() + ELLIPSIS
    return kept


# ---------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Card colours derived from a seed."""

    top: RGB
    bottom: RGB
    accent: RGB
    ink: RGB
    horizontal: bool


def _luminance(rgb: RGB) -> float:
    """WCAG relative luminance."""

    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio of two colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _hls(h: float, lightness: float, s: float) -> RGB:
    """HLS (0..1 each) to 8-bit RGB."""
    r, g, b = colorsys.hls_to_rgb(h % 1.0, min(1.0, max(0.0, lightness)), s)
    return round(r * 255), round(g * 255), round(b * 255)


def card_palette(seed: int) -> Palette:
    """Deterministic colours for a seed; the ink keeps >= MIN_CONTRAST against the whole background."""
    # Golden-ratio hue stepping: neighbouring seeds (0, 1, 2...) get far-apart hues.
    hue = ((seed * 0x9E3779B97F4A7C15) % 2**64) / 2**64
    bits = hashlib.blake2b(str(seed).encode(), digest_size=8).digest()
    dark = bits[0] & 1 == 0
    sat = 0.35 + 0.4 * bits[1] / 255
    light = (0.16 + 0.12 * bits[2] / 255) if dark else (0.80 + 0.10 * bits[2] / 255)
    shift = (0.06 + 0.06 * bits[3] / 255) * (1 if dark else -1)  # gradient towards mid-grey
    ink = (246, 246, 242) if dark else (22, 22, 28)
    while True:  # darken (dark card) or lighten (light card) until both gradient ends contrast
        top, bottom = _hls(hue, light, sat), _hls(hue + 0.04, light + shift, sat)
        if min(_contrast(ink, top), _contrast(ink, bottom)) >= MIN_CONTRAST or not 0.0 < light < 1.0:
            break
        light += -0.02 if dark else 0.02
    accent = _hls(hue + 0.5 + 0.2 * (bits[4] / 255 - 0.5), 0.6 if dark else 0.42, 0.8)
    return Palette(top=top, bottom=bottom, accent=accent, ink=ink, horizontal=bool(bits[5] & 1))


def _background(width: int, height: int, palette: Palette) -> Image.Image:
    """Two-colour linear gradient, vertical or horizontal by seed."""
    mask = Image.linear_gradient("L")  # 256x256, black at the top to white at the bottom
    if palette.horizontal:
        mask = mask.transpose(Image.Transpose.ROTATE_90)
    mask = mask.resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", (width, height), palette.bottom), Image.new("RGB", (width, height), palette.top), mask)


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------


def _draw_run(card: Image.Image, draw: ImageDraw.ImageDraw, face: FontFace, size: int, x: float, baseline: int, text: str, ink: RGB) -> None:
    """Draw one run with its baseline at `baseline`."""
    font = _load_font(face, size)
    if face.native_size:
        _paste_bitmap_run(card, font, face, size, x, baseline, text)
    elif isinstance(font, ImageFont.FreeTypeFont):
        draw.text((x, baseline), text, font=font, fill=ink, anchor="ls", embedded_color=face.color)
    else:  # Pillow's bitmap default font (no FreeType): no anchors
        draw.text((x, baseline - size), text, font=font, fill=ink)


def _paste_bitmap_run(card: Image.Image, font: ImageFont.FreeTypeFont, face: FontFace, size: int, x: float, baseline: int, text: str) -> None:
    """Draw a colour-bitmap run at the font's native size, scale it, and composite it onto the card."""
    ascent, descent = font.getmetrics()
    width = math.ceil(font.getlength(text)) + 2
    layer = Image.new("RGBA", (width, ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((0, ascent), text, font=font, anchor="ls", embedded_color=True)
    scale = _scale(face, size)
    layer = layer.resize((max(1, round(width * scale)), max(1, round((ascent + descent) * scale))), Image.Resampling.LANCZOS)
    card.paste(layer, (round(x), baseline - round(ascent * scale)), layer)


def _decorate(draw: ImageDraw.ImageDraw, width: int, height: int, pad: int, palette: Palette) -> None:
    """Accent bar on the left and a rule at the bottom, both inside the margin."""
    bar = max(2, pad // 3)
    draw.rectangle((0, 0, bar - 1, height - 1), fill=palette.accent)
    rule = max(1, pad // 8)
    draw.rectangle((pad, height - pad // 2 - rule, width - pad - 1, height - pad // 2 - 1), fill=palette.accent)


def _margin(width: int, height: int) -> int:
    """Padding between the card edge and the text box."""
    return max(4, round(min(width, height) * 0.07))


def render_text_card(text: str, width: int, height: int, seed: int = 0, font_size: int = 0) -> Image.Image:
    """Render text on a seed-coloured card (RGB); font_size 0 fits the text to the card."""
    if width < 1 or height < 1:
        raise ValueError(f"card size must be positive, got {width}x{height}")
    if font_size < 0:
        raise ValueError(f"font_size must be >= 0 (0 = auto), got {font_size}")
    palette = card_palette(seed)
    card = _background(width, height, palette)
    draw = ImageDraw.Draw(card)
    pad = _margin(width, height)
    _decorate(draw, width, height, pad, palette)

    text = _clean(text)
    box_w, box_h = width - 2 * pad, height - 2 * pad
    if not text.strip() or box_w < 1 or box_h < 1:
        return card
    chain = find_fonts()
    size = min(font_size, _largest_size(box_w, box_h)) if font_size else _auto_size(chain, text, box_w, box_h)
    lines = _wrap(chain, size, text, box_w)
    lines = _truncate(chain, size, lines, max(1, _max_lines(size, box_h)), box_w)

    # Draw on a copy and paste back only the text box: no glyph can ever leak into the margin.
    layer = card.copy()
    layer_draw = ImageDraw.Draw(layer)
    top = pad + (box_h - _block_height(size, len(lines))) // 2
    for i, line in enumerate(lines):
        baseline = top + round(size * ASCENT) + i * _line_pitch(size)
        x: float = pad
        for face, run in _runs(chain, line):
            _draw_run(layer, layer_draw, face, size, x, baseline, run, palette.ink)
            x += _run_width(face, size, run)
    box = (pad, pad, pad + box_w, pad + box_h)
    card.paste(layer.crop(box), box[:2])
    return card
