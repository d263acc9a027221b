// One job's values written into the editor graph's widgets or into an API graph.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyToGraph, fillApiGraph, slotValues } from "../../web/js/tab/new/canvas_values.js";

const PARAMS = [
  { name: "prompt", type: "text", slots: ["1.value"] },
  { name: "seed", type: "int", slots: ["2.value", "7.seed"] },
  { name: "width", type: "int", slots: ["3.value"] },
];

test("a job's params and seed go to every slot of their parameter; parameters it lacks are left alone", () => {
  assert.deepEqual(slotValues(PARAMS, { params: { prompt: "猫" }, seed: 42 }), { "1.value": "猫", "2.value": 42, "7.seed": 42 });
  assert.deepEqual(slotValues(PARAMS, { params: { seed: 5, width: 256 }, seed: 5 }), { "2.value": 5, "7.seed": 5, "3.value": 256 });
});

test("values land in the widgets of the live graph by name; a slot without a widget is reported", () => {
  const nodes = { 1: { widgets: [{ name: "name", value: "prompt" }, { name: "value", value: "old" }] },
                  3: { widgets: [{ name: "value", value: 1 }] } };
  let dirty = false;
  const graph = { getNodeById: (id) => nodes[id] ?? null, setDirtyCanvas: () => { dirty = true; } };
  const got = applyToGraph(graph, { "1.value": "new", "3.value": 512, "9.value": 1 });
  assert.deepEqual(got, { set: ["1.value", "3.value"], missing: ["9.value"] });
  assert.equal(nodes[1].widgets[1].value, "new");
  assert.equal(nodes[1].widgets[0].value, "prompt");
  assert.equal(nodes[3].widgets[0].value, 512);
  assert.equal(dirty, true);
});

test("the API graph is copied with the values written in", () => {
  const wf = { "1": { class_type: "BatchGenInputText", inputs: { name: "prompt", value: "a" } } };
  const out = fillApiGraph(wf, { "1.value": "b", "5.x": 1 });
  assert.equal(out["1"].inputs.value, "b");
  assert.equal(wf["1"].inputs.value, "a");
  assert.equal(out["5"], undefined);
});

import { recallCanvasBatch, rememberCanvasBatch } from "../../web/js/tab/new/canvas_memory.js";

function fakeStorage(limit = Infinity) {
  const data = new Map();
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => { if (v.length > limit) throw new Error("QuotaExceededError"); data.set(k, v); },
  };
}

test("the editor graph of an unsaved canvas batch is remembered by batch id, newest 20, fewer when storage is full", () => {
  const s = fakeStorage();
  const graph = { nodes: [{ id: 1, type: "EmptyImage" }] };
  assert.equal(rememberCanvasBatch(s, "b1", { editor_workflow: graph, parameters: PARAMS }), true);
  assert.deepEqual(recallCanvasBatch(s, "b1"), { editor_workflow: graph, parameters: PARAMS });
  assert.equal(recallCanvasBatch(s, "nope"), null);
  assert.equal(rememberCanvasBatch(s, "b2", { parameters: PARAMS }), false, "nothing to remember without an editor graph");
  for (let i = 0; i < 25; i++) rememberCanvasBatch(s, `x${i}`, { editor_workflow: graph });
  assert.equal(recallCanvasBatch(s, "b1"), null, "the oldest are dropped");
  assert.notEqual(recallCanvasBatch(s, "x24"), null);
  const small = fakeStorage(400);
  const big = { nodes: [{ id: 1, type: "A".repeat(150) }] };
  rememberCanvasBatch(small, "a", { editor_workflow: big });
  assert.equal(rememberCanvasBatch(small, "b", { editor_workflow: big }), true);
  assert.notEqual(recallCanvasBatch(small, "b"), null);
  assert.equal(recallCanvasBatch(small, "a"), null, "over quota the older one gave way");
  assert.equal(recallCanvasBatch({ getItem: () => "{broken" }, "a"), null);
  assert.equal(rememberCanvasBatch(null, "a", { editor_workflow: graph }), false);
});
