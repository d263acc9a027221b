// The New batch form's pure logic: request body, problems → fields, axes, wildcard counts, parameter fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CANVAS, emptyForm, requestBody, saveTemplateBody, promptLines, etaText, initialTemplate } from "../../web/js/tab/new/form.js";
import { problemField, groupProblems, problemOf } from "../../web/js/tab/new/problems.js";
import { axesRequest, gridShape, rangeCount, newAxis, splitList } from "../../web/js/tab/new/axes.js";
import { countVariants, wildcardTotal } from "../../web/js/tab/new/wildcards.js";
import { fieldSpec, fieldSpecs, fieldValue, hasSourceNodes, targetOf } from "../../web/js/tab/new/fields.js";

const CARD = {
  "1": { class_type: "BatchGenInputText", inputs: { name: "prompt", value: "hi" } },
  "3": { class_type: "BatchGenInputInt", inputs: { name: "width", value: 768 } },
  "5": { class_type: "BatchGenTextCard", inputs: { text: ["1", 0], width: ["3", 0], font_size: 0, style: "plain" } },
  "6": { class_type: "SaveImage", inputs: { images: ["5", 0], filename_prefix: "x" } },
};
const INFO = { BatchGenTextCard: { input: { required: { text: ["STRING", { multiline: true }], width: ["INT", { min: 64, max: 4096, step: 8 }] },
                                           optional: { style: [["plain", "bold"], {}] } } } };
const FIELDS = [{ name: "width", type: "int", kind: "number", min: 64, max: 4096 }, { name: "style", type: "text", kind: "combo", choices: ["plain", "bold"] }];

test("a form with 20 prompt lines makes a 20-prompt body with only the fields the user set", () => {
  const form = { ...emptyForm(), template: "text-card", name: " cards ", prompts: Array.from({ length: 20 }, (_, i) => `card ${i}`).join("\n") + "\n\n" };
  form.values = { width: "512", style: "" };
  const { body, problems } = requestBody(form, FIELDS);
  assert.deepEqual(problems, []);
  assert.equal(body.template, "text-card");
  assert.equal(body.name, "cards");
  assert.equal(body.prompts.length, 20);
  assert.deepEqual(body.params, { width: 512 });
  assert.equal(body.repeat, undefined);
  assert.equal(body.seed, undefined);
  assert.equal(body.priority, undefined);
});

test("bad field values are problems on their own field, before the server is asked", () => {
  const form = { ...emptyForm(), template: "t", values: { width: "12", style: "neon" }, repeat: "0", priority: "x",
                 seed: { policy: "fixed", base: "" } };
  const { problems } = requestBody(form, FIELDS);
  const fields = problems.map((p) => p.field).sort();
  assert.deepEqual(fields, ["params.style", "params.width", "priority", "repeat", "seed"]);
  assert.match(problems.find((p) => p.field === "params.width").message, /at least 64/);
});

test("no template chosen, or an empty canvas, is a template problem", () => {
  assert.equal(requestBody(emptyForm(), []).problems[0].field, "template");
  assert.equal(requestBody({ ...emptyForm(), template: CANVAS }, [], { output: {} }).problems[0].field, "template");
});

test("the current workflow goes inline with its API graph; seeds, repeat, priority, uploads, wildcards and axes are sent", () => {
  const form = { ...emptyForm(), template: CANVAS, repeat: "2", priority: "5", seed: { policy: "increment", base: "100" },
                 table: { upload: "a".repeat(32) }, images: { uploads: ["b".repeat(32)] }, wildcards: { mode: "random", count: "3", seed: "7" },
                 axes: [{ ...newAxis("width"), values: "256, 512" }, { ...newAxis("style"), values: "plain|bold" }] };
  const { body, problems } = requestBody(form, FIELDS, { output: CARD, workflow: { nodes: [] } });
  assert.deepEqual(problems, []);
  assert.deepEqual(body.template, { workflow: CARD, autodetect: true });
  assert.deepEqual(body.seed, { policy: "increment", base: 100 });
  assert.equal(body.repeat, 2);
  assert.equal(body.priority, 5);
  assert.deepEqual(body.table, { upload: "a".repeat(32) });
  assert.deepEqual(body.images, { upload: ["b".repeat(32)] });
  assert.deepEqual(body.wildcards, { mode: "random", count: 3, seed: 7 });
  assert.deepEqual(body.axes, [{ param: "width", values: [256, 512] }, { param: "style", values: ["plain", "bold"] }]);
});

test("save as template keeps both graphs and makes an id even from a Chinese name", () => {
  const canvas = { output: CARD, workflow: { nodes: [{ id: 1 }] } };
  const a = saveTemplateBody("My Cards 2", canvas);
  assert.equal(a.id, "my-cards-2");
  assert.deepEqual(a.editor_workflow, canvas.workflow);
  assert.deepEqual(a.workflow, CARD);
  assert.match(saveTemplateBody("卡片", canvas).id, /^workflow-[a-z0-9]+$/);
  assert.equal(saveTemplateBody("x", canvas, true).replace, true);
});

test("problems land on the field they belong to", () => {
  const names = ["width", "style"];
  const f = (error, details) => problemField({ error, message: "", details }, names);
  assert.equal(f("invalid_table_value", { row: 3, column: "width", param: "width" }), "table");
  assert.equal(f("invalid_param_value", { param: "width", class_type: "BatchGenTextCard" }), "params.width");
  assert.equal(f("invalid_param_value", { param: "prompt" }), "prompts");
  assert.equal(f("invalid_param_value", { param: "nobody" }), "general");
  assert.equal(f("wildcard_not_found", {}), "wildcards");
  assert.equal(f("invalid_axes", { field: "axes[0].range" }), "axes");
  assert.equal(f("unknown_field", { field: "params.width" }), "params.width");
  assert.equal(f("unknown_field", { field: "repeat" }), "repeat");
  assert.equal(f("upload_not_found", { field: "images.upload[0]" }), "images");
  assert.equal(f("upload_not_found", { field: "table" }), "table");
  assert.equal(f("workflow_invalid", {}), "template");
  assert.equal(f("too_many_jobs", {}), "general");
  assert.equal(f("something_new", {}), "general");
  const grouped = groupProblems([{ error: "invalid_seed" }, { error: "invalid_repeat" }, { error: "invalid_seed" }]);
  assert.equal(grouped.seed.length, 2);
  assert.deepEqual(problemOf({ status: 400, code: "invalid_name", message: "m", details: { a: 1 } }),
                   { status: 400, error: "invalid_name", message: "m", details: { a: 1 } });
  assert.equal(problemOf(new TypeError("Failed to fetch")).error, "network");
});

test("axes: values and ranges, types, errors and the grid shape", () => {
  assert.deepEqual(splitList("a, b|c"), ["a, b", "c"]);
  assert.equal(rangeCount("1..10"), 10);
  assert.equal(rangeCount("0.5..2.0 step 0.5"), 4);
  assert.equal(rangeCount("10..1 step -3"), 4);
  assert.equal(rangeCount("1..10 step -1"), null);
  assert.equal(rangeCount("abc"), null);
  const types = (p) => ({ width: "int", cfg: "float" })[p] ?? "text";
  const rows = [{ ...newAxis("width"), values: "256,512,768" }, { ...newAxis("cfg"), mode: "range", range: "1..3" }, newAxis("")];
  assert.deepEqual(gridShape(rows, types), { dims: [3, 3], cells: 9 });
  const { axes, errors } = axesRequest(rows, types);
  assert.deepEqual(errors, []);
  assert.deepEqual(axes, [{ param: "width", values: [256, 512, 768] }, { param: "cfg", range: "1..3" }]);
  const bad = axesRequest([{ ...newAxis("width"), values: "1, wide" }, { ...newAxis("cfg"), mode: "range", range: "1..x" }], types);
  assert.equal(bad.errors.length, 2);
  assert.match(bad.errors[0].message, /'wide' is not an integer/);
});

test("wildcards: nested groups and weights are counted, escapes are literal, files are flagged, errors found", () => {
  assert.deepEqual(countVariants("a {red|blue} {cup|bowl|{tall|short} vase}"), { count: 8, files: false, error: null });
  assert.equal(countVariants("{2::a|b|c}").count, 3);
  assert.equal(countVariants("\\{not|a group\\}").count, 1);
  assert.equal(countVariants("a __colors__ cup").files, true);
  assert.match(countVariants("{a|b").error, /unclosed/);
  assert.match(countVariants("a}b").error, /unmatched/);
  assert.deepEqual(wildcardTotal(["{a|b}", "c"], "combinatorial"), { total: 3, exact: true, error: null });
  assert.deepEqual(wildcardTotal(["{a|b}", "c"], "random", 4), { total: 5, exact: true, error: null });
  assert.deepEqual(wildcardTotal(["{a|b}", "c"], "off"), { total: 2, exact: true, error: null });
  assert.equal(wildcardTotal(["__x__"], "combinatorial").exact, false);
});

test("parameter fields follow BatchGen Input nodes to the input they feed and use its range and choices", () => {
  assert.deepEqual(targetOf("3.value", CARD), { classType: "BatchGenTextCard", input: "width" });
  const width = fieldSpec({ name: "width", type: "int", default: 768, slots: ["3.value"], source: "input_node" }, CARD, INFO);
  assert.equal(width.kind, "number");
  assert.equal(width.min, 64);
  assert.equal(width.max, 4096);
  const style = fieldSpec({ name: "style", type: "text", default: "plain", slots: ["5.style"], source: "explicit" }, CARD, INFO);
  assert.deepEqual(style.choices, ["plain", "bold"]);
  const combo = fieldSpec({ name: "s", type: "text", slots: ["5.style"] }, CARD, { BatchGenTextCard: { input: { required: { style: ["COMBO", { options: ["a", "b"] }] } } } });
  assert.deepEqual(combo.choices, ["a", "b"]);
  const names = fieldSpecs([{ name: "prompt", type: "text", slots: ["1.value"] }, { name: "seed", type: "int", slots: ["x.seed"] },
                            { name: "width", type: "int", slots: ["3.value"] }], CARD, INFO).map((f) => f.name);
  assert.deepEqual(names, ["width"]);
  assert.deepEqual(fieldValue(width, "4097"), { error: "must be at most 4096" });
  assert.deepEqual(fieldValue(width, ""), { value: undefined });
  assert.deepEqual(fieldValue({ type: "float" }, "0.5"), { value: 0.5 });
  assert.equal(hasSourceNodes(CARD), true);
  assert.equal(hasSourceNodes({ "1": { class_type: "SaveImage", inputs: {} } }), false);
});

test("prompt lines and ETA text", () => {
  assert.deepEqual(promptLines(" a \r\n\n b "), ["a", "b"]);
  assert.equal(etaText(null), null);
  assert.equal(etaText(0.2), "1 s");
  assert.equal(etaText(390), "7 min");
  assert.equal(etaText(7500), "2 h 5 min");
});

import { previewColumns } from "../../web/js/tab/new/preview_panel.js";

test("the first rows' columns: parameters in order of appearance, the seed last", () => {
  assert.deepEqual(previewColumns([{ params: { prompt: "a", seed: 1 }, seed: 1 }, { params: { width: 5, prompt: "b" }, seed: 2 }]),
                   ["prompt", "width", "seed"]);
  assert.deepEqual(previewColumns([{ params: { prompt: "a" }, seed: null }]), ["prompt"]);
  assert.deepEqual(previewColumns([]), []);
});

test("a fresh form starts on the default-template setting only when that template exists", () => {
  const templates = [{ id: "text-card" }, { id: "sdxl" }];
  assert.equal(initialTemplate("sdxl", templates), "sdxl");
  assert.equal(initialTemplate(" text-card ", templates), "text-card");
  assert.equal(initialTemplate("gone", templates), "");
  assert.equal(initialTemplate("", templates), "");
  assert.equal(initialTemplate(undefined, null), "");
});
