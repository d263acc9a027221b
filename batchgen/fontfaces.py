"""Font faces and glyph coverage: which face draws a character (cmap read directly, rendering as a fallback)."""

from __future__ import annotations

import bisect
import functools
import struct
from dataclasses import dataclass

from PIL import ImageFont


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


def _covering(chain: tuple[FontFace, ...], char: str) -> FontFace | None:
    """First face of the chain with a glyph for the character."""
    return next((face for face in chain if _has_glyph(face, char)), None)


@functools.lru_cache(maxsize=16384)
def _face_for(chain: tuple[FontFace, ...], cluster: str) -> FontFace:
    """Font for a cluster: emoji presentation prefers colour fonts; no match draws the first face's box."""
    if not chain:
        return BUILTIN_FACE
    base = cluster[0]
    emoji_first = ord(base) >= 0x1F000 or "\ufe0f" in cluster
    order = sorted(chain, key=lambda f: not f.color) if emoji_first else chain
    return _covering(tuple(order), base) or chain[0]
