"""Contact sheets: when a grid batch finishes, one PNG per page (X columns × Y rows; further axes make pages).

Triggered by the committed ``batchgen.batch`` event of a finish (the store's subscribers): the first process to claim
that finish (by its event seq, in the contact_sheets table) reads the jobs, renders the pages in a thread, writes them to
``<batch output folder>/_contact_sheets/sheet-001.png`` … and commits the page list with a ``batchgen.contact_sheet``
event. A retried batch finishes again with a newer event, so its sheets are made again. A render cut off by a crash
(claimed in the name of a process that is gone, its pages never saved) is made at the next startup (``resume``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from . import ids
from .events import Event
from .leases import OwnerIdentity, expired_owners
from .models import BatchStatus, Job, JobStatus
from .sheets_render import Cell, Page, render
from .sources import where
from .store import sheets_sql

log = logging.getLogger("batchgen.sheets")

SHEETS_FOLDER = "_contact_sheets"
MAX_SHEET_JOBS = 10_000  # bigger grids get no sheet (a page per 100 cells would be 1,000 pages)
MAX_PAGES = 200
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_TERMINAL = {s.value for s in BatchStatus if s.terminal}
_STATUS_WORDS = {JobStatus.FAILED: "failed", JobStatus.CANCELLED: "cancelled"}


def grid_description(dims: list[Any]) -> dict[str, Any] | None:
    """What the batch stores about its grid (options.grid): the dimensions' titles, params and labels."""
    return {"dims": [d.as_dict() for d in dims]} if dims else None


def sheet_url(page: Mapping[str, Any], base: str) -> str:
    """ComfyUI's /view URL of a sheet (like a job output's)."""
    return f"{base}/api/view?{urlencode({'filename': page['filename'], 'subfolder': page['subfolder'], 'type': 'output'})}"


def pages_of(grid: Mapping[str, Any], jobs: list[Job], files: Callable[[str, str], Path | None]) -> list[Page]:
    """The grid's pages: X = first dimension, Y = second, one page per value of the others (and per source row/variant)."""
    dims = grid["dims"]
    x_dim, y_dim, rest = dims[0], dims[1] if len(dims) > 1 else None, dims[2:]
    pages: dict[str, Page] = {}
    for job in jobs:
        axes = job.coords.get("axes") or {}
        col = axes.get(x_dim["params"][0])
        row = axes.get(y_dim["params"][0], 0) if y_dim else 0
        if col is None or row is None:
            continue
        z = [axes.get(d["params"][0], 0) for d in rest]
        origin = {k: v for k, v in job.coords.items() if k != "axes"}
        key = json.dumps([origin, z], sort_keys=True)
        page = pages.get(key)
        if page is None:
            parts = [grid.get("name") or "", *([where(origin)] if "source" in origin else [])]
            parts += [f"{d['title']}: {d['labels'][i]}" for d, i in zip(rest, z, strict=True)]
            parts += [f"{k} {origin[k]}" for k in ("wildcard", "repeat") if k in origin]
            page = pages[key] = Page(" · ".join(p for p in parts if p), x_dim["title"], list(x_dim["labels"]), y_dim["title"] if y_dim else "",
                                     list(y_dim["labels"]) if y_dim else [""])
        page.cells[(col, row)] = _cell(job, files)
    return list(pages.values())[:MAX_PAGES]


def _cell(job: Job, files: Callable[[str, str], Path | None]) -> Cell:
    if job.status is not JobStatus.SUCCEEDED:
        return Cell(None, _STATUS_WORDS.get(job.status, job.status.value))
    for out in job.outputs:
        if out.type == "output" and out.filename.lower().endswith(IMAGE_SUFFIXES):
            path = files(out.subfolder, out.filename)
            if path is not None and path.is_file():
                return Cell(path, "succeeded")
    return Cell(None, "no image")


def write_pages(pages: list[Page], folder: Path, subfolder: str, cell: int, max_side: int) -> list[dict[str, Any]]:
    """(In a thread.) Render and write sheet-001.png …; older pages past the new count are removed."""
    target = folder / SHEETS_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    listed = []
    for number, page in enumerate(pages, 1):
        name = f"sheet-{number:03d}.png"
        image = render(page, cell, max_side)
        tmp = target / f".{name}.tmp"
        image.save(tmp, format="PNG")
        os.replace(tmp, target / name)  # a reader never sees half a sheet
        listed.append({"page": number, "filename": name, "subfolder": f"{subfolder}/{SHEETS_FOLDER}", "type": "output",
                       "title": page.title, "width": image.width, "height": image.height})
    for stale in target.glob("sheet-*.png"):
        if stale.name not in {p["filename"] for p in listed}:
            stale.unlink(missing_ok=True)
    return listed


class ContactSheets:
    """Makes a grid batch's sheets when it finishes; one per process, fed by the store's committed events."""

    def __init__(self, store: Any, host: Any, cell: int = 256, max_side: int = 8192, owner: OwnerIdentity | None = None) -> None:
        self.store = store
        self.host = host
        self.owner = owner  # the dispatcher's identity: renders are claimed in its name, and a dead owner's are made again
        self.cell = cell
        self.max_side = max_side
        self._tasks: set[asyncio.Task[None]] = set()
        store.subscribe(self.on_events)

    def on_events(self, events: list[Event]) -> None:
        """(After a commit, on the loop.) Start a sheet for each batch whose finish was just logged."""
        for event in events:
            if event.type == ids.EVENT_BATCH and event.batch_id and event.data.get("status") in _TERMINAL:
                try:
                    task = asyncio.get_running_loop().create_task(self.make(event.batch_id, event.seq))
                except RuntimeError:  # no loop (a synchronous tool): nothing to render with
                    return
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every sheet being made is written (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def pages(self, batch_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """batch id → its sheet pages, for the batch JSON."""
        return await self.store.run_read(sheets_sql.pages_sync, batch_ids)

    def resume_soon(self, lease_seconds: float) -> None:
        """(At startup, on the loop.) Make in the background the sheets whose render a crash cut off."""
        task = asyncio.get_running_loop().create_task(self.resume(lease_seconds))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self, lease_seconds: float) -> int:
        """Make the sheets whose render was cut off (claimed, never saved, by a process now gone); returns how many."""
        me = self.owner
        if me is None:
            return 0
        made = 0
        try:
            unsaved = await self.store.run_read(sheets_sql.unsaved_sync)
            if not unsaved:
                return 0
            owners = await self.store.list_owners()
            dead = {o.owner_id for o in expired_owners(owners, me, time.time(), lease_seconds)}
            alive = {o.owner_id for o in owners} - dead
            for batch_id, seq, holder in unsaved:
                if holder in alive:
                    continue  # being rendered by a live process right now (this one included)
                if await self.store.run_in_transaction(sheets_sql.take_over_sync, batch_id, seq, holder, me.owner_id, time.time()):
                    log.info("[batchgen] making the contact sheet of batch %s: its render was cut off", batch_id)
                    await self.make(batch_id, seq, claimed=True)
                    made += 1
        except Exception:  # a sheet is a convenience: never let it break startup
            log.exception("[batchgen] could not make the contact sheets left unfinished")
        return made

    async def make(self, batch_id: str, seq: int, claimed: bool = False) -> None:
        """Render the sheets of the batch's finish logged as ``seq`` (if it has a grid and no one else took it)."""
        try:
            found = await self.store.run_read(sheets_sql.grid_sync, batch_id)
            if found is None or not found[2]:
                return
            name, subfolder, grid = found
            if not claimed and not await self.store.run_in_transaction(sheets_sql.claim_sync, batch_id, seq, time.time(),
                                                                     self.owner.owner_id if self.owner else None):
                return
            pages, error = await self._render(batch_id, subfolder, {**grid, "name": name})
            await self.store.run_in_transaction(sheets_sql.save_sync, batch_id, seq, pages, time.time(), error)
            if error:
                log.warning("[batchgen] contact sheet of batch %s not made: %s", batch_id, error)
        except Exception:  # a sheet is a convenience: never let it break the batch or the loop
            log.exception("[batchgen] could not make the contact sheet of batch %s", batch_id)

    async def _render(self, batch_id: str, subfolder: str, grid: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        folder = self.host.output_path(subfolder)
        if folder is None:
            return [], f"output folder {subfolder!r} is not inside ComfyUI's output folder"
        jobs: list[Job] = []
        while True:
            page, total = await self.store.list_jobs(batch_id, limit=1000, offset=len(jobs))
            if total > MAX_SHEET_JOBS:
                return [], f"the batch has {total} jobs; contact sheets are made for at most {MAX_SHEET_JOBS}"
            jobs += page
            if not page or len(jobs) >= total:
                break
        roots = {o.subfolder: self.host.output_path(o.subfolder) for j in jobs for o in j.outputs}

        def files(sub: str, name: str) -> Path | None:
            root = roots.get(sub)
            path = (root / name).resolve() if root is not None else None
            return path if path is not None and path.parent == root.resolve() else None  # a name with a path in it is refused

        def run() -> list[dict[str, Any]]:
            return write_pages(pages_of(grid, jobs, files), folder, subfolder, self.cell, self.max_side)

        return await asyncio.to_thread(run), None
