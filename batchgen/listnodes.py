"""Our list (source) nodes in a submitted workflow become the batch's rows: one job per item, the node rewritten into constants.

Queued with ComfyUI's own Run, a list node outputs lists and ComfyUI runs the graph once per item
inside ONE prompt. Submitted through BatchGen, the same graph becomes one job per item: each list
node is replaced by BatchGen Input nodes (text, int or image), one per parameter it fills, and its
items become the jobs' values of those parameters. What each node type fills is data (``KINDS``):
a function from the node's inputs to its ``Column`` s, each naming a parameter, its type, which of
the node's outputs it stands for and its items. Several list nodes pair up by position, as
ComfyUI's list execution does: the job count is the longest list's and a shorter list repeats its
last item.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import ids, wildcards
from .errors import ApiError, bad_request
from .filelist import file_rows
from .listitems import MAX_ITEMS, column_specs, image_set_items, wildcard_items
from .sources import ListRow
from .templates import Template, bindings_from_input_nodes

MAX_SEED = 2**64 - 1
# host.read_input_file: a file's bytes from ComfyUI's input folder (contained), or None when there is no such file.
ReadFile = Callable[[str], "bytes | None"]
CONSTANTS = {"text": ids.NODE_INPUT_TEXT, "int": ids.NODE_INPUT_INT, "image": ids.NODE_INPUT_IMAGE}


@dataclass(frozen=True, slots=True)
class ListContext:
    """What list nodes may read besides their inputs: input files, the wildcard files, the input folder (image sets)."""

    read_file: ReadFile | None = None
    wildcard_loader: wildcards.Loader | None = None
    input_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Column:
    """One parameter a list node fills: its name and type, {list-node output → constant output}, and its items."""

    name: str
    kind: str
    outputs: dict[int, int] = field(default_factory=lambda: {0: 0})
    items: list[Any] = field(default_factory=list)
    coord: str | None = None  # the coordinate a job gains from this column: its item's number (Wildcard Expand: "wildcard")


def prompt_items(text: Any) -> list[str]:
    """The items of a Prompt List: one per non-empty line, surrounding spaces trimmed (the node does the same)."""
    if not isinstance(text, str):
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def seed_items(start: Any, count: Any, step: Any) -> list[int]:
    """The items of a Seed List: ``count`` seeds from ``start`` by ``step``, wrapped into 0 … 2^64-1 like KSampler's seed."""
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, count, step)):
        return []
    return [(start + i * step) % (MAX_SEED + 1) for i in range(max(0, min(count, MAX_ITEMS)))]


def _prompt_list(name: str, inputs: Mapping[str, Any], ctx: ListContext) -> list[Column]:
    return [Column(name, "text", items=prompt_items(inputs.get("text")))]


def _seed_list(name: str, inputs: Mapping[str, Any], ctx: ListContext) -> list[Column]:
    return [Column(name, "int", items=seed_items(inputs.get("start"), inputs.get("count"), inputs.get("step", 1)))]


def _prompts_from_file(name: str, inputs: Mapping[str, Any], ctx: ListContext) -> list[Column]:
    file, column = inputs.get("file"), inputs.get("column", "")
    specs = column_specs(inputs.get("columns", ""), name)
    data = ctx.read_file(file) if ctx.read_file is not None and isinstance(file, str) else None
    if data is None:
        raise bad_request("invalid_list_node", f"no file {file!r} in ComfyUI's input folder (or it is over 32 MB)")
    rows = file_rows(data, file, column if isinstance(column, str) else "", tuple(h for h, _ in specs))
    if len(rows) > MAX_ITEMS:
        raise bad_request("invalid_list_node", f"{file} has more than {MAX_ITEMS} items")
    # Outputs 1 … 4 are the extra columns in the order they are named.
    return [Column(name, "text", items=[r[0] for r in rows]),
            *(Column(param, "text", {k: 0}, [r[k] for r in rows]) for k, (_, param) in enumerate(specs, start=1))]


def _wildcard_expand(name: str, inputs: Mapping[str, Any], ctx: ListContext) -> list[Column]:
    items = wildcard_items(inputs.get("text"), inputs.get("mode", "combinatorial"), inputs.get("count", 1), inputs.get("seed", 0),
                           ctx.wildcard_loader)
    # Its jobs are numbered like the API's wildcard variants (coords.wildcard = k), in both modes.
    return [Column(name, "text", items=items, coord="wildcard")]


def _image_set(name: str, inputs: Mapping[str, Any], ctx: ListContext) -> list[Column]:
    files = image_set_items(ctx.input_dir, inputs.get("folder"))
    # Outputs IMAGE, MASK are those of BatchGen Input (image); the file names (output 2) are a text parameter <name>_file.
    return [Column(name, "image", {0: 0, 1: 1}, [value for _, value in files]),
            Column(f"{name}_file", "text", {2: 0}, [file for file, _ in files])]


KINDS: dict[str, Callable[[str, Mapping[str, Any], ListContext], list[Column]]] = {
    ids.NODE_PROMPT_LIST: _prompt_list,
    ids.NODE_SEED_LIST: _seed_list,
    ids.NODE_PROMPTS_FROM_FILE: _prompts_from_file,
    ids.NODE_WILDCARD_EXPAND: _wildcard_expand,
    ids.NODE_IMAGE_SET: _image_set,
}
LIST_NODES = tuple(KINDS)


def _columns(node_id: str, node: Mapping[str, Any], ctx: ListContext) -> list[Column]:
    """The columns of one list node, or a 400 naming the node and what to fix."""
    inputs = node.get("inputs") or {}
    name, kind = inputs.get(ids.INPUT_NODE_NAME_FIELD), node["class_type"]
    if any(isinstance(v, list) for v in inputs.values()):
        raise bad_request("invalid_list_node", f"list node {node_id} ({kind}) must have its values set on the node, "
                          "not linked from another node, to be run as a batch", node_id=str(node_id))
    if not isinstance(name, str) or not name:
        raise bad_request("invalid_list_node", f"list node {node_id} needs a parameter name", node_id=str(node_id))
    try:
        columns = KINDS[kind](name, inputs, ctx)
    except ApiError as exc:
        raise bad_request("invalid_list_node", f"list node {node_id} ({kind}): {exc.message}",
                          **{**exc.details, "node_id": str(node_id)}) from None
    if not columns[0].items:
        raise bad_request("invalid_list_node", f"list node {node_id} ({kind}) makes no items (no non-empty line, cell or file; "
                          "for a Seed List, start, count and step must be integers and count at least 1)", node_id=str(node_id))
    return columns


def list_nodes(workflow: Mapping[str, Any]) -> list[str]:
    """Ids of our list nodes in an API-format workflow."""
    return [str(nid) for nid, n in workflow.items() if isinstance(n, Mapping) and n.get("class_type") in LIST_NODES]


def _constant(column: Column) -> dict[str, Any]:
    return {"class_type": CONSTANTS[column.kind], "inputs": {ids.INPUT_NODE_NAME_FIELD: column.name,
                                                             ids.INPUT_NODE_VALUE_FIELD: column.items[0]}}


def _rewrite(workflow: dict[str, Any], node_id: str, columns: list[Column]) -> None:
    """The list node becomes its first column's constant (same id); every further column a new node, its links moved there."""
    moved: dict[int, tuple[str, int]] = {}
    workflow[node_id] = _constant(columns[0])
    for k, column in enumerate(columns[1:], start=1):
        new_id = f"{node_id}_{k}"
        while new_id in workflow:
            new_id += "_"
        workflow[new_id] = _constant(column)
        moved.update({out: (new_id, slot) for out, slot in column.outputs.items()})
    kept = max(columns[0].outputs) + 1
    for nid, node in workflow.items():
        for key, value in (node.get("inputs") or {}).items():
            if not (isinstance(value, list) and len(value) == 2 and str(value[0]) == node_id):
                continue
            if value[1] in moved:
                node["inputs"][key] = list(moved[value[1]])
            elif not isinstance(value[1], int) or value[1] >= kept:
                # e.g. Prompts From File's column_3 linked while `columns` names only two: no values to give it.
                raise bad_request("invalid_list_node", f"node {nid} input {key!r} is linked to output {value[1]} of list node {node_id}, "
                                  "which fills no parameter (name its column in `columns`, or unlink it)", node_id=str(node_id))


def apply_list_nodes(template: Template, ctx: ListContext | ReadFile | None = None) -> tuple[Template, list[dict[str, Any]]]:
    """(the template with each list node made BatchGen Input nodes, one row {name: item} per job); rows are [] without list nodes."""
    ctx = ctx if isinstance(ctx, ListContext) else ListContext(read_file=ctx)
    found = list_nodes(template.workflow)
    if not found:
        return template, []
    workflow = copy.deepcopy(template.workflow)
    columns: dict[str, list[Any]] = {}
    coords: dict[str, list[Any]] = {}  # coordinate → the items of the first column giving it
    for node_id in found:
        made = _columns(node_id, workflow[node_id], ctx)
        for column in made:
            if column.coord is not None:
                coords.setdefault(column.coord, column.items)
            name = column.name
            if name in columns and columns[name] != column.items:
                raise bad_request("invalid_list_node", f"two list nodes (or columns) are named {name!r} with different items; "
                                  "name them apart", param=name)
            if name in template.bindings and template.bindings[name].source != "input_node":
                raise bad_request("invalid_list_node", f"list node {node_id} is named {name!r}, which the template already binds "
                                  "elsewhere; give the list node another name", param=name)
            columns[name] = column.items
        _rewrite(workflow, node_id, made)
    bindings = {**template.bindings, **bindings_from_input_nodes(workflow)}
    total = max(len(items) for items in columns.values())
    # Paired by position like ComfyUI's list execution: a shorter list repeats its last item (and its number).
    rows = [ListRow({name: items[min(i, len(items) - 1)] for name, items in columns.items()},
                    {coord: min(i, len(items) - 1) for coord, items in coords.items()}) for i in range(total)]
    return replace(template, workflow=workflow, bindings=bindings), rows


def with_list_nodes(template: Template, row_fields: list[str], ctx: ListContext | ReadFile | None = None
                    ) -> tuple[Template, list[dict[str, Any]] | None]:
    """apply_list_nodes for a request that already sends ``row_fields`` (prompts, jobs, table): those conflict with list nodes."""
    template, rows = apply_list_nodes(template, ctx)
    if not rows:
        return template, None
    if row_fields:
        raise bad_request("list_nodes_conflict", f"the workflow's list nodes make the jobs; send no `{row_fields[0]}` with it "
                          "(use params, matrix or repeat to combine)", field=row_fields[0])
    return template, rows
