"""The adapter's pure parts: history entries → outcomes, history trimming, progress relay, node definitions."""

from __future__ import annotations

import threading

from batchgen_ext.batchgen import ids
from batchgen_ext.batchgen.models import JobStatus
from batchgen_ext.comfy_host.history import HistoryTrimmer
from batchgen_ext.comfy_host.outcomes import parse_history_entry
from batchgen_ext.comfy_host.progress import ProgressRelay, install_send_hook, job_of
from batchgen_ext.comfy_host.specs import NodeDefinitions, describe_class

PID = "0b6c9f0e-2f4c-4e4b-9d55-7c6f0c2f9a11"


def entry(status_str: str, messages: list, outputs: dict | None = None) -> dict:
    """A history entry shaped like PromptQueue.task_done writes it (v0.8.0 and v0.33.0)."""
    extra = {"client_id": "batchgen-b1", "create_time": 1764580000000}
    return {"prompt": (3, PID, {"1": {"class_type": "EmptyImage", "inputs": {}}}, extra, ["9"]),
            "outputs": outputs or {}, "status": {"status_str": status_str, "completed": status_str == "success", "messages": messages},
            "meta": {"9": {"node_id": "9", "display_node": "9", "parent_node": None, "real_node_id": "9"}}}


START = ("execution_start", {"prompt_id": PID, "timestamp": 1764580001000})
CACHED = ("execution_cached", {"nodes": [], "prompt_id": PID, "timestamp": 1764580001002})


def test_success_with_images():
    outputs = {"9": {"images": [{"filename": "j1_a1_00001_.png", "subfolder": "batchgen/b1", "type": "output"},
                                {"filename": "j1_a1_00002_.png", "subfolder": "batchgen/b1", "type": "output"}]},
               "4": {"text": ["not a file"]}}
    outcome = parse_history_entry(entry("success", [START, CACHED, ("execution_success", {"prompt_id": PID, "timestamp": 1764580003500})],
                                        outputs))
    assert outcome.status is JobStatus.SUCCEEDED and outcome.error is None
    assert [(o.node_id, o.filename, o.subfolder, o.type, o.kind) for o in outcome.outputs] == [
        ("9", "j1_a1_00001_.png", "batchgen/b1", "output", "images"), ("9", "j1_a1_00002_.png", "batchgen/b1", "output", "images")]
    assert outcome.started_at == 1764580001.0 and outcome.finished_at == 1764580003.5


def error_message(exc_type: str, text: str) -> tuple:
    return ("execution_error", {"prompt_id": PID, "node_id": "5", "node_type": "KSampler", "executed": ["1"],
                                "exception_message": text, "exception_type": exc_type, "traceback": ["..."],
                                "current_inputs": {}, "current_outputs": {}, "timestamp": 1764580002000})


def test_out_of_memory_is_a_transient_error():
    for exc_type, text in (("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
                           ("RuntimeError", "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: OOM")):
        outcome = parse_history_entry(entry("error", [START, error_message(exc_type, text)]))
        assert outcome.status is JobStatus.FAILED
        assert outcome.error.kind == "out_of_memory" and outcome.error.transient, (exc_type, outcome.error)
        assert outcome.error.node_id == "5" and outcome.error.node_type == "KSampler"
        assert outcome.finished_at == 1764580002.0


def test_node_error_is_final():
    outcome = parse_history_entry(entry("error", [START, error_message("ValueError", "width must be positive")]))
    assert outcome.error.kind == "node_error" and not outcome.error.transient
    assert outcome.error.message == "width must be positive" and outcome.error.exception_type == "ValueError"


def test_interrupted():
    messages = [START, ("execution_interrupted", {"prompt_id": PID, "node_id": "5", "node_type": "KSampler", "executed": [],
                                                  "timestamp": 1764580002500})]
    outcome = parse_history_entry(entry("error", messages))
    assert outcome.status is JobStatus.FAILED and outcome.error.kind == "interrupted" and outcome.error.transient
    assert outcome.finished_at == 1764580002.5


def test_error_without_messages_is_still_a_failure():
    outcome = parse_history_entry({"status": {"status_str": "error", "messages": [["weird"], None]}, "outputs": None})
    assert outcome.status is JobStatus.FAILED and outcome.error.kind == "unknown"


class FakeQueue:
    """PromptQueue's history part: a dict under a mutex, delete_history_item a no-op for missing ids."""

    def __init__(self) -> None:
        self.history: dict[str, dict] = {}
        self.mutex = threading.RLock()

    def delete_history_item(self, id_to_delete: str) -> None:
        with self.mutex:
            self.history.pop(id_to_delete, None)


def test_history_keeps_the_most_recent_of_ours_and_never_touches_others():
    queue = FakeQueue()
    trimmer = HistoryTrimmer(queue, keep=3)
    for i in range(10):
        queue.history[f"ours-{i}"] = {}
        queue.history[f"native-{i}"] = {}
        trimmer.release([f"ours-{i}"])
    assert sorted(k for k in queue.history if k.startswith("ours")) == ["ours-7", "ours-8", "ours-9"]
    assert len([k for k in queue.history if k.startswith("native")]) == 10
    queue.history.update({"ours-10": {}, "ours-11": {}})
    assert trimmer.release(["ours-10", "ours-11"]) == 2
    assert sorted(k for k in queue.history if k.startswith("ours")) == ["ours-10", "ours-11", "ours-9"]


def test_history_keep_zero_drops_each_released_prompt():
    queue = FakeQueue()
    queue.history.update({"a": {}, "b": {}})
    HistoryTrimmer(queue, keep=0).release(["a"])
    assert list(queue.history) == ["b"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def relay_with_clock() -> tuple[ProgressRelay, list, Clock]:
    sent: list = []
    clock = Clock()
    relay = ProgressRelay(lambda event, data: sent.append((event, data)), clock)
    relay.track("p1", 7, "b1")
    return relay, sent, clock


def progress(relay: ProgressRelay, clock: Clock, at: float, value: float, total: float = 10, node: str = "3", pid: str = "p1") -> None:
    clock.now = 100.0 + at
    relay.observe("progress", {"value": value, "max": total, "prompt_id": pid, "node": node})


def test_progress_is_throttled_to_four_per_second_and_the_last_of_a_node_always_goes():
    relay, sent, clock = relay_with_clock()
    for step in range(100):  # 100 steps in one second
        progress(relay, clock, step / 100, step / 10)
    progress(relay, clock, 1.0, 10)  # final step of node 3
    values = [d["value"] for _, d in sent]
    assert values[-1] == 10 and len(values) <= 6, values
    assert all(event == ids.EVENT_PROGRESS for event, _ in sent)
    assert sent[0][1] == {"job_id": 7, "batch_id": "b1", "prompt_id": "p1", "node": "3", "value": 0.0, "max": 10}


def test_a_held_update_goes_out_when_the_next_node_starts_or_the_prompt_ends():
    relay, sent, clock = relay_with_clock()
    progress(relay, clock, 0.0, 1)
    progress(relay, clock, 0.1, 2)  # held (throttled)
    progress(relay, clock, 0.15, 1, node="4")  # node 3 ended without reaching max: its last value still goes out
    assert [(d["node"], d["value"]) for _, d in sent] == [("3", 1), ("3", 2)]
    progress(relay, clock, 0.2, 3, node="4")  # held
    relay.observe("executing", {"node": None, "prompt_id": "p1"})
    assert [(d["node"], d["value"]) for _, d in sent][-1] == ("4", 3)
    assert relay.tracked() == 0
    progress(relay, clock, 5.0, 9, node="4")  # finished prompts are not relayed any more
    assert len(sent) == 3


def test_untracked_prompts_and_other_events_are_ignored():
    relay, sent, clock = relay_with_clock()
    progress(relay, clock, 0.0, 1, pid="someone-else")
    relay.observe("status", {"status": {}})
    relay.observe("progress", "not a dict")
    assert sent == []
    relay.forget("p1")
    progress(relay, clock, 1.0, 1)
    assert sent == []


def test_send_hook_calls_the_original_first_and_never_raises():
    calls: list = []

    class Server:
        def send_sync(self, event, data, sid=None):
            calls.append((event, sid))
            return "original result"

    server = Server()

    def broken_relay(send):
        relay = ProgressRelay(send)
        relay.observe = lambda event, data: (_ for _ in ()).throw(RuntimeError("boom"))  # type: ignore[method-assign]
        return relay

    install_send_hook(server, broken_relay)
    assert server.send_sync("progress", {"prompt_id": "x"}, "batchgen-b1") == "original result"
    assert calls == [("progress", "batchgen-b1")]

    server = Server()
    calls.clear()
    relay = install_send_hook(server, ProgressRelay)
    relay.track("p9", 3, "b9")
    server.send_sync("progress", {"value": 1, "max": 1, "prompt_id": "p9", "node": "2"}, "batchgen-b9")
    assert calls == [("progress", "batchgen-b9"), (ids.EVENT_PROGRESS, None)]  # relayed to every socket


def test_job_of_reads_what_the_dispatcher_put_in_extra_data():
    extra = {"extra_pnginfo": {"batchgen": {"batch_id": "b1", "job_id": 42, "idx": 3}}}
    assert job_of("batchgen-b1", extra) == (42, "b1")
    assert job_of("batchgen-b2", {}) == (None, "b2")


class V1Node:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (["a.png", "b.png"], {}), "width": ("INT", {"min": 1, "max": 8})},
                "optional": {"mode": (["x", "y"],)}, "hidden": {"unique_id": "UNIQUE_ID"}}

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return True


def test_node_definitions_from_classes_with_a_short_cache():
    calls = {"n": 0}

    class Counting(V1Node):
        @classmethod
        def INPUT_TYPES(cls):
            calls["n"] += 1
            return super().INPUT_TYPES()

    class Broken:
        @classmethod
        def INPUT_TYPES(cls):
            raise RuntimeError("custom node bug")

    clock = Clock()
    defs = NodeDefinitions(lambda: {"V1Node": Counting, "Broken": Broken}, clock)
    node = defs["V1Node"]
    assert set(node.inputs) == {"image", "width", "mode"} and node.inputs["width"].max == 8
    assert node.skips("image") and not node.skips("width") and node.inputs["mode"].options == ("x", "y")
    assert defs.get("Broken") is None and defs.get("Missing") is None
    defs["V1Node"]
    assert calls["n"] == 1
    clock.now += 10  # model and image lists change while ComfyUI runs: re-read after a few seconds
    defs["V1Node"]
    assert calls["n"] == 2
    assert set(defs) == {"V1Node", "Broken"} and len(defs) == 2
    assert describe_class(V1Node).self_checked == frozenset({"cls", "image"})


def test_the_nodes_comfyui_served_from_its_cache_are_read_from_execution_cached():
    outputs = {"9": {"images": [{"filename": "a.png", "subfolder": "batchgen/b1", "type": "output"}]}}
    done = ("execution_success", {"prompt_id": PID, "timestamp": 1764580003500})
    all_cached = ("execution_cached", {"nodes": ["1", "9"], "prompt_id": PID, "timestamp": 1764580001002})
    some_cached = ("execution_cached", {"nodes": ["1"], "prompt_id": PID, "timestamp": 1764580001002})
    full = parse_history_entry(entry("success", [START, all_cached, done], outputs))
    assert full.cached_nodes == ("1", "9") and full.outputs_cached() is True
    partial = parse_history_entry(entry("success", [START, some_cached, done], outputs))
    assert partial.outputs_cached() is False, "a job whose output node ran made its own files"
    assert parse_history_entry(entry("success", [START, CACHED, done], outputs)).outputs_cached() is False
    assert parse_history_entry(entry("success", [START, done], outputs)).outputs_cached() is None, "not reported: unknown"
