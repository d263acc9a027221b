"""Drawing a text card: seed colours with guaranteed contrast, background, decoration, the text itself."""

from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from ...batchgen.fontfaces import FontFace, _load_font
from ...batchgen.fonts import find_fonts
from .layout import ASCENT, _auto_size, _block_height, _clean, _largest_size, _line_pitch, _max_lines, _run_width, _runs, _scale, _truncate, _wrap

MIN_CONTRAST = 7.0  # WCAG AAA for body text


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
