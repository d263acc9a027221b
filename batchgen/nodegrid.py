"""The Contact Sheet node's page: N images laid out row by row under column and row labels (drawn by sheets_render)."""

from __future__ import annotations

import math
from typing import Any

from .sheets_render import Cell, Page

MAX_CELLS = 1024


def labels(values: list[Any]) -> list[str]:
    """Labels from a node input: a linked list of texts (one label each), or one text with one label per line."""
    texts = [str(v) for v in values if v is not None]
    if len(texts) == 1:
        return [line.strip() for line in texts[0].splitlines() if line.strip()]
    return [t.strip() for t in texts]


def grid_page(images: list[Any], column_labels: list[str], row_labels: list[str], columns: int, title: str) -> Page:
    """The page: ``columns`` per row (0: as many as column labels, else a near-square grid), cells filled row by row."""
    count = min(len(images), MAX_CELLS)
    cols = columns if columns > 0 else len(column_labels) or max(1, math.ceil(math.sqrt(count)))
    cols = max(1, min(cols, max(count, 1)))
    rows = max(1, math.ceil(count / cols))
    x = [column_labels[i] if i < len(column_labels) else str(i + 1) for i in range(cols)]
    y = [row_labels[i] if i < len(row_labels) else str(i + 1) for i in range(rows)]
    cells = {(i % cols, i // cols): Cell(images[i], "ok") for i in range(count)}
    return Page(title, "", x, "", y, cells)
