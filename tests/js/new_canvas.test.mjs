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
