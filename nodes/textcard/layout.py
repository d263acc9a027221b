"""Text layout: grapheme clusters, wrap tokens, per-font runs, measuring, wrapping, fitting and truncation."""

from __future__ import annotations

import functools
import math
import unicodedata

from ...batchgen.fontfaces import FontFace, _face_for, _has_glyph, _load_font

MIN_FONT_SIZE = 6
MAX_FONT_SIZE = 512
ASCENT = 0.98  # baseline below the line top, in em: above every tested font's ascent
LINE_HEIGHT = 1.3  # line pitch in em, room for descenders and emoji
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
