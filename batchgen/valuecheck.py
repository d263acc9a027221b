"""Per-value checks at intake: every job's values against the node inputs they finally reach.

ComfyUI validates one prompt per shape, and never range-checks a value that reaches a node through
a link (a BatchGen Input node's output), so ``width: 4104`` into a node with max 4096 would run.
Here each binding's targets are found once — its own slots, plus, for our Input nodes, every input
their ``value`` output is linked to — a checker is compiled per target from ComfyUI's node
definitions, and each DISTINCT value is checked once. Mirrors ComfyUI's rules (min/max, combo
membership, skipped for inputs the node validates itself), adding only non-finite floats.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .errors import ApiError
from .templates import Binding, Template

_NUMERIC = ("INT", "FLOAT")
_SHORT_LIST = 10  # combos up to this many options are listed in full in the error
# Our Input nodes whose output 0 carries the job's value (the image node outputs pixels, not the name).
_PASS_THROUGH = {ids.NODE_INPUT_TEXT, ids.NODE_INPUT_INT, ids.NODE_INPUT_FLOAT}


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One node input as ComfyUI declares it (normalised from INPUT_TYPES)."""

    type: str  # INT, FLOAT, STRING, BOOLEAN, COMBO or another ComfyUI type name (IMAGE, MODEL, …)
    min: float | None = None
    max: float | None = None
    step: float | None = None
    options: tuple[Any, ...] | None = None  # COMBO choices, e.g. model file names
    multiline: bool = False
    multiselect: bool = False


@dataclass(frozen=True, slots=True)
class NodeDef:
    """A node class's inputs, and which of them it validates itself (ComfyUI then skips its checks)."""

    inputs: Mapping[str, InputSpec]
    self_checked: frozenset[str] = frozenset()
    checks_all: bool = False  # its validate function takes **kwargs
    output: bool = False  # an output node (OUTPUT_NODE): ComfyUI validates and runs only what outputs need

    def skips(self, name: str) -> bool:
        """True where ComfyUI leaves min/max/combo checks to the node's own validate function."""
        return self.checks_all or name in self.self_checked


def _is_link(value: Any) -> bool:
    """An API-format link ``[node_id, output_index]``."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _json_safe(value: Any) -> Any:
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def normalise_input(raw: Any) -> InputSpec:
    """An INPUT_TYPES entry (``("INT", {...})``, ``([choices], {...})``, ``("COMBO", {"options": …})``) as an InputSpec."""
    kind = raw[0] if isinstance(raw, (list, tuple)) and raw else raw
    extra = raw[1] if isinstance(raw, (list, tuple)) and len(raw) > 1 and isinstance(raw[1], Mapping) else {}
    options = None
    if isinstance(kind, (list, tuple)):
        options, kind = tuple(kind), "COMBO"
    elif kind == "COMBO":
        options = tuple(extra.get("options") or ())
    return InputSpec(str(kind), _number(extra.get("min")), _number(extra.get("max")), _number(extra.get("step")), options,
                     bool(extra.get("multiline", False)), bool(extra.get("multiselect", False)))


def normalise_node(input_types: Mapping[str, Any], validate_args: Sequence[str] = (), validate_kwargs: bool = False,
                   output: bool = False) -> NodeDef:
    """A class's INPUT_TYPES() result (required + optional), its validate function's signature and OUTPUT_NODE as a NodeDef."""
    inputs: dict[str, InputSpec] = {}
    for section in ("required", "optional"):
        for name, raw in (input_types.get(section) or {}).items():
            inputs[name] = normalise_input(raw)
    return NodeDef(inputs, frozenset(validate_args), validate_kwargs, output)


@dataclass(frozen=True, slots=True)
class _Target:
    """A node input a binding's value reaches."""

    node_id: str
    class_type: str
    input: str
    spec: InputSpec
    linked: bool  # reached through an Input node's link (ComfyUI converts only direct values)

    def label(self) -> str:
        return f"{self.class_type}.{self.input} (node {self.node_id})"


@dataclass(slots=True)
class _Problem:
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def _needed_nodes(workflow: Mapping[str, Any], node_defs: Mapping[str, NodeDef]) -> set[str] | None:
    """Nodes some output node depends on (what ComfyUI validates and runs); None when no output node is known."""
    stack = [str(nid) for nid, node in workflow.items()
             if (d := node_defs.get(node.get("class_type", ""))) is not None and d.output]
    if not stack:
        return None
    needed: set[str] = set()
    while stack:
        node_id = stack.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        stack.extend(v[0] for v in ((workflow.get(node_id) or {}).get("inputs") or {}).values() if _is_link(v))
    return needed


def _targets(template: Template, binding: Binding, node_defs: Mapping[str, NodeDef], needed: set[str] | None,
             skip: frozenset[tuple[str, str]] = frozenset()) -> list[_Target]:
    """Every checkable node input this binding's values reach (direct slots and through our Input nodes)."""
    workflow = template.workflow
    found: list[_Target] = []
    seen: set[tuple[str, str]] = set()

    def add(node_id: str, name: str, linked: bool) -> None:
        node = workflow.get(node_id) or {}
        class_type = node.get("class_type", "")
        node_def = node_defs.get(class_type)
        if (node_id, name) in seen or node_def is None or name not in node_def.inputs or node_def.skips(name):
            return  # unknown classes and inputs are ComfyUI's validation's business
        if needed is not None and node_id not in needed:
            return  # a node no output needs never runs: ComfyUI does not check it either
        if (node_id, name) in skip:
            return  # preflight already named this input's missing files
        seen.add((node_id, name))
        found.append(_Target(node_id, class_type, name, node_def.inputs[name], linked))

    for slot in binding.slots:
        add(slot.node_id, slot.input, False)
        node = workflow.get(slot.node_id) or {}
        if node.get("class_type") in _PASS_THROUGH and slot.input == ids.INPUT_NODE_VALUE_FIELD:
            for consumer_id, consumer in workflow.items():
                for name, value in (consumer.get("inputs") or {}).items():
                    if _is_link(value) and value[0] == slot.node_id and value[1] == 0:
                        add(str(consumer_id), name, True)
    return found


def _range_text(spec: InputSpec) -> str:
    low = "" if spec.min is None else f"{spec.min:g}" if isinstance(spec.min, float) else str(spec.min)
    high = "" if spec.max is None else f"{spec.max:g}" if isinstance(spec.max, float) else str(spec.max)
    if low and high:
        return f"from {low} to {high}"
    return f"at least {low}" if low else f"at most {high}"


def _close_matches(word: str, options: list[str]) -> list[str]:
    """Up to three options about as close to ``word`` as the closest one (a typo names one file, not three)."""
    scored = []
    for option in difflib.get_close_matches(word, options, n=3, cutoff=0.6):
        scored.append((difflib.SequenceMatcher(None, word, option).ratio(), option))
    return [option for ratio, option in scored if ratio >= scored[0][0] - 0.03] if scored else []


def _checker(target: _Target) -> Callable[[Any], _Problem | None] | None:
    """A function value → problem (or None when fine) for one target; None if nothing to check."""
    spec = target.spec
    if spec.type in _NUMERIC:
        convert = int if spec.type == "INT" else float
        bounded = spec.min is not None or spec.max is not None

        def check_number(value: Any) -> _Problem | None:
            number = value
            if not target.linked:  # ComfyUI converts a direct value with int()/float() first
                try:
                    number = convert(value)
                except (TypeError, ValueError, OverflowError):
                    return _Problem(f"is not a valid {spec.type} for {target.label()}", {"expected": spec.type})
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                return None
            if isinstance(number, float) and not math.isfinite(number):
                return _Problem(f"is not a finite number ({target.label()} needs a number {_range_text(spec)})"
                                if bounded else f"is not a finite number ({target.label()})", {})
            if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
                return _Problem(f"is out of range: {target.label()} accepts {_range_text(spec)}",
                                {"min": spec.min, "max": spec.max})
            return None

        return check_number
    if spec.type == "COMBO" and spec.options is not None:
        try:
            choices: set[Any] | tuple[Any, ...] = set(spec.options)
        except TypeError:
            choices = spec.options
        options = spec.options

        def check_choice(value: Any) -> _Problem | None:
            values = value if spec.multiselect and isinstance(value, list) else [value]
            bad = [v for v in values if v not in choices]
            if not bad:
                return None
            if len(options) <= _SHORT_LIST:
                listed = ", ".join(repr(o) for o in options) or "nothing (the list is empty)"
                return _Problem(f"is not one of the choices of {target.label()}: {listed}", {"choices": list(options)})
            close = _close_matches(str(bad[0]), [str(o) for o in options])
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            return _Problem(f"is not one of the {len(options)} choices of {target.label()}{hint}",
                            {"choices_count": len(options), "close_matches": close})

        return check_choice
    return None


def _distinct_values(name: str, specs: Sequence[Any]) -> tuple[list[tuple[Any, int]], int | None]:
    """([(value, first job index)] in job order, index of the first job without this parameter or None)."""
    first_job: dict[Any, int] = {}
    unhashable: list[tuple[Any, int]] = []
    missing: int | None = None
    for index, spec in enumerate(specs):
        params = spec.params
        if name not in params:
            if missing is None:
                missing = index
            continue
        value = params[name]
        try:
            if value not in first_job:
                first_job[value] = index
        except TypeError:
            unhashable.append((value, index))
    values = list(first_job.items())
    if unhashable:
        values = sorted(values + unhashable, key=lambda item: item[1])
    return values, missing


def _workflow_value(template: Template, binding: Binding) -> Any:
    """The literal a job without this parameter runs with (what the workflow holds in the first slot)."""
    slot = binding.slots[0]
    value = ((template.workflow.get(slot.node_id) or {}).get("inputs") or {}).get(slot.input)
    return None if value is None or _is_link(value) else value


def check_job_values(template: Template, specs: Sequence[Any], node_defs: Mapping[str, NodeDef],
                     skip: frozenset[tuple[str, str]] = frozenset()) -> None:
    """Raise ApiError 400 ``invalid_param_value`` for the first job value its node input would reject.

    ``specs`` are the expanded jobs (``.params``: name → value), in job-index order. Jobs without a
    parameter run with the workflow's own value; it is checked too, since a value that reaches a node
    through an Input node's link is never range-checked by ComfyUI.
    """
    needed = _needed_nodes(template.workflow, node_defs)
    for name, binding in template.bindings.items():
        checks = [(t, c) for t in _targets(template, binding, node_defs, needed, skip) if (c := _checker(t)) is not None]
        if not checks:
            continue
        # A JobScan (batchgen/jobscan.py) carries the distinct values already; a plain list of jobs is scanned here.
        values, missing = specs.distinct_values(name) if hasattr(specs, "distinct_values") else _distinct_values(name, specs)
        default = _workflow_value(template, binding) if missing is not None else None
        if default is not None:
            values = sorted([*values, (default, missing)], key=lambda item: item[1])
        # In job order: the first problem found is the earliest job's.
        for value, index in values:
            for target, check in checks:
                problem = check(value)
                if problem is None:
                    continue
                origin = " (the workflow's own value)" if index == missing and value is default else ""
                raise ApiError(400, "invalid_param_value", f"job {index}: parameter {name!r} = {value!r}{origin} {problem.message}",
                               {"job": index, "param": name, "value": _json_safe(value), "node_id": target.node_id,
                                "class_type": target.class_type, "input": target.input, **problem.details})
