"""Grid axes: ranges with exact decimal steps, labels, zipped groups; the dimensions shared by ``matrix`` and ``axes``.

A dimension is one independent grid direction: one axis, or several zipped axes that step together. Jobs are the
cartesian product of the dimensions (first slowest), in the order ``matrix`` keys, then ``axes`` entries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, DecimalException
from typing import Any

from .errors import bad_request, too_large

_RANGE_RE = re.compile(r"^\s*(?P<start>[-+]?[0-9.eE+-]+?)\s*\.\.\s*(?P<end>[-+]?[0-9.eE+-]+?)(?:\s+step\s+(?P<step>[-+]?[0-9.eE+-]+))?\s*$")


@dataclass(frozen=True, slots=True)
class Dimension:
    """One grid direction: its title, the params it sets, their values and the labels of its steps."""

    title: str
    params: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]  # values[k][i]: param k at step i
    labels: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of steps."""
        return len(self.labels)

    def as_dict(self) -> dict[str, Any]:
        """How the batch stores it (for the contact sheet): title, params, labels."""
        return {"title": self.title, "params": list(self.params), "labels": list(self.labels)}


def parse_range(text: str, param: str, max_values: int) -> tuple[list[int | float], list[str]]:
    """``"1..10"`` / ``"0.5..2.0 step 0.5"`` → (values, labels); both ends inclusive, counted before anything is built."""
    match = _RANGE_RE.match(text)
    if match is None:
        raise bad_request("invalid_axes", f"axis {param!r}: range {text!r} must look like \"1..10\" or \"0.5..2.0 step 0.5\"", param=param)
    try:
        start, end = Decimal(match["start"]), Decimal(match["end"])
        step = Decimal(match["step"]) if match["step"] else Decimal(1 if end >= start else -1)
        if not all(d.is_finite() for d in (start, end, step)):
            raise DecimalException
        if step == 0 or (end - start) * step < 0:
            raise bad_request("invalid_axes", f"axis {param!r}: step {step} never gets from {start} to {end}", param=param)
        count = int((end - start) / step) + 1  # Decimal division: exact for decimal steps (0.1 × 10 is 1.0, not 0.9999…)
    except DecimalException:
        raise bad_request("invalid_axes", f"axis {param!r}: range {text!r} needs finite numbers as bounds and step", param=param) from None
    if count > max_values:
        raise too_large("too_many_jobs", f"axis {param!r}: range {text!r} has {count} values; the limit is {max_values} jobs",
                        limit=max_values, count=count, param=param)
    is_int = all(d == d.to_integral_value() and "." not in s and "e" not in s.lower()
                 for d, s in ((start, match["start"]), (end, match["end"]), (step, match["step"] or "1")))
    decimals = [start + step * i for i in range(count)]
    if is_int:
        return [int(d) for d in decimals], [str(int(d)) for d in decimals]
    return [float(d) for d in decimals], [_decimal_label(d) for d in decimals]


def _decimal_label(d: Decimal) -> str:
    """1.50 → "1.5", 2 → "2.0": the shortest decimal text of a float axis value."""
    text = format(d.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _axis(raw: Any, max_jobs: int) -> tuple[str, str, list[Any], list[str]]:
    """(param, title, values, labels) of one axis model or dict."""
    data = raw.model_dump(exclude_none=True) if hasattr(raw, "model_dump") else dict(raw)
    param = data.get("param")
    if not isinstance(param, str) or not param:
        raise bad_request("invalid_axes", "every axis needs param: the name of a template parameter")
    has_values, has_range = data.get("values") is not None, data.get("range") is not None
    if has_values == has_range:
        raise bad_request("invalid_axes", f"axis {param!r}: give either values (a list) or range (\"1..10\"), not both or neither",
                          param=param)
    if has_range:
        values, labels = parse_range(data["range"], param, max_jobs)
    else:
        values = list(data["values"])
        if not values:
            raise bad_request("invalid_axes", f"axis {param!r}: values is empty", param=param)
        if len(values) > max_jobs:
            raise too_large("too_many_jobs", f"axis {param!r} has {len(values)} values; the limit is {max_jobs} jobs",
                            limit=max_jobs, count=len(values), param=param)
        labels = [_label(v) for v in values]
    if data.get("labels") is not None:
        given = list(data["labels"])
        if len(given) != len(values):
            raise bad_request("invalid_axes", f"axis {param!r}: {len(given)} labels for {len(values)} values; give one label per value",
                              param=param)
        labels = given
    return param, data.get("name") or param, values, labels


def dimensions(matrix: Mapping[str, Any] | None, axes: list[Any] | None, max_jobs: int) -> list[Dimension]:
    """The grid's dimensions: each matrix key (labels: the values), then each ``axes`` entry; a param appears once."""
    dims: list[Dimension] = []
    if matrix is not None:
        if not isinstance(matrix, Mapping) or not matrix:
            raise bad_request("invalid_matrix", "matrix must be a non-empty object {param: [values]}")
        for name, values in matrix.items():
            if not isinstance(values, list) or not values:
                raise bad_request("invalid_matrix", f"matrix axis {name!r} must be a non-empty list", param=name)
            dims.append(Dimension(name, (name,), (tuple(values),), tuple(_label(v) for v in values)))
    if axes is not None:
        if not isinstance(axes, list) or not axes:
            raise bad_request("invalid_axes", "axes must be a non-empty list of axes {param, values | range, labels, name}")
        for entry in axes:
            members = entry.zip if hasattr(entry, "zip") else (entry["zip"] if isinstance(entry, Mapping) and "zip" in entry else None)
            if members is None:
                param, title, values, labels = _axis(entry, max_jobs)
                dims.append(Dimension(title, (param,), (tuple(values),), tuple(labels)))
                continue
            parts = [_axis(m, max_jobs) for m in members]
            sizes = {len(p[2]) for p in parts}
            if len(sizes) != 1:
                raise bad_request("invalid_axes", f"zipped axes {[p[0] for p in parts]} have different lengths {[len(p[2]) for p in parts]}; "
                                  "zipped axes step together, so give each the same number of values", params=[p[0] for p in parts])
            title = (entry.name if hasattr(entry, "name") else entry.get("name")) or " / ".join(p[1] for p in parts)
            labels = tuple(" / ".join(p[3][i] for p in parts) for i in range(sizes.pop()))
            dims.append(Dimension(title, tuple(p[0] for p in parts), tuple(tuple(p[2]) for p in parts), labels))
    seen: set[str] = set()
    for dim in dims:
        for param in dim.params:
            if param in seen:
                raise bad_request("invalid_axes", f"parameter {param!r} is on two axes; each parameter can be on one axis only", param=param)
            seen.add(param)
    size = math.prod(d.size for d in dims)
    if size > max_jobs:
        raise too_large("too_many_jobs", f"the axes expand to {size} jobs; the limit is {max_jobs}", limit=max_jobs, count=size)
    return dims
