"""Our list nodes in a submitted workflow become the batch's rows: one job per item, the node rewritten into a constant.

Queued with ComfyUI's own Run, a Prompt List or Seed List node outputs a list and ComfyUI runs the
graph once per item inside ONE prompt. Submitted through BatchGen, the same graph becomes one job
per item: each list node is replaced by the matching BatchGen Input node (text or int) named like
the list node's ``name``, and its items become the jobs' values of that parameter. Several list
nodes pair up by position, as ComfyUI's list execution does: the job count is the longest list's
and a shorter list repeats its last item.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from . import ids
from .errors import bad_request
from .filelist import file_items
from .templates import Template, bindings_from_input_nodes

MAX_ITEMS = 100_000
MAX_SEED = 2**64 - 1
# host.read_input_file: a file's bytes from ComfyUI's input folder (contained), or None when there is no such file.
ReadFile = Callable[[str], "bytes | None"]


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


def _items(node_id: str, node: Mapping[str, Any], read_file: ReadFile | None) -> tuple[str, str, list[Any]]:
    """(parameter name, parameter type, items) of one list node, or a 400 naming what to fix."""
    inputs = node.get("inputs") or {}
    name = inputs.get(ids.INPUT_NODE_NAME_FIELD)
    if any(isinstance(v, list) for v in inputs.values()):
        raise bad_request("invalid_list_node", f"list node {node_id} ({node['class_type']}) must have its values set on the node, "
                          "not linked from another node, to be run as a batch", node_id=str(node_id))
    if node["class_type"] == ids.NODE_PROMPT_LIST:
        items: list[Any] = prompt_items(inputs.get("text"))
        kind, what = "text", "its text has no non-empty line"
    elif node["class_type"] == ids.NODE_PROMPTS_FROM_FILE:
        items, kind, what = _file_items(node_id, inputs, read_file), "text", "the file has no non-empty line or cell"
    else:
        items = seed_items(inputs.get("start"), inputs.get("count"), inputs.get("step", 1))
        kind, what = "int", "start, count and step must be integers and count at least 1"
    if not items:
        raise bad_request("invalid_list_node", f"list node {node_id} ({node['class_type']}) makes no items: {what}", node_id=str(node_id))
    if not isinstance(name, str) or not name:
        raise bad_request("invalid_list_node", f"list node {node_id} needs a parameter name", node_id=str(node_id))
    return name, kind, items


def _file_items(node_id: str, inputs: Mapping[str, Any], read_file: ReadFile | None) -> list[str]:
    name, column = inputs.get("file"), inputs.get("column", "")
    data = read_file(name) if read_file is not None and isinstance(name, str) else None
    if data is None:
        raise bad_request("invalid_list_node", f"list node {node_id}: no file {name!r} in ComfyUI's input folder (or it is over 32 MB)",
                          node_id=str(node_id))
    items = file_items(data, name, column if isinstance(column, str) else "")
    if len(items) > MAX_ITEMS:
        raise bad_request("invalid_list_node", f"list node {node_id}: {name} has more than {MAX_ITEMS} items", node_id=str(node_id))
    return items


def list_nodes(workflow: Mapping[str, Any]) -> list[str]:
    """Ids of our list nodes in an API-format workflow."""
    return [str(nid) for nid, n in workflow.items() if isinstance(n, Mapping) and n.get("class_type") in LIST_NODES]


def apply_list_nodes(template: Template, read_file: ReadFile | None = None) -> tuple[Template, list[dict[str, Any]]]:
    """(the template with each list node made a BatchGen Input node, one row {name: item} per job); rows are [] without list nodes."""
    found = list_nodes(template.workflow)
    if not found:
        return template, []
    workflow = copy.deepcopy(template.workflow)
    columns: dict[str, list[Any]] = {}
    for node_id in found:
        name, kind, items = _items(node_id, workflow[node_id], read_file)
        if name in columns and columns[name] != items:
            raise bad_request("invalid_list_node", f"two list nodes are named {name!r} with different items; name them apart",
                              param=name)
        if name in template.bindings and template.bindings[name].source != "input_node":
            raise bad_request("invalid_list_node", f"list node {node_id} is named {name!r}, which the template already binds "
                              "elsewhere; give the list node another name", param=name)
        columns[name] = items
        constant = ids.NODE_INPUT_TEXT if kind == "text" else ids.NODE_INPUT_INT
        workflow[node_id] = {"class_type": constant, "inputs": {ids.INPUT_NODE_NAME_FIELD: name, ids.INPUT_NODE_VALUE_FIELD: items[0]}}
    bindings = {**template.bindings, **bindings_from_input_nodes(workflow)}
    total = max(len(items) for items in columns.values())
    rows = [{name: items[min(i, len(items) - 1)] for name, items in columns.items()} for i in range(total)]
    return replace(template, workflow=workflow, bindings=bindings), rows


def with_list_nodes(template: Template, row_fields: list[str], read_file: ReadFile | None = None
                    ) -> tuple[Template, list[dict[str, Any]] | None]:
    """apply_list_nodes for a request that already sends ``row_fields`` (prompts, jobs, table): those conflict with list nodes."""
    template, rows = apply_list_nodes(template, read_file)
    if not rows:
        return template, None
    if row_fields:
        raise bad_request("list_nodes_conflict", f"the workflow's list nodes make the jobs; send no `{row_fields[0]}` with it "
                          "(use params, matrix or repeat to combine)", field=row_fields[0])
    return template, rows


LIST_NODES = (ids.NODE_PROMPT_LIST, ids.NODE_SEED_LIST, ids.NODE_PROMPTS_FROM_FILE)
