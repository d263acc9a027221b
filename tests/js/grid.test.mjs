// The grid view's layout: axis coordinates to cells, zipped axes as one dimension, further axes as pages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dimensions, gridLayout } from "../../web/js/tab/gridview.js";

const job = (idx, axes, params, index = 0) => ({ id: idx + 1, idx, status: "succeeded", params, coords: { source: "axes", index, axes } });

test("a 3×3 grid: columns from the first axis, rows from the second, labelled by the values", () => {
  const jobs = [];
  const widths = [640, 768, 896];
  const words = ["你好", "世界", "こんにちは"];
  for (let x = 0; x < 3; x++) for (let y = 0; y < 3; y++) jobs.push(job(jobs.length, { width: x, prompt: y }, { width: widths[x], prompt: words[y] }));
  const g = gridLayout(jobs);
  assert.deepEqual(g.xs, ["640", "768", "896"]);
  assert.deepEqual(g.ys, ["你好", "世界", "こんにちは"]);
  assert.equal(g.pages.length, 1);
  assert.equal(g.pages[0].cells.get("2,1").params.width, 896);
  assert.equal(g.pages[0].cells.get("2,1").params.prompt, "世界");
});

test("zipped axes step together and make one dimension; a third axis makes pages", () => {
  const jobs = [];
  for (let s = 0; s < 2; s++) for (let z = 0; z < 3; z++) for (let seed = 0; seed < 2; seed++) {
    jobs.push(job(jobs.length, { width: z, height: z, seed, steps: s }, { width: 512 + z, height: 512 - z, seed, steps: 10 + s }));
  }
  assert.deepEqual(dimensions(jobs), [["width", "height"], ["seed"], ["steps"]]);
  const g = gridLayout(jobs);
  assert.deepEqual(g.xs, ["512 / 512", "513 / 511", "514 / 510"]);
  assert.equal(g.pages.length, 2);
  assert.match(g.pages[1].label, /steps: 11/);
});

test("jobs without axes have no grid", () => {
  assert.equal(gridLayout([{ id: 1, idx: 0, params: {}, coords: { source: "prompts", index: 0 } }]), null);
});
