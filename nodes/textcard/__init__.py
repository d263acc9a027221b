"""Render a prompt as a "text card" image: wrapped, auto-fitted, multi-script, seed-coloured.

Pure module (stdlib + Pillow): the demo node and tests use it without ComfyUI. Latin, CJK
and emoji render through a per-character fallback over a chain of system fonts.

The renderer is a package of small modules: ``faces`` (glyph coverage), ``fonts`` (discovery),
``layout`` (wrapping and fitting) and ``render`` (colours and drawing).
"""

from __future__ import annotations

from .faces import FontFace
from .fonts import find_fonts, font_report
from .render import card_palette, render_text_card

__all__ = ["FontFace", "card_palette", "find_fonts", "font_report", "render_text_card"]
