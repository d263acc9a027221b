// The New batch form's state (plain data kept outside the DOM) and the request body it makes — pure, no ComfyUI imports.
import { axesRequest } from "./axes.js";
import { fieldValue } from "./fields.js";

export const CANVAS = "__canvas__"; // the template picker's "current workflow" entry
export const SEED_POLICIES = ["random", "increment", "fixed"];
export const WILDCARD_MODES = ["off", "combinatorial", "random"];

/** A fresh form. */
export function emptyForm() {
  return {
    template: "", name: "batch", values: {}, prompts: "", table: null, images: null,
    wildcards: { mode: "off", count: 1, seed: "" }, axes: [], repeat: "1",
    seed: { policy: "random", base: "" }, priority: "0", autodetect: true,
  };
}

/** The template a fresh form starts with: the "default template" setting when such a template exists, else none. */
export function initialTemplate(setting, templates) {
  const id = String(setting ?? "").trim();
  return id && (templates || []).some((t) => t.id === id) ? id : "";
}

/** The prompts textarea as a list: one prompt per non-empty line (trimmed). */
export function promptLines(text) {
  return String(text ?? "").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
}

function intOf(raw, field, { min, max }, problems, label) {
  const text = String(raw ?? "").trim();
  if (!/^[-+]?\d+$/.test(text)) {
    problems.push({ field, message: `${label} must be a whole number` });
    return undefined;
  }
  const n = Number(text);
  if (n < min || n > max) problems.push({ field, message: `${label} must be from ${min} to ${max}` });
  return n;
}

/**
 * The POST /batches body for the form: {body, problems}.
 * fields: the parameter fields shown (fieldSpecs); canvas: {output, workflow} of the editor when the template is CANVAS.
 * problems are {field, message} found before asking the server (Run stays disabled while there are any).
 */
export function requestBody(form, fields = [], canvas = null) {
  const problems = [];
  const body = {};
  if (form.template === CANVAS) {
    if (!canvas?.output || !Object.keys(canvas.output).length) problems.push({ field: "template", message: "the canvas has no workflow" });
    else body.template = { workflow: canvas.output, autodetect: form.autodetect !== false };
  } else if (form.template) {
    body.template = form.template;
  } else {
    problems.push({ field: "template", message: "choose a template" });
  }
  body.name = String(form.name ?? "").trim() || "batch";
  const prompts = promptLines(form.prompts);
  if (prompts.length) body.prompts = prompts;
  const params = {};
  for (const field of fields) {
    const got = fieldValue(field, form.values?.[field.name]);
    if (got.error) problems.push({ field: `params.${field.name}`, message: `${field.name} ${got.error}` });
    else if (got.value !== undefined) params[field.name] = got.value;
  }
  if (Object.keys(params).length) body.params = params;
  if (form.table?.upload) body.table = { upload: form.table.upload };
  if (form.images?.uploads?.length) {
    body.images = { upload: [...form.images.uploads] };
    if (form.images.param) body.images.param = form.images.param;
  }
  const wc = form.wildcards || {};
  if (wc.mode && wc.mode !== "off") {
    body.wildcards = { mode: wc.mode };
    if (wc.mode === "random") {
      body.wildcards.count = intOf(wc.count, "wildcards", { min: 1, max: 100000 }, problems, "wildcard count");
      if (String(wc.seed ?? "").trim() !== "") body.wildcards.seed = intOf(wc.seed, "wildcards", { min: 0, max: 2 ** 53 - 1 }, problems, "wildcard seed");
    }
  }
  const types = Object.fromEntries(fields.map((f) => [f.name, f.type]));
  const { axes, errors } = axesRequest(form.axes || [], (p) => types[p] ?? "text");
  for (const e of errors) problems.push({ field: "axes", message: `axis ${e.index + 1}: ${e.message}` });
  if (axes.length) body.axes = axes;
  const repeat = intOf(form.repeat ?? "1", "repeat", { min: 1, max: 10000 }, problems, "repeat");
  if (repeat !== undefined && repeat !== 1) body.repeat = repeat;
  const seed = form.seed || {};
  const base = String(seed.base ?? "").trim();
  if (seed.policy === "fixed" || seed.policy === "increment" || base !== "") {
    body.seed = { policy: seed.policy || "random" };
    if (base !== "") body.seed.base = intOf(base, "seed", { min: 0, max: Number.MAX_SAFE_INTEGER }, problems, "seed");
    else if (seed.policy === "fixed") problems.push({ field: "seed", message: "a fixed seed needs a value" });
  }
  const priority = intOf(form.priority ?? "0", "priority", { min: -1000, max: 1000 }, problems, "priority");
  if (priority !== undefined && priority !== 0) body.priority = priority;
  return { body, problems };
}

/** The POST /templates body that saves the canvas workflow (API graph and editor graph) under a name. */
export function saveTemplateBody(name, canvas, replace = false) {
  const clean = String(name ?? "").trim();
  const id = clean.toLowerCase().normalize("NFKD").replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
  const body = { name: clean, workflow: canvas.output, editor_workflow: canvas.workflow };
  // A name without Latin letters or digits (e.g. Chinese) still gets a valid, stable-looking id.
  body.id = id || `workflow-${Date.now().toString(36)}`;
  if (replace) body.replace = true;
  return body;
}

/** "about 6 min" style text for an ETA in seconds (null → null). */
export function etaText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return null;
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  const h = Math.floor(seconds / 3600);
  return `${h} h ${Math.round((seconds - h * 3600) / 60)} min`;
}
