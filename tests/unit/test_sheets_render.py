"""Contact sheet pixels: the page size is the cells × layout, images land in their cells, failed cells get a cross + word."""

from __future__ import annotations

from batchgen_ext.batchgen.models import Job, JobError, JobStatus, OutputFile
from batchgen_ext.batchgen.sheets import pages_of, write_pages
from batchgen_ext.batchgen.sheets_render import GAP, MARGIN, MARK, Cell, Page, layout, render
from PIL import Image


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) < tolerance for a, b in zip(pixel[:3], colour, strict=True))


def page_with_cells(tmp_path, failed=((1, 0),)) -> Page:
    cells = {}
    for col in range(3):
        for row in range(2):
            path = tmp_path / f"c{col}{row}.png"
            Image.new("RGB", (200, 200), (0, 40 + 60 * col, 100 + 50 * row)).save(path)
            cells[(col, row)] = Cell(path, "succeeded")
    for cell in failed:
        cells[cell] = Cell(None, "failed")
    return Page("批次 · 第一页", "宽度", ["窄", "中", "宽"], "文字", ["你好", "世界"], cells)


def test_page_size_is_cells_times_layout(tmp_path):
    page = page_with_cells(tmp_path)
    geo = layout(page, cell=128)
    img = render(page, cell=128)
    assert img.size == (geo.width, geo.height)
    assert geo.cell == 128
    assert geo.width == geo.left + 3 * 128 + 2 * GAP + MARGIN and geo.height == geo.top + 2 * 128 + GAP + MARGIN
    x0, y0, x1, y1 = geo.cell_box(2, 1)
    assert near(img.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)), (0, 160, 150), 3)  # the image of column 2, row 1
    assert near(img.getpixel((geo.left // 2, 2)), (250, 250, 250), 3)  # margin: page background


def test_failed_cell_has_a_red_cross_and_others_none(tmp_path):
    page = page_with_cells(tmp_path)
    geo = layout(page, cell=128)
    img = render(page, cell=128)

    def diagonal_marked(col, row):
        x0, y0, _, _ = geo.cell_box(col, row)
        points = [img.getpixel((x0 + d, y0 + d)) for d in range(6, 120, 6)]
        return sum(near(p, MARK) for p in points) / len(points)

    assert diagonal_marked(1, 0) > 0.8
    assert diagonal_marked(0, 0) == 0 and diagonal_marked(2, 1) == 0
    # The status word sits on a light box in the cell's middle: dark red text pixels there.
    x0, y0, x1, y1 = geo.cell_box(1, 0)
    middle = [img.getpixel((x, (y0 + y1) // 2 + dy)) for x in range(x0 + 40, x1 - 40) for dy in range(-3, 4)]
    assert any(near(p, MARK, 60) for p in middle)


def test_cjk_labels_draw_glyphs_not_nothing(tmp_path):
    page = Page("", "", ["中文标签"], "", [""], {})
    img = render(page, cell=200)
    geo = layout(page, cell=200)
    x0, _, x1, _ = geo.cell_box(0, 0)
    header = img.crop((x0, MARGIN + int(geo.font_size * 1.6) * 2, x1, geo.top - GAP)).convert("L")
    assert header.getextrema()[0] < 100  # dark label ink drawn in the column header band


def test_big_grids_shrink_cells_to_the_page_cap(tmp_path):
    page = Page("", "x", [str(i) for i in range(60)], "y", [str(i) for i in range(3)], {})
    geo = layout(page, cell=256, max_side=4096)
    assert geo.width <= 4096 and geo.cell < 256
    assert render(page, cell=256, max_side=4096).size == (geo.width, geo.height)


def job(idx, status, axes, out=None, **coords) -> Job:
    outputs = [OutputFile("9", out, "batchgen/g", "output")] if out else []
    error = JobError("node_error", "boom") if status is JobStatus.FAILED else None
    return Job(id=idx + 1, batch_id="b", idx=idx, status=status, params={}, seed=None, attempts=1, prompt_id=None, created_at=0.0,
               outputs=outputs, error=error, coords={**coords, "axes": axes})


def test_pages_split_on_further_axes_and_rows_and_mark_missing_files(tmp_path):
    folder = tmp_path / "batchgen" / "g"
    folder.mkdir(parents=True)
    Image.new("RGB", (8, 8), (0, 200, 0)).save(folder / "a.png")
    grid = {"name": "g", "dims": [{"title": "W", "params": ["w"], "labels": ["1", "2"]},
                                  {"title": "H", "params": ["h"], "labels": ["1"]},
                                  {"title": "S", "params": ["s"], "labels": ["甲", "乙"]}]}
    jobs = [job(0, JobStatus.SUCCEEDED, {"w": 0, "h": 0, "s": 0}, "a.png"), job(1, JobStatus.SUCCEEDED, {"w": 1, "h": 0, "s": 0}, "gone.png"),
            job(2, JobStatus.FAILED, {"w": 0, "h": 0, "s": 1}), job(3, JobStatus.CANCELLED, {"w": 1, "h": 0, "s": 1})]
    pages = pages_of(grid, jobs, lambda sub, name: tmp_path / sub / name)
    assert [p.title for p in pages] == ["g · S: 甲", "g · S: 乙"]
    assert pages[0].cells[(0, 0)].image == folder / "a.png" and pages[0].cells[(1, 0)].status == "no image"
    assert [pages[1].cells[(c, 0)].status for c in (0, 1)] == ["failed", "cancelled"]
    listed = write_pages(pages, folder, "batchgen/g", 64, 2048)
    assert [p["filename"] for p in listed] == ["sheet-001.png", "sheet-002.png"]
    assert sorted(f.name for f in (folder / "_contact_sheets").iterdir()) == ["sheet-001.png", "sheet-002.png"]
    write_pages(pages[:1], folder, "batchgen/g", 64, 2048)  # fewer pages after a retry: the stale one goes
    assert sorted(f.name for f in (folder / "_contact_sheets").iterdir()) == ["sheet-001.png"]
