"""The adapter's queue side (comfy_host.queue) over a stand-in for ComfyUI's ``execution`` module and PromptServer.

The stand-in mirrors the parts of v0.8.0/v0.33.0 the adapter uses (PromptQueue's methods and task_done
signature, validate_prompt's 4-tuple); the live behaviour is covered by tests/comfyui.
"""

from __future__ import annotations

import asyncio
import copy
import sys
import threading
import types

import pytest
from batchgen_ext.batchgen.host import HostValidationError, PromptState
from batchgen_ext.batchgen.models import JobStatus
from batchgen_ext.comfy_host.adapter import ComfyHost
from batchgen_ext.comfy_host.files import Folders
from batchgen_ext.comfy_host.queue import NativeQueue


class StubQueue:
    def __init__(self) -> None:
        self.pending: list[tuple] = []
        self.running: list[tuple] = []
        self.history: dict[str, dict] = {}
        self.updates = 0
        self.copies = 0

    def put(self, item: tuple) -> None:
        self.pending.append(item)

    def get_current_queue_volatile(self):
        return list(self.running), list(self.pending)

    def get_history(self, prompt_id=None, map_function=None):
        # Like ComfyUI's: the entry is deep-copied unless a map_function is given.
        if prompt_id not in self.history:
            return {}
        self.copies += map_function is None
        entry = self.history[prompt_id]
        return {prompt_id: map_function(entry) if map_function else copy.deepcopy(entry)}

    def delete_queue_item(self, fn) -> bool:
        for i, item in enumerate(self.pending):
            if fn(item):
                del self.pending[i]
                return True
        return False

    def delete_history_item(self, id_to_delete) -> None:
        self.history.pop(id_to_delete, None)


class StubLoop:
    def __init__(self) -> None:
        self.scheduled: list = []

    def call_soon_threadsafe(self, callback) -> None:
        self.scheduled.append(callback)


class StubServer:
    def __init__(self) -> None:
        self.prompt_queue = StubQueue()
        self.loop = StubLoop()
        self.number = 0
        self.sent: list = []
        self.hooks = 0

    def queue_updated(self) -> None:
        self.prompt_queue.updates += 1

    def trigger_on_prompt(self, body: dict) -> dict:
        self.hooks += 1
        body["extra_data"]["hooked"] = True  # like a wildcard extension's on_prompt handler
        return body

    def send_sync(self, event, data, sid=None) -> None:
        self.sent.append((event, data, sid))


def fake_execution(six_tuple: bool) -> types.ModuleType:
    module = types.ModuleType("execution")
    module.calls = []

    class PromptQueue:
        if six_tuple:
            def task_done(self, item_id, history_result, status, process_item=None): ...
        else:
            def task_done(self, item_id, history_result, status): ...

    async def validate_prompt(prompt_id, prompt, partial_execution_list):
        module.calls.append(prompt)
        for node in prompt.values():
            node["inputs"]["coerced"] = True  # validation mutates the prompt in place
        bad = {nid: {"errors": [{"type": "value_not_in_list"}]} for nid, n in prompt.items() if n["class_type"] == "Bad"}
        outputs = [nid for nid, n in prompt.items() if n["class_type"] == "SaveImage"]
        if not outputs:
            return False, {"type": "prompt_no_outputs", "message": "Prompt has no outputs"}, [], {}
        return True, None, outputs, bad  # ComfyUI accepts partly invalid prompts (node_errors on some outputs)

    module.PromptQueue = PromptQueue
    module.validate_prompt = validate_prompt
    return module


@pytest.fixture(params=[True, False], ids=["v0.33-6-tuple", "v0.8-5-tuple"])
def native(request, monkeypatch):
    execution = fake_execution(six_tuple=request.param)
    monkeypatch.setitem(sys.modules, "execution", execution)
    server = StubServer()
    return NativeQueue(server), server, execution, request.param


GRAPH = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}, "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}


async def test_prepare_caches_per_shape_only_when_asked(native):
    queue, _server, execution, _ = native
    assert await queue.prepare(copy.deepcopy(GRAPH), "shape-a") == ["2"]
    assert await queue.prepare(copy.deepcopy(GRAPH), "shape-a") == ["2"]
    assert len(execution.calls) == 1  # cached
    await queue.prepare(copy.deepcopy(GRAPH), "shape-a", cached=False)
    await queue.prepare(copy.deepcopy(GRAPH), "shape-b", cached=False)
    assert len(execution.calls) == 3  # uncached calls always validate ...
    await queue.prepare(copy.deepcopy(GRAPH), "shape-b")
    assert len(execution.calls) == 4  # ... and never fill the cache


async def test_prepare_validates_a_copy_and_refuses_partly_invalid_prompts(native):
    queue, *_ = native
    prompt = copy.deepcopy(GRAPH)
    await queue.prepare(prompt, "k", cached=False)
    assert prompt == GRAPH  # the caller's prompt is not coerced in place
    with pytest.raises(HostValidationError) as info:
        await queue.prepare({**copy.deepcopy(GRAPH), "3": {"class_type": "Bad", "inputs": {}}}, "k2")
    assert "3" in info.value.node_errors
    with pytest.raises(HostValidationError) as info:
        await queue.prepare({"1": {"class_type": "EmptyImage", "inputs": {}}}, "k3")
    assert info.value.error["type"] == "prompt_no_outputs"


def test_enqueue_matches_post_prompt(native):
    queue, server, _, six = native
    queue.enqueue("p1", copy.deepcopy(GRAPH), ["2"], "batchgen-b1", {"extra_pnginfo": {"batchgen": {"job_id": 1}}})
    queue.enqueue("p2", copy.deepcopy(GRAPH), ["2"], "batchgen-b1", {})
    first, second = server.prompt_queue.pending
    assert len(first) == (6 if six else 5) and first[:2] == (0, "p1") and second[:2] == (1, "p2") and server.number == 2
    extra = first[3]
    assert extra["client_id"] == "batchgen-b1" and extra["hooked"] and isinstance(extra["create_time"], int)
    assert extra["extra_pnginfo"] == {"batchgen": {"job_id": 1}} and first[4] == ["2"]
    assert server.hooks == 2


def test_queue_hook_calls_the_original_then_the_listener(native):
    queue, server, *_ = native
    seen = []
    queue.set_listener(lambda: seen.append("changed"))
    server.queue_updated()
    assert server.prompt_queue.updates == 1 and len(server.loop.scheduled) == 1
    server.loop.scheduled[0]()
    assert seen == ["changed"]

    def closed(_callback):
        raise RuntimeError("Event loop is closed")

    server.loop.call_soon_threadsafe = closed
    server.queue_updated()  # at shutdown: never raises into ComfyUI's worker
    assert server.prompt_queue.updates == 2


def test_queue_changes_before_the_listener_ran_cost_one_wake_not_one_each(native):
    # ComfyUI's worker changes the queue twice per prompt (start, finish); every self-pipe write wakes the loop thread.
    queue, server, *_ = native
    seen = []
    queue.set_listener(lambda: seen.append(len(server.loop.scheduled)))
    server.queue_updated()
    server.queue_updated()
    assert server.prompt_queue.updates == 2 and len(server.loop.scheduled) == 1
    server.loop.scheduled[0]()
    server.queue_updated()  # a change after the listener ran: woken again
    assert len(server.loop.scheduled) == 2
    server.loop.scheduled[1]()
    assert seen == [1, 2]


def test_lookup_remove_and_outcomes(native):
    queue, server, *_ = native
    q = server.prompt_queue
    q.running.append((0, "run", {}, {}, []))
    q.pending.append((1, "wait", {}, {}, []))
    q.history["done"] = {"status": {"status_str": "success", "messages": []},
                         "outputs": {"2": {"images": [{"filename": "a_00001_.png", "subfolder": "batchgen/b", "type": "output"}]}}}
    found = queue.lookup(["run", "wait", "done", "gone"])
    assert [found[k].state for k in ("run", "wait", "done", "gone")] == [PromptState.RUNNING, PromptState.PENDING,
                                                                         PromptState.DONE, PromptState.UNKNOWN]
    assert found["done"].outcome.status is JobStatus.SUCCEEDED and found["done"].outcome.outputs[0].filename == "a_00001_.png"
    assert q.copies == 0, "history entries are read in place, not deep-copied once per job"
    assert queue.remove_pending(["run", "wait", "gone"]) == {"wait"}  # a running prompt is never removed
    assert q.running and not q.pending


def test_comfy_host_relays_progress_of_enqueued_prompts_and_releases_history(native, tmp_path, monkeypatch):
    _queue, _server, execution, _ = native
    server = StubServer()
    monkeypatch.setitem(sys.modules, "nodes", types.ModuleType("nodes"))
    host = ComfyHost(server, history_keep=1, folders=lambda: Folders(tmp_path, tmp_path, tmp_path))
    host.enqueue("p1", copy.deepcopy(GRAPH), ["2"], "batchgen-b1", {"extra_pnginfo": {"batchgen": {"batch_id": "b1", "job_id": 5}}})
    server.send_sync("progress", {"value": 3, "max": 3, "prompt_id": "p1", "node": "1"}, "batchgen-b1")
    server.send_sync("progress", {"value": 1, "max": 3, "prompt_id": "other", "node": "1"}, None)
    relayed = [(event, data) for event, data, _sid in server.sent if event == "batchgen.progress"]
    assert relayed == [("batchgen.progress", {"job_id": 5, "batch_id": "b1", "prompt_id": "p1", "node": "1", "value": 3, "max": 3})]
    server.prompt_queue.history.update({"p1": {}, "p2": {}, "native": {}})
    host.release(["p1"])
    host.release(["p2"])
    assert set(server.prompt_queue.history) == {"p2", "native"} and host.progress.tracked() == 0


async def test_queue_hook_on_the_server_loop_wakes_without_the_self_pipe(native, monkeypatch):
    # Our own enqueue runs on the server loop: the wake-up is scheduled with call_soon, not call_soon_threadsafe
    # (whose self-pipe write hands the GIL to ComfyUI's worker thread). From another thread: threadsafe.
    queue, server, *_ = native
    seen, scheduled = [], []
    queue.set_listener(lambda: seen.append("changed"))
    loop = asyncio.get_running_loop()
    server.loop = queue.loop = loop
    monkeypatch.setattr(loop, "call_soon_threadsafe", scheduled.append)
    server.queue_updated()
    await asyncio.sleep(0)
    assert seen == ["changed"] and scheduled == []
    thread = threading.Thread(target=server.queue_updated)
    thread.start()
    thread.join()
    assert len(scheduled) == 1 and seen == ["changed"]


async def test_events_sent_on_the_server_loop_go_straight_to_its_message_queue(native, monkeypatch, tmp_path):
    server = StubServer()
    monkeypatch.setitem(sys.modules, "nodes", types.ModuleType("nodes"))
    host = ComfyHost(server, history_keep=1, folders=lambda: Folders(tmp_path, tmp_path, tmp_path))
    server.messages = asyncio.Queue()
    server.loop = asyncio.get_running_loop()
    host.send_event("batchgen.job", {"id": 1})
    assert server.messages.get_nowait() == ("batchgen.job", {"id": 1}, None) and server.sent == []
    thread = threading.Thread(target=host.send_event, args=("batchgen.job", {"id": 2}))
    thread.start()
    thread.join()
    assert server.messages.empty() and [e[:2] for e in server.sent] == [("batchgen.job", {"id": 2})]
