"""Contact sheet pixels: one grid page (X columns × Y rows) with titles, headers and marked failed cells (Pillow only).

Pure: takes the page's labels and, per cell, an image file path or a status word; no store, no host. Labels are drawn
with the same font chain as the Text Card node (batchgen/fonts.py), one face per run of characters, so CJK renders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .fontfaces import BUILTIN_FACE, FontFace, _has_glyph, _load_font
from .fonts import find_fonts

log = logging.getLogger("batchgen.sheets")

BACKGROUND = (250, 250, 250)
INK = (30, 30, 30)
MUTED = (110, 110, 110)
EMPTY = (225, 225, 225)
MARK = (200, 30, 30)
MARGIN, GAP, MIN_CELL = 16, 6, 32


@dataclass(slots=True)
class Cell:
    """One grid cell: the job's image file, or the status word shown instead (failed, cancelled, missing)."""

    image: Path | Image.Image | None = None  # a file, or pixels already in memory (the Contact Sheet node's images)
    status: str = "missing"


@dataclass(slots=True)
class Page:
    """One page of a contact sheet: its title, the X (columns) and Y (rows) axes and the cells by (column, row)."""

    title: str
    x_title: str
    x_labels: list[str]
    y_title: str
    y_labels: list[str]
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where everything goes: the page size, the cell size and the top-left corner of cell (0, 0)."""

    width: int
    height: int
    cell: int
    left: int
    top: int
    font_size: int

    def cell_box(self, col: int, row: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of a cell, x1/y1 exclusive."""
        x0, y0 = self.left + col * (self.cell + GAP), self.top + row * (self.cell + GAP)
        return x0, y0, x0 + self.cell, y0 + self.cell


def _chain() -> tuple[FontFace, ...]:
    # Bitmap-only colour faces draw at one fixed size (109 px): not usable for small labels.
    return tuple(f for f in find_fonts() if f.native_size is None) or (BUILTIN_FACE,)


def _runs(text: str, chain: tuple[FontFace, ...]) -> list[tuple[str, FontFace]]:
    """The text split into runs drawn by one face each (the first face with a glyph; else the first face's box)."""
    runs: list[tuple[str, FontFace]] = []
    for char in text:
        face = next((f for f in chain if _has_glyph(f, char)), chain[0])
        if runs and runs[-1][1] == face:
            runs[-1] = (runs[-1][0] + char, face)
        else:
            runs.append((char, face))
    return runs


def text_width(text: str, size: int) -> float:
    """Width of the text in pixels at a size, over the font chain."""
    chain = _chain()
    return sum(_font(face, size).getlength(run) for run, face in _runs(text, chain))


def _font(face: FontFace, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return _load_font(face, size)


def fit(text: str, size: int, width: float) -> str:
    """The text, cut with an ellipsis to fit the width."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…" if text else ""


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, fill: tuple[int, int, int]) -> None:
    """Draw text at xy (top-left) with per-run font fallback."""
    x, y = xy
    for run, face in _runs(text, _chain()):
        font = _font(face, size)
        draw.text((x, y), run, font=font, fill=fill)
        x += font.getlength(run)


def layout(page: Page, cell: int = 256, max_side: int = 8192) -> Geometry:
    """The page geometry: cells shrink (not below 32 px) so the page stays within ``max_side`` on both sides."""
    cols, rows = max(len(page.x_labels), 1), max(len(page.y_labels), 1)
    for _ in range(8):  # the headers depend on the cell size and the cell size on the room the headers leave
        size = max(12, min(28, cell // 10))
        header_w = min(max((text_width(label, size) for label in page.y_labels), default=0) + 2 * GAP, 2 * cell)
        header_w = max(header_w, min(text_width(page.y_title, size) + 2 * GAP, 2 * cell))
        left = MARGIN + int(header_w) + GAP
        top = MARGIN + int(size * 1.6) * 3 + GAP  # page title, X title, column headers
        fits = min((max_side - left - MARGIN - GAP * (cols - 1)) // cols, (max_side - top - MARGIN - GAP * (rows - 1)) // rows)
        if fits >= cell or cell <= MIN_CELL:
            break
        cell = max(MIN_CELL, fits)
    width = left + cols * cell + GAP * (cols - 1) + MARGIN
    height = top + rows * cell + GAP * (rows - 1) + MARGIN
    return Geometry(width, height, cell, left, top, size)


def render(page: Page, cell: int = 256, max_side: int = 8192) -> Image.Image:
    """The page as an RGB image: title, X title, column headers, row headers, then each cell's image scaled to fit."""
    geo = layout(page, cell, max_side)
    img = Image.new("RGB", (geo.width, geo.height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    size, line = geo.font_size, int(geo.font_size * 1.6)
    grid_w = geo.width - geo.left - MARGIN
    draw_text(draw, (MARGIN, MARGIN), fit(page.title, size, geo.width - 2 * MARGIN), size, INK)
    x_title = fit(page.x_title, size, grid_w)
    draw_text(draw, (geo.left + (grid_w - text_width(x_title, size)) / 2, MARGIN + line), x_title, size, MUTED)
    draw_text(draw, (MARGIN, MARGIN + 2 * line), fit(page.y_title, size, geo.left - MARGIN - GAP), size, MUTED)
    for col, label in enumerate(page.x_labels):
        x0, _, x1, _ = geo.cell_box(col, 0)
        text = fit(label, size, geo.cell - 4)
        draw_text(draw, (x0 + (geo.cell - text_width(text, size)) / 2, MARGIN + 2 * line), text, size, INK)
    for row, label in enumerate(page.y_labels):
        _, y0, _, _ = geo.cell_box(0, row)
        text = fit(label, size, geo.left - MARGIN - 2 * GAP)
        draw_text(draw, (MARGIN, y0 + (geo.cell - size) / 2), text, size, INK)
    for col in range(max(len(page.x_labels), 1)):
        for row in range(max(len(page.y_labels), 1)):
            _draw_cell(img, draw, geo, col, row, page.cells.get((col, row), Cell()))
    return img


def _draw_cell(img: Image.Image, draw: ImageDraw.ImageDraw, geo: Geometry, col: int, row: int, cell: Cell) -> None:
    x0, y0, x1, y1 = geo.cell_box(col, row)
    if cell.image is not None:
        try:
            with cell.image if isinstance(cell.image, Image.Image) else Image.open(cell.image) as src:
                # Scaled to fit the cell both ways: small outputs are enlarged (pixel-exact) so every cell reads alike.
                ratio = min(geo.cell / src.width, geo.cell / src.height)
                size = (max(1, round(src.width * ratio)), max(1, round(src.height * ratio)))
                thumb = src.convert("RGBA").resize(size, Image.Resampling.LANCZOS if ratio < 1 else Image.Resampling.NEAREST)
            backdrop = Image.new("RGBA", thumb.size, BACKGROUND + (255,))  # transparent outputs (cut-outs) on the page colour
            backdrop.alpha_composite(thumb)
            img.paste(backdrop.convert("RGB"), (x0 + (geo.cell - thumb.width) // 2, y0 + (geo.cell - thumb.height) // 2))
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=EMPTY)  # white outputs stay visible on the page
            return
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("[batchgen] contact sheet: cannot read %s (%s); marking the cell missing", getattr(cell.image, "name", "an image"), exc)
            cell = Cell(None, "missing")
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=EMPTY)
    width = max(2, geo.cell // 40)
    draw.line((x0, y0, x1 - 1, y1 - 1), fill=MARK, width=width)
    draw.line((x0, y1 - 1, x1 - 1, y0), fill=MARK, width=width)
    size = geo.font_size
    word = fit(cell.status, size, geo.cell - 8)
    w = text_width(word, size)
    cx, cy = x0 + (geo.cell - w) / 2, y0 + (geo.cell - size) / 2
    draw.rectangle((cx - 4, cy - 3, cx + w + 4, cy + size * 1.3), fill=BACKGROUND)
    draw_text(draw, (cx, cy), word, size, MARK)
