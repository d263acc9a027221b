"""Render a prompt as a "text card" image: wrapped, auto-fitted, multi-script, seed-coloured.

Pure module (stdlib + Pillow): the demo node and tests use it without ComfyUI. Latin, CJK
and emoji render through a per-character fallback over a chain of system fonts.

Font discovery and glyph coverage live in the core (batchgen/fonts.py, batchgen/fontfaces.py; the contact sheets use them
too) and are re-exported here as ``fonts`` and ``faces``; this package holds
``layout`` (wrapping and fitting) and ``render`` (colours and drawing).
"""

from __future__ import annotations

from ...batchgen import fontfaces as faces
from ...batchgen import fonts
from ...batchgen.fontfaces import FontFace
from ...batchgen.fonts import find_fonts, font_report
from .render import card_palette, render_text_card

__all__ = ["FontFace", "card_palette", "faces", "find_fonts", "font_report", "fonts", "render_text_card"]
