// The grid view's layout: axis coordinates to cells, zipped axes as one dimension, further axes as pages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_GRID_JOBS, columnPeriod, dimensions, gridLayout, gridWindows } from "../../web/js/tab/gridview.js";

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

// A 40×30 grid (1,200 jobs) as the server numbers it: the first axis changes slowest.
function bigGrid(nx = 40, ny = 30) {
  const jobs = [];
  for (let x = 0; x < nx; x++) for (let y = 0; y < ny; y++) jobs.push(job(jobs.length, { cfg: x, seed: y }, { cfg: x + 1, seed: 100 + y }));
  return jobs;
}

test("a grid of more than 1,000 jobs is cut into windows of whole columns, the last one shorter", () => {
  const jobs = bigGrid();
  assert.equal(columnPeriod(jobs.slice(0, MAX_GRID_JOBS)), 30);
  assert.deepEqual(gridWindows(1200, 30), [{ start: 0, end: 990 }, { start: 990, end: 1200 }]);
  // A 10,000-job grid of 100×100: ten windows of ten columns, never more than 1,000 jobs each.
  const w = gridWindows(10_000, 100);
  assert.equal(w.length, 10);
  assert.ok(w.every((x) => x.end - x.start === 1000));
  // A column longer than a window (2 × 2,000): plain windows of 1,000 jobs.
  assert.deepEqual(gridWindows(4000, 2000).map((x) => x.end - x.start), [1000, 1000, 1000, 1000]);
  assert.deepEqual(gridWindows(0, 0), [{ start: 0, end: 0 }]);
});

test("the second window shows its own columns (34–40) with their labels, every row, no empty columns", () => {
  const jobs = bigGrid();
  const g = gridLayout(jobs.slice(990, 1200));
  assert.deepEqual(g.xs, ["34", "35", "36", "37", "38", "39", "40"]);
  assert.equal(g.ys.length, 30);
  assert.equal(g.ys[0], "100");
  assert.equal(g.pages.length, 1);
  assert.equal(g.pages[0].cells.size, 210);
  assert.equal(g.pages[0].cells.get("6,29").idx, 1199);
  assert.equal(g.caption, "");
});

test("an axis fixed in a whole window is a caption, not a dimension (it could not be told from a zipped twin)", () => {
  // 2 × 2 × 2,000: the first window has cfg 0 and steps 0 throughout; seed runs down the rows.
  const jobs = [];
  for (let x = 0; x < 2; x++) for (let s = 0; s < 2; s++) for (let y = 0; y < 2000 && jobs.length < 1000; y++) {
    jobs.push(job(jobs.length, { cfg: x, steps: s, seed: y }, { cfg: 7 + x, steps: 20 + s, seed: y }));
  }
  const g = gridLayout(jobs);
  assert.equal(g.caption, "cfg: 7 · steps: 20");
  assert.deepEqual(g.xs, [""]);
  assert.equal(g.ys.length, 1000);
  assert.equal(g.pages.length, 1);
});
