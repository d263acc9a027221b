"""Node definitions from ComfyUI's node classes, normalised for the pure per-value checks.

``nodes.NODE_CLASS_MAPPINGS[ct].INPUT_TYPES()`` works for V1 and V3 nodes alike (V3's V1 shim, on
v0.8.0 and v0.33.0). Definitions are cached per class for a few seconds only: combo lists such as
model file names or input images change while ComfyUI runs.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from ..batchgen.valuecheck import NodeDef, normalise_node

log = logging.getLogger("batchgen.host")

CACHE_SECONDS = 5.0


def validate_signature(cls: type) -> tuple[tuple[str, ...], bool]:
    """(argument names, takes **kwargs) of the class's own validate function, as ComfyUI reads it."""
    func = None
    try:
        from comfy_api.internal import _ComfyNodeInternal, first_real_override

        if issubclass(cls, _ComfyNodeInternal):
            func = first_real_override(cls, "validate_inputs")
    except ImportError:  # ComfyUI before V3 nodes
        pass
    if func is None:
        func = getattr(cls, "VALIDATE_INPUTS", None)
    if func is None:
        return (), False
    spec = inspect.getfullargspec(func)
    return tuple(spec.args), spec.varkw is not None


def describe_class(cls: type) -> NodeDef:
    """One node class as a NodeDef."""
    args, kwargs = validate_signature(cls)
    return normalise_node(cls.INPUT_TYPES(), args, kwargs, output=getattr(cls, "OUTPUT_NODE", False) is True)


class NodeDefinitions(Mapping[str, NodeDef]):
    """class_type → NodeDef, read lazily from the live class mapping (only the classes a template uses)."""

    def __init__(self, classes: Callable[[], Mapping[str, type]], clock: Callable[[], float] = time.monotonic) -> None:
        self._classes = classes
        self._clock = clock
        self._cache: dict[str, tuple[float, NodeDef | None]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, class_type: str) -> NodeDef:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(class_type)
        if hit is None or now - hit[0] > CACHE_SECONDS:
            cls = self._classes().get(class_type)
            node_def = None
            if cls is not None:
                try:
                    node_def = describe_class(cls)
                except Exception:  # a broken custom node: leave it to ComfyUI's own validation
                    log.warning("[batchgen] could not read the inputs of node %s", class_type, exc_info=True)
            hit = (now, node_def)
            with self._lock:
                self._cache[class_type] = hit
        if hit[1] is None:
            raise KeyError(class_type)
        return hit[1]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._classes()))

    def __len__(self) -> int:
        return len(self._classes())


def live_definitions() -> NodeDefinitions:
    """Definitions over ComfyUI's ``nodes.NODE_CLASS_MAPPINGS`` (custom nodes included)."""

    def classes() -> Mapping[str, type]:
        import nodes  # ComfyUI's

        return nodes.NODE_CLASS_MAPPINGS

    return NodeDefinitions(classes)
