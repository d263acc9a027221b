"""Batch request → job parameter sets: the rows of every source (batchgen/sources.py), params, wildcards, repeat, seeds."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import axes, wildcards
from .breather import Breather
from .errors import bad_request, too_large, unprocessable
from .models import SeedPolicy
from .source_context import SourceContext
from .sources import SOURCE_FIELDS, Row, WildcardPlan, base_rows, combos, expand_wildcards, grid, where
from .templates import Template, coerce_value

SEED_PARAM = "seed"
Where = tuple[dict[str, int], dict[str, int]] | None  # a grid cell's axis indexes: (outer dimensions, inner dimensions)
_UNUSED: dict[str, Any] = {}  # the coordinates of a job a preview only checks (never shown, never stored)
_NO_OUTER = (({}, {}),)  # the one step of a grid without outer dimensions (no generator per row)
CACHED_CELLS = 20_000  # grids up to this many cells build each cell once; bigger ones build cells as they go
PROMPT_PARAM = "prompt"
# Random seeds stay below 2**53 so browsers' JSON numbers keep them exact; given seeds may go up to ComfyUI's 2**64 - 1.
MAX_RANDOM_SEED = 2**53 - 1
_RANDOM_SEED_BITS = MAX_RANDOM_SEED.bit_length()
MAX_SEED = 2**64 - 1
# A value whose exact type is this needs no conversion (coerce_value would return it unchanged).
_NATIVE: dict[str, type] = {"int": int, "text": str, "image": str, "bool": bool}


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits for one batch."""

    max_jobs: int = 100_000
    max_text_length: int = 20_000
    max_repeat: int = 10_000


@dataclass(frozen=True, slots=True)
class SeedSpec:
    """Seed policy and its base value."""

    policy: SeedPolicy
    base: int | None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """The values one job will run with."""

    params: dict[str, Any]
    seed: int | None
    # Where the job came from: {"source": "table", "row": 17}, {"axes": {"width": 1}}, {"wildcard": 3}, {"repeat": 2}.
    coords: dict[str, Any] = field(default_factory=dict)


def parse_seed(raw: Any) -> SeedSpec:
    """Accept "random" | "fixed" | "increment" | an int | {"policy", "base"}."""
    if raw is None:
        return SeedSpec(SeedPolicy.RANDOM, None)
    if isinstance(raw, bool):
        raise bad_request("invalid_seed", "seed must be a policy name, an integer or {policy, base}")
    if isinstance(raw, int):
        return SeedSpec(SeedPolicy.FIXED, _seed_value(raw, "seed"))
    if isinstance(raw, str):
        raw = {"policy": raw}
    if not isinstance(raw, dict):
        raise bad_request("invalid_seed", "seed must be a policy name, an integer or {policy, base}")
    try:
        policy = SeedPolicy(raw.get("policy", SeedPolicy.INCREMENT.value if "base" in raw else SeedPolicy.RANDOM.value))
    except ValueError:
        raise bad_request("invalid_seed", f"seed policy must be one of {[p.value for p in SeedPolicy]}") from None
    base = raw.get("base")
    if base is not None and (isinstance(base, bool) or not isinstance(base, int)):
        raise bad_request("invalid_seed", "seed base must be an integer from 0 to 2^64-1")
    return SeedSpec(policy, None if base is None else _seed_value(base, "seed.base"))


def _seed_value(value: int, where: str) -> int:
    """A seed ComfyUI accepts: 0 … 2^64-1 (-1 is not "random" here; use the random policy)."""
    if not 0 <= value <= MAX_SEED:
        raise bad_request("invalid_seed", f"{where} must be an integer from 0 to 2^64-1 (got {value}); for random seeds send \"seed\": \"random\"",
                          field=where)
    return value


def expand(body: Mapping[str, Any], template: Template, limits: Limits, rng: random.Random | None = None,
           loader: wildcards.Loader | None = None, context: SourceContext | None = None) -> list[JobSpec]:
    """Every job of the batch, in order, with typed values, coordinates and the seed each will use."""
    return list(plan(body, template, limits, rng, loader, context))


@dataclass(frozen=True, slots=True)
class Expansion:
    """A checked batch expansion: its job count, known before any job is built, and the jobs on iteration (lazily)."""

    total: int
    dimensions: tuple[axes.Dimension, ...]
    _jobs: Callable[[int | None], Iterator[JobSpec]]

    def __iter__(self) -> Iterator[JobSpec]:
        return self._jobs(None)

    def scanning(self, keep: int) -> Iterator[JobSpec]:
        """The same jobs, in one pass, with coordinates only on the first ``keep`` (a preview shows those, checks need values)."""
        return self._jobs(keep)


def plan(body: Mapping[str, Any], template: Template, limits: Limits, rng: random.Random | None = None,
         loader: wildcards.Loader | None = None, context: SourceContext | None = None) -> Expansion:
    """The batch's jobs as a lazy sequence: sources read, values typed and counted up front, each job built when iterated.

    Values are typed once per source row and once per axis value, not once per job, so a 100,000-cell grid costs
    the product only when its jobs are iterated (a preview iterates them without keeping them).
    """
    defaults = body.get("params") or {}
    if not isinstance(defaults, dict):
        raise bad_request("invalid_params", "params must be an object {param: value}")
    repeat = body.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise bad_request("invalid_repeat", "repeat must be an integer ≥ 1")
    if repeat > limits.max_repeat:
        raise too_large("too_many_jobs", f"repeat {repeat} is above the limit {limits.max_repeat}", limit=limits.max_repeat)
    seed = parse_seed(body.get("seed"))
    found = base_rows(body, template, limits.max_jobs, context)
    dims = grid(body, limits.max_jobs)
    cells = math.prod(d.size for d in dims)
    if dims:
        found = found or [Row({})]
        size = cells * len(found)
        if size > limits.max_jobs:
            raise too_large("too_many_jobs", f"the axes expand to {size} jobs; the limit is {limits.max_jobs}", limit=limits.max_jobs,
                            count=size)
    if not found:
        if all(body.get(name) is None for name in SOURCE_FIELDS):
            found = [Row({})]  # no sources: one row of params (times repeat), e.g. POST /generate
        else:
            raise unprocessable("empty_batch", "the batch has no jobs: prompts, jobs, table, images, matrix and axes are empty")
    total = len(found) * cells * repeat
    if total > limits.max_jobs:
        raise too_large("too_many_jobs", f"batch has {total} jobs; the limit is {limits.max_jobs}", limit=limits.max_jobs, count=total)

    has_seed = SEED_PARAM in template.bindings
    coerced_defaults = _coerce_row(defaults, template, limits, "params")
    # The row's place in words is built only for an error message (a string per row costs 10 ms per 10,000 rows).
    typed_rows = [({**coerced_defaults, **_coerce_row(row.values, template, limits, row.coords)}, row) for row in found]
    typed_dims = [_coerce_dimension(d, template, limits) for d in dims]
    axis_seed = any(SEED_PARAM in d.params for d in dims)
    seed_in_params = SEED_PARAM in coerced_defaults and body.get("seed") is None

    def variants() -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any], Where, bool]]:
        """(row values, cell values, row coords, cell coords, explicit seed) of every row × grid cell, merged per job."""
        # The innermost dimensions (up to CACHED_CELLS cells) are built once and shared by every row and outer step;
        # the outer ones are merged into the row once per step, so each job costs one dict merge whatever the grid.
        split, inner_count = len(typed_dims), 1
        while split > 0 and inner_count * typed_dims[split - 1].size <= CACHED_CELLS:
            split -= 1
            inner_count *= typed_dims[split].size
        inner = list(combos(typed_dims[split:])) if dims else [({}, {})]
        for values, row in typed_rows:
            explicit = SEED_PARAM in row.values or axis_seed or seed_in_params
            for outer, outer_where in combos(typed_dims[:split]) if split else _NO_OUTER:
                merged = {**values, **outer} if outer else values
                for cell, inner_where in inner:
                    yield merged, cell, row.coords, (outer_where, inner_where) if dims else None, explicit
    plan_ = wildcard_plan(body.get("wildcards"))
    source: Callable[[], Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any], Where, bool]]] = variants
    if plan_ is not None:
        merged = [({**values, **cell}, _coords(coords, where_), explicit) for values, cell, coords, where_, explicit in variants()]
        expanded = expand_wildcards(merged, template, plan_, loader or wildcards.folder_loader(None), limits.max_jobs, repeat,
                                    limits.max_text_length)
        total = len(expanded) * repeat
        source = lambda: ((values, {}, coords, None, explicit) for values, coords, explicit in expanded)  # noqa: E731
    rng = rng or random.Random()
    if seed.base is not None:
        base = seed.base
    elif SEED_PARAM in coerced_defaults:
        base = coerced_defaults[SEED_PARAM]
    elif has_seed and isinstance(template.bindings[SEED_PARAM].default, int):
        base = template.bindings[SEED_PARAM].default
    else:
        base = 0
    if has_seed and seed.policy is SeedPolicy.INCREMENT and base + total - 1 > MAX_SEED:
        raise bad_request("invalid_seed", f"seed base {base} + {total - 1} jobs passes 2^64-1; use a smaller base", field="seed.base")

    def jobs(keep: int | None) -> Iterator[JobSpec]:
        index = 0
        breathe = Breather()  # runs in a worker thread: the event loop gets the GIL every ~2 ms (batchgen/breather.py)
        for values, cell, row_coords, where_, explicit_seed in source():
            for k in range(repeat):
                breathe()
                job_values = {**values, **cell}
                job_seed: int | None = None
                if has_seed:
                    if explicit_seed:
                        job_seed = job_values[SEED_PARAM]
                    elif seed.policy is SeedPolicy.FIXED:
                        job_seed = base
                    elif seed.policy is SeedPolicy.INCREMENT:
                        job_seed = base + index
                    else:
                        job_seed = rng.getrandbits(_RANDOM_SEED_BITS)  # 0 … MAX_RANDOM_SEED; randint costs 4× more
                    job_values[SEED_PARAM] = job_seed
                if keep is not None and index >= keep:
                    yield JobSpec(job_values, job_seed, _UNUSED)
                else:
                    coords = _coords(row_coords, where_)
                    yield JobSpec(job_values, job_seed, {**coords, "repeat": k} if repeat > 1 else coords)
                index += 1

    return Expansion(total, tuple(dims), jobs)


def _coords(row_coords: dict[str, Any], where_: Where) -> dict[str, Any]:
    """A job's coordinates: its row's, plus {"axes": {param: index}} in a grid."""
    return row_coords if where_ is None else {**row_coords, "axes": {**where_[0], **where_[1]}}


def _coerce_dimension(dim: axes.Dimension, template: Template, limits: Limits) -> axes.Dimension:
    """The dimension with its values typed like job values (and checked against the text length limit)."""
    columns = tuple(tuple(_coerce_row({param: v}, template, limits, f"axis {dim.title!r}")[param] for v in column)
                    for param, column in zip(dim.params, dim.values, strict=True))
    return axes.Dimension(dim.title, dim.params, columns, dim.labels)


def wildcard_plan(raw: Any) -> WildcardPlan | None:
    """The request's wildcards options ({mode, count, seed}); None when wildcards are off (text is sent as written)."""
    if raw is None:
        return None
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump()
    mode = raw.get("mode") or "combinatorial"
    seed = raw.get("seed")
    # Intake writes a drawn seed into the request before expanding, so the stored request reproduces the batch.
    return WildcardPlan(mode, int(raw.get("count") or 1), random.SystemRandom().randrange(2**53) if seed is None else seed)


def _explicit(raw: Mapping[str, Any], defaults: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """A seed in the row, or in params when no seed policy was asked for, is the job's own seed."""
    return SEED_PARAM in raw or (SEED_PARAM in defaults and body.get("seed") is None)


def _place(place: str | Mapping[str, Any]) -> str:
    """A row's place in words ("table row 17", "prompts[2]") from its coords, or the text given."""
    return place if isinstance(place, str) else where(place)


def _coerce_row(row: Mapping[str, Any], template: Template, limits: Limits, place: str | Mapping[str, Any]) -> dict[str, Any]:
    """The row's values typed; ``place`` names it in errors: text, or a row's coords (put in words only when needed)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        binding = template.bindings.get(name)
        if binding is None:
            known = ", ".join(sorted(template.bindings)) or "none"
            raise bad_request(
                "unbound_parameter",
                f"parameter {name!r} (in {_place(place)}) binds to nothing in this template; its parameters are: {known}",
                param=name,
            )
        # Values already of the parameter's type (table cells typed as read, JSON ints and strings) are kept as they are.
        coerced = value if type(value) is _NATIVE.get(binding.type) else coerce_value(binding, value)
        if isinstance(coerced, str) and len(coerced) > limits.max_text_length:
            raise unprocessable(
                "value_too_long",
                f"parameter {name!r} (in {_place(place)}) is {len(coerced)} characters; the limit is {limits.max_text_length}",
                param=name,
                limit=limits.max_text_length,
            )
        if name == SEED_PARAM and isinstance(coerced, int):
            _seed_value(coerced, f"{_place(place)}.seed")
        out[name] = coerced
    return out
