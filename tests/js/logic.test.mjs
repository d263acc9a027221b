// Pure helpers of the tab: what the list and detail views show (run: node --test tests/js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { doneOf, etaSeconds, formatDuration, mergeBatchEvent, missedBefore, query, segments, failingNode, firstImage,
  visibleRange, pagesFor } from "../../web/js/tab/logic.js";
import { makeT, pickLocale, format } from "../../web/js/tab/i18n.js";

const counts = (c) => ({ pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, ...c });

test("a partial failure is visible in the bar: one segment per non-zero status, in a fixed order", () => {
  const segs = segments({ total: 10, counts: counts({ succeeded: 6, failed: 2, queued: 1, pending: 1 }) });
  assert.deepEqual(segs.map((s) => [s.status, s.count, s.percent]), [["succeeded", 6, 60], ["failed", 2, 20], ["queued", 1, 10]]);
});

test("the ETA follows the rate so far and is absent when it cannot be told", () => {
  const running = { status: "running", total: 40, started_at: 1000, counts: counts({ succeeded: 10 }) };
  assert.equal(etaSeconds(running, 1100), 300);  // 10 jobs in 100 s → 30 left take 300 s
  assert.equal(etaSeconds({ ...running, paused: true }, 1100), null);
  assert.equal(etaSeconds({ ...running, status: "succeeded" }, 1100), null);
  assert.equal(etaSeconds({ ...running, counts: counts({}) }, 1100), null);
});

test("durations read as people say them, in the chosen language", () => {
  const en = makeT({ en: { batchgen: { common: { sec: "{n} s", min: "{n} min", hour: "{h} h {m} min" } } } }, "en");
  assert.equal(formatDuration(42, en), "42 s");
  assert.equal(formatDuration(360, en), "6 min");
  assert.equal(formatDuration(3 * 3600 + 300, en), "3 h 5 min");
  assert.equal(formatDuration(null, en), "");
});

test("a batch event updates counts and recomputes done and progress, keeping what it does not carry", () => {
  const known = { id: "b", name: "x", template_id: "text-card", total: 4, created_at: 5, counts: counts({ pending: 4 }) };
  const merged = mergeBatchEvent(known, { seq: 9, id: "b", status: "running", total: 4, counts: counts({ succeeded: 1, failed: 1 }) });
  assert.equal(merged.template_id, "text-card");
  assert.equal(merged.done, 2);
  assert.equal(merged.progress, 0.5);
  assert.equal("seq" in merged, false);
  assert.equal(doneOf(merged), 2);
});

test("a gap in seq means missed events; the first event or the next one does not", () => {
  assert.equal(missedBefore(10, 11), false);
  assert.equal(missedBefore(10, 13), true);
  assert.equal(missedBefore(0, 50), false);
  assert.equal(missedBefore(10, undefined), false);
});

test("list queries drop empty filters and encode the search text", () => {
  assert.equal(query({ status: "", q: "绘本 a&b", limit: 50, offset: 0 }), "?q=%E7%BB%98%E6%9C%AC%20a%26b&limit=50&offset=0");
  assert.equal(query({}), "");
});

test("the failing node is named with its type and id", () => {
  assert.equal(failingNode({ node_type: "KSampler", node_id: "3", message: "x" }), "KSampler (#3)");
  assert.equal(failingNode({ node_id: "3" }), "#3");
  assert.equal(failingNode(null), "");
});

test("a job's first image output is found by kind or by file name", () => {
  assert.equal(firstImage({ outputs: [{ kind: "text", filename: "a.txt" }, { kind: "images", filename: "b.png" }] }).filename, "b.png");
  assert.equal(firstImage({ outputs: [{ filename: "c.webp" }] }).filename, "c.webp");
  assert.equal(firstImage({ outputs: [] }), null);
});

test("the virtual window covers the screen plus overscan, never past the ends", () => {
  assert.deepEqual(visibleRange(0, 400, 40, 10_000, 4), { first: 0, last: 14 });
  assert.deepEqual(visibleRange(40 * 9990, 400, 40, 10_000, 4), { first: 9986, last: 9999 });
  assert.deepEqual(visibleRange(0, 400, 40, 0), { first: 0, last: -1 });
  assert.deepEqual(pagesFor(150, 450, 200), [0, 1, 2]);
  assert.deepEqual(pagesFor(5, 4, 200), []);
});

test("text follows the locale, falls back to English, then to the key; zh-CN finds zh", () => {
  const all = { en: { batchgen: { list: { title: "Batches", range: "{first}–{last} of {total}" } } },
    zh: { batchgen: { list: { title: "批次" } } } };
  assert.equal(makeT(all, "zh")("batchgen.list.title"), "批次");
  assert.equal(makeT(all, "zh-CN")("batchgen.list.title"), "批次");
  assert.equal(makeT(all, "zh")("batchgen.list.range", { first: 1, last: 2, total: 3 }), "1–2 of 3");
  assert.equal(makeT(all, "fr")("batchgen.missing"), "batchgen.missing");
  assert.deepEqual(pickLocale(null, "en"), {});
  assert.equal(format("{a} {b}", { a: 1 }), "1 {b}");
});
