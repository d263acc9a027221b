"""Batch request → job parameter sets: the rows of every source (batchgen/sources.py), params, wildcards, repeat, seeds."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import wildcards
from .errors import bad_request, too_large, unprocessable
from .models import SeedPolicy
from .source_context import SourceContext
from .sources import SOURCE_FIELDS, Row, WildcardPlan, expand_wildcards, rows, where
from .templates import Template, coerce_value

SEED_PARAM = "seed"
PROMPT_PARAM = "prompt"
# Random seeds stay below 2**53 so browsers' JSON numbers keep them exact; given seeds may go up to ComfyUI's 2**64 - 1.
MAX_RANDOM_SEED = 2**53 - 1
MAX_SEED = 2**64 - 1


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
    defaults = body.get("params") or {}
    if not isinstance(defaults, dict):
        raise bad_request("invalid_params", "params must be an object {param: value}")
    repeat = body.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise bad_request("invalid_repeat", "repeat must be an integer ≥ 1")
    if repeat > limits.max_repeat:
        raise too_large("too_many_jobs", f"repeat {repeat} is above the limit {limits.max_repeat}", limit=limits.max_repeat)
    seed = parse_seed(body.get("seed"))
    found = rows(body, template, limits.max_jobs, context)
    if not found:
        if all(body.get(name) is None for name in SOURCE_FIELDS):
            found = [Row({})]  # no sources: one row of params (times repeat), e.g. POST /generate
        else:
            raise unprocessable("empty_batch", "the batch has no jobs: prompts, jobs, table, images and matrix are empty")
    total = len(found) * repeat
    if total > limits.max_jobs:
        raise too_large("too_many_jobs", f"batch has {total} jobs; the limit is {limits.max_jobs}", limit=limits.max_jobs)

    has_seed = SEED_PARAM in template.bindings
    coerced_defaults = _coerce_row(defaults, template, limits, "params")
    typed = [({**coerced_defaults, **_coerce_row(row.values, template, limits, where(row.coords))}, row) for row in found]
    plan = wildcard_plan(body.get("wildcards"))
    variants = [(values, row.coords, _explicit(row.values, coerced_defaults, body)) for values, row in typed]
    if plan is not None:
        variants = expand_wildcards(variants, template, plan, loader or wildcards.folder_loader(None), limits.max_jobs, repeat,
                                    limits.max_text_length)
    total = len(variants) * repeat
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
    specs: list[JobSpec] = []
    index = 0
    for values, coords, explicit_seed in variants:
        for k in range(repeat):
            job_values = dict(values)
            job_seed: int | None = None
            if has_seed:
                if explicit_seed:
                    job_seed = job_values[SEED_PARAM]
                elif seed.policy is SeedPolicy.FIXED:
                    job_seed = base
                elif seed.policy is SeedPolicy.INCREMENT:
                    job_seed = base + index
                else:
                    job_seed = rng.randint(0, MAX_RANDOM_SEED)
                job_values[SEED_PARAM] = job_seed
            specs.append(JobSpec(job_values, job_seed, {**coords, "repeat": k} if repeat > 1 else coords))
            index += 1
    return specs


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


def _coerce_row(row: Mapping[str, Any], template: Template, limits: Limits, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        binding = template.bindings.get(name)
        if binding is None:
            known = ", ".join(sorted(template.bindings)) or "none"
            raise bad_request(
                "unbound_parameter",
                f"parameter {name!r} (in {where}) binds to nothing in this template; its parameters are: {known}",
                param=name,
            )
        coerced = coerce_value(binding, value)
        if isinstance(coerced, str) and len(coerced) > limits.max_text_length:
            raise unprocessable(
                "value_too_long",
                f"parameter {name!r} (in {where}) is {len(coerced)} characters; the limit is {limits.max_text_length}",
                param=name,
                limit=limits.max_text_length,
            )
        if name == SEED_PARAM and isinstance(coerced, int):
            _seed_value(coerced, f"{where}.seed")
        out[name] = coerced
    return out
