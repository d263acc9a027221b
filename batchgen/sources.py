"""Sources of rows: each request field that makes jobs is one source yielding rows with their coordinates.

Row sources (``prompts``, ``jobs``, ``table``, ``images``) are concatenated in that order; axis sources (``matrix``,
``axes``) multiply every row by their grid dimensions; then wildcards turn each row into one or more. A row's
coordinates say where it came from, e.g.
``{"source": "table", "row": 17}`` or ``{"source": "prompts", "index": 2, "axes": {"width": 1}}``.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import axes, image_sets, tables, wildcards
from .breather import Breather
from .errors import ApiError, bad_request, too_large, unprocessable
from .source_context import SourceContext, table_spec
from .templates import Template

PROMPT_PARAM = "prompt"


@dataclass(slots=True)
class Row:
    """The raw values of one row and where it came from."""

    values: dict[str, Any]
    coords: dict[str, Any] = field(default_factory=dict)


class ListRow(dict):
    """A ``jobs`` row made by the workflow's list nodes: its values, plus coordinates the job gains (``{"wildcard": k}``)."""

    __slots__ = ("coords",)

    def __init__(self, values: Mapping[str, Any], coords: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.coords = dict(coords)


def _prompt_rows(prompts: Any, template: Template, max_jobs: int, ctx: SourceContext) -> list[Row]:
    if not isinstance(prompts, list):
        raise bad_request("invalid_prompts", "prompts must be a list of strings")
    if len(prompts) > max_jobs:
        raise too_large("too_many_jobs", f"batch has {len(prompts)} prompts; the limit is {max_jobs}", limit=max_jobs)
    rows = []
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise bad_request("invalid_prompts", f"prompts[{i}] must be a string", index=i)
        rows.append(Row({PROMPT_PARAM: p}, {"source": "prompts", "index": i}))
    return rows


def _job_rows(jobs: Any, template: Template, max_jobs: int, ctx: SourceContext) -> list[Row]:
    if not isinstance(jobs, list):
        raise bad_request("invalid_jobs", "jobs must be a list of objects {param: value}")
    if len(jobs) > max_jobs:
        raise too_large("too_many_jobs", f"batch has more than {max_jobs} jobs", limit=max_jobs)
    rows = []
    for i, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise bad_request("invalid_jobs", f"jobs[{i}] must be an object {{param: value}}", index=i)
        # A list node's row (never a client's: JSON makes plain dicts) brings its own coordinates along.
        rows.append(Row(dict(job), {"source": "jobs", "index": i, **(job.coords if isinstance(job, ListRow) else {})}))
    return rows


def _table_rows(spec: Any, template: Template, max_jobs: int, ctx: SourceContext) -> list[Row]:
    spec = table_spec(spec, ctx, "table") if isinstance(spec, Mapping) else spec
    return [Row(values, {"source": "table", "row": number}) for number, values in tables.read_rows(spec, template, max_jobs)]


# Request field → builder. The dashboard puts one form on each; a new source is one entry here and one model field.
ROW_SOURCES: tuple[tuple[str, Callable[[Any, Template, int, SourceContext], list[Row]]], ...] = (
    ("prompts", _prompt_rows), ("jobs", _job_rows), ("table", _table_rows), ("images", image_sets.image_rows),
)
# Axis sources multiply every row by their grid dimensions (batchgen/axes.py); coords gain {"axes": {param: index}}.
AXIS_SOURCES: tuple[tuple[str, Callable[[Any, int], list[axes.Dimension]]], ...] = (
    ("matrix", lambda raw, max_jobs: axes.dimensions(raw, None, max_jobs)),
    ("axes", lambda raw, max_jobs: axes.dimensions(None, raw, max_jobs)),
)
SOURCE_FIELDS = tuple(name for name, _ in ROW_SOURCES) + tuple(name for name, _ in AXIS_SOURCES)


def base_rows(body: Mapping[str, Any], template: Template, max_jobs: int, ctx: SourceContext | None = None) -> list[Row]:
    """Every row of every row source, in order: prompts, jobs, table, images (before the axes multiply them)."""
    out: list[Row] = []
    ctx = ctx or SourceContext()
    for name, build in ROW_SOURCES:
        if body.get(name) is not None:
            out += build(body[name], template, max_jobs, ctx)
            if len(out) > max_jobs:
                raise too_large("too_many_jobs", f"batch has more than {max_jobs} jobs", limit=max_jobs)
    return out


def grid(body: Mapping[str, Any], max_jobs: int) -> list[axes.Dimension]:
    """The grid dimensions of every axis source (matrix keys, then axes entries); a parameter is on one axis only."""
    dims: list[axes.Dimension] = []
    for name, build in AXIS_SOURCES:
        if body.get(name) is not None:
            dims += build(body[name], max_jobs)
    params = [p for d in dims for p in d.params]
    twice = sorted({p for p in params if params.count(p) > 1})
    if twice:
        raise bad_request("invalid_axes", f"parameter {twice[0]!r} is on two axes (matrix and axes); put it on one", param=twice[0])
    return dims


def rows(body: Mapping[str, Any], template: Template, max_jobs: int, ctx: SourceContext | None = None) -> list[Row]:
    """Every row of every source, in order: prompts, jobs, table, images, each multiplied by the grid's dimensions."""
    out = base_rows(body, template, max_jobs, ctx)
    dims = grid(body, max_jobs)
    if not dims:
        return out
    size = math.prod(d.size for d in dims) * max(len(out), 1)
    if size > max_jobs:
        raise too_large("too_many_jobs", f"the axes expand to {size} jobs; the limit is {max_jobs}", limit=max_jobs, count=size)
    return [Row({**row.values, **values}, {**row.coords, "axes": where}) for row in (out or [Row({})]) for values, where in combos(dims)]


def combos(dims: list[axes.Dimension]) -> Iterator[tuple[dict[str, Any], dict[str, int]]]:
    """(values, {param: index}) of every grid cell, first dimension slowest (lazily: a 100,000-cell grid is never a list)."""
    per_dim = [[({p: column[i] for p, column in zip(d.params, d.values, strict=True)}, dict.fromkeys(d.params, i)) for i in range(d.size)]
               for d in dims]
    for steps in itertools.product(*per_dim):
        values: dict[str, Any] = {}
        where: dict[str, int] = {}
        for step_values, step_where in steps:
            values.update(step_values)
            where.update(step_where)
        yield values, where


def where(coords: Mapping[str, Any]) -> str:
    """A row's origin in words: "table row 17", "prompts[2]", "params"."""
    if coords.get("source") == "table":
        return f"table row {coords['row']}"
    return f"{coords['source']}[{coords['index']}]" if "source" in coords else "params"


# -- wildcards ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WildcardPlan:
    """How wildcards are expanded: mode, variants per row (random mode) and the seed."""

    mode: str
    count: int
    seed: int


Variant = tuple[dict[str, Any], dict[str, Any], Any]  # (typed values, coords, what the caller carries along per row)


def expand_wildcards(values_rows: list[Variant], template: Template, plan: WildcardPlan, loader: wildcards.Loader,
                     max_jobs: int, repeat: int, max_text: int) -> list[Variant]:
    """Each row's text values with ``{a|b}`` / ``__name__`` expanded; counted first, so a huge product is a 413 before any text is built."""
    # Several text values of a row are combined in the template's parameter order (prompt before negative), first slowest.
    text_params = [n for n, b in template.bindings.items() if b.type == "text"]
    cache: dict[str, wildcards.Parsed] = {}

    def targets(values: dict[str, Any], coords: dict[str, Any]) -> list[tuple[str, wildcards.Parsed]]:
        found = []
        for name in text_params:
            value = values.get(name)
            if isinstance(value, str) and wildcards.has_syntax(value):
                if value not in cache:
                    try:
                        cache[value] = wildcards.parse(value, loader)
                    except ApiError as exc:
                        exc.message = f"parameter {name!r} ({where(coords)}): {exc.message}"
                        exc.details = {**exc.details, "param": name}
                        raise
                found.append((name, cache[value]))
        return found

    plans = [targets(values, coords) for values, coords, _ in values_rows]
    if plan.mode == "combinatorial":
        sizes = [math.prod(wildcards.count(p) for _, p in t) for t in plans]
    else:
        sizes = [plan.count if t else 1 for t in plans]
    total = sum(sizes) * repeat
    if total > max_jobs:
        raise too_large("too_many_jobs", f"the wildcards expand to {total} jobs; the limit is {max_jobs}", limit=max_jobs, count=total)
    if total == 0:
        raise unprocessable("empty_batch", "the wildcards expand to no text (a group or file with no alternatives)")
    rng = random.Random(plan.seed)
    out: list[Variant] = []
    breathe = Breather()  # expanded in a worker thread (batchgen/breather.py)
    for (values, coords, tag), found in zip(values_rows, plans, strict=True):
        if not found:
            out.append((values, coords, tag))
            continue
        if plan.mode == "combinatorial":
            variants = itertools.product(*(wildcards.combinations(p) for _, p in found))
        else:
            variants = (tuple(wildcards.sample(p, rng) for _, p in found) for _ in range(plan.count))
        for k, texts in enumerate(variants):
            breathe()
            new = dict(values)
            for (name, _), text in zip(found, texts, strict=True):
                if len(text) > max_text:
                    raise unprocessable("value_too_long", f"parameter {name!r} is {len(text)} characters after wildcards; "
                                        f"the limit is {max_text}", param=name, limit=max_text)
                new[name] = text
            out.append((new, {**coords, "wildcard": k}, tag))
    return out
