"""One pass over a batch's jobs collecting what the checks need, so a preview never keeps 100,000 jobs in memory.

The checks (images, per-value, one ComfyUI validation per parameter shape) only look at each parameter's distinct
values with the first job using each, the first job missing a parameter, and the first job of each shape. A
submission scans its job list; a preview scans the lazy expansion, keeping only its first rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .breather import Breather
from .expansion import JobSpec


@dataclass(slots=True)
class JobScan:
    """What one pass found: job count, the first jobs, distinct values per parameter, the first job of each shape."""

    total: int = 0
    first: list[JobSpec] = field(default_factory=list)
    shapes: list[dict[str, Any]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    _first_job: dict[str, dict[Any, int]] = field(default_factory=dict)
    _unhashable: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    _missing: dict[str, int] = field(default_factory=dict)

    def distinct_values(self, name: str) -> tuple[list[tuple[Any, int]], int | None]:
        """([(value, first job index)] in job order, index of the first job without this parameter or None)."""
        values = list(self._first_job.get(name, {}).items())
        extra = self._unhashable.get(name)
        if extra:
            values = sorted(values + extra, key=lambda item: item[1])
        return values, self._missing.get(name)


def scan(jobs: Iterable[JobSpec], names: Sequence[str], keep: int = 0) -> JobScan:
    """Scan the jobs once, for the parameters ``names``; keep the first ``keep`` jobs."""
    out = JobScan()
    first_job = {name: {} for name in names}
    out._first_job = first_job
    missing = out._missing
    seen_shapes: set[frozenset[str]] = set()
    last_keys: Any = None
    index = -1
    breathe = Breather()  # a submission's scan of 100,000 jobs runs in a thread: let the event loop in (batchgen/breather.py)
    for index, spec in enumerate(jobs):
        breathe()
        params = spec.params
        if index < keep:
            out.first.append(spec)
        keys = params.keys()
        if keys != last_keys:  # most batches have one shape: comparing key views is cheaper than a frozenset per job
            shape = frozenset(keys)
            if shape not in seen_shapes:
                seen_shapes.add(shape)
                out.shapes.append(params)
                out.used |= shape
            last_keys = keys
        for name, values in first_job.items():
            if name in params:
                value = params[name]
                try:
                    values.setdefault(value, index)
                except TypeError:
                    out._unhashable.setdefault(name, []).append((value, index))
            elif name not in missing:
                missing[name] = index
    out.total = index + 1
    return out
