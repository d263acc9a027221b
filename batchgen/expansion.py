"""Batch request → job parameter sets (prompts, jobs, matrix, params, repeat, seed policy)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request, too_large, unprocessable
from .models import SeedPolicy
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


def _rows(body: Mapping[str, Any], limits: Limits) -> list[dict[str, Any]]:
    prompts = body.get("prompts")
    jobs = body.get("jobs")
    matrix = body.get("matrix")
    rows: list[dict[str, Any]] = []
    if prompts is not None:
        if not isinstance(prompts, list):
            raise bad_request("invalid_prompts", "prompts must be a list of strings")
        if len(prompts) > limits.max_jobs:
            raise too_large("too_many_jobs", f"batch has {len(prompts)} prompts; the limit is {limits.max_jobs}", limit=limits.max_jobs)
        for i, p in enumerate(prompts):
            if not isinstance(p, str):
                raise bad_request("invalid_prompts", f"prompts[{i}] must be a string", index=i)
            rows.append({PROMPT_PARAM: p})
    if jobs is not None:
        if not isinstance(jobs, list):
            raise bad_request("invalid_jobs", "jobs must be a list of objects {param: value}")
        if len(jobs) + len(rows) > limits.max_jobs:
            raise too_large("too_many_jobs", f"batch has more than {limits.max_jobs} jobs", limit=limits.max_jobs)
        for i, job in enumerate(jobs):
            if not isinstance(job, dict):
                raise bad_request("invalid_jobs", f"jobs[{i}] must be an object {{param: value}}", index=i)
            rows.append(dict(job))
    if matrix is not None:
        if not isinstance(matrix, dict) or not matrix:
            raise bad_request("invalid_matrix", "matrix must be a non-empty object {param: [values]}")
        axes: list[list[tuple[str, Any]]] = []
        size = 1
        for name, values in matrix.items():
            if not isinstance(values, list) or not values:
                raise bad_request("invalid_matrix", f"matrix axis {name!r} must be a non-empty list", param=name)
            axes.append([(name, v) for v in values])
            size *= len(values)
        size *= max(len(rows), 1)
        if size > limits.max_jobs:
            raise too_large("too_many_jobs", f"matrix expands to {size} jobs; the limit is {limits.max_jobs}", limit=limits.max_jobs)
        combos = [dict(c) for c in itertools.product(*axes)]
        rows = [{**row, **combo} for row in (rows or [{}]) for combo in combos]
    return rows


def expand(body: Mapping[str, Any], template: Template, limits: Limits, rng: random.Random | None = None) -> list[JobSpec]:
    """Every job of the batch, in order, with typed values and the seed each will use."""
    defaults = body.get("params") or {}
    if not isinstance(defaults, dict):
        raise bad_request("invalid_params", "params must be an object {param: value}")
    repeat = body.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise bad_request("invalid_repeat", "repeat must be an integer ≥ 1")
    if repeat > limits.max_repeat:
        raise too_large("too_many_jobs", f"repeat {repeat} is above the limit {limits.max_repeat}", limit=limits.max_repeat)
    seed = parse_seed(body.get("seed"))
    rows = _rows(body, limits)
    if not rows:
        if body.get("prompts") is None and body.get("jobs") is None and body.get("matrix") is None:
            rows = [{}]  # no sources: one row of params (times repeat), e.g. POST /generate
        else:
            raise unprocessable("empty_batch", "the batch has no jobs: prompts, jobs and matrix are empty")
    total = len(rows) * repeat
    if total > limits.max_jobs:
        raise too_large("too_many_jobs", f"batch has {total} jobs; the limit is {limits.max_jobs}", limit=limits.max_jobs)

    has_seed = SEED_PARAM in template.bindings
    coerced_defaults = _coerce_row(defaults, template, limits, "params")
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
    for r, row in enumerate(rows):
        values = {**coerced_defaults, **_coerce_row(row, template, limits, f"jobs[{r}]")}
        # A seed in the row, or in params when no seed policy was asked for, is the job's own seed.
        explicit_seed = SEED_PARAM in row or (SEED_PARAM in coerced_defaults and body.get("seed") is None)
        for _ in range(repeat):
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
            specs.append(JobSpec(job_values, job_seed))
            index += 1
    return specs


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
