// Parameter fields from a template's bindings and ComfyUI's node specs (/object_info) — pure, no ComfyUI imports.

export const INPUT_NODES = new Set(["BatchGenInputText", "BatchGenInputInt", "BatchGenInputFloat", "BatchGenInputImage"]);
export const SOURCE_NODES = new Set([...INPUT_NODES, "BatchGenPromptList", "BatchGenSeedList", "BatchGenPromptsFromFile"]);

// Parameters the form has its own control for (prompts textarea, seed policy).
export const OWN_CONTROLS = new Set(["prompt", "seed"]);

function isLink(v) {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && Number.isInteger(v[1]);
}

/** The node input a slot finally reaches: a BatchGen Input node's value goes where its output is linked. */
export function targetOf(slot, workflow) {
  const [nodeId, ...rest] = String(slot).split(".");
  const input = rest.join(".");
  const node = workflow?.[nodeId];
  if (!node) return null;
  if (!INPUT_NODES.has(node.class_type)) return { classType: node.class_type, input };
  for (const other of Object.values(workflow)) {
    for (const [name, value] of Object.entries(other.inputs || {})) {
      if (isLink(value) && value[0] === nodeId) return { classType: other.class_type, input: name };
    }
  }
  return { classType: node.class_type, input };
}

/** The spec ComfyUI publishes for one input: [type | choices, options] or null. */
export function inputSpec(objectInfo, target) {
  const def = target && objectInfo?.[target.classType];
  if (!def) return null;
  const inp = def.input || {};
  return inp.required?.[target.input] ?? inp.optional?.[target.input] ?? null;
}

/** A form field for one template parameter: {name, type, default, kind, min, max, step, choices, multiline, source, target}. */
export function fieldSpec(param, workflow, objectInfo) {
  const target = targetOf(param.slots?.[0], workflow);
  const spec = inputSpec(objectInfo, target);
  const field = { name: param.name, type: param.type, default: param.default, source: param.source, kind: "text",
                  target: target ? `${target.classType}.${target.input}` : null };
  const [kind, opts = {}] = Array.isArray(spec) ? spec : [];
  const choices = Array.isArray(kind) ? kind : kind === "COMBO" && Array.isArray(opts.options) ? opts.options : null;
  if (choices) return { ...field, kind: "combo", choices: choices.map(String) };
  if (param.type === "int" || param.type === "float") {
    const num = { ...field, kind: "number", step: param.type === "int" ? 1 : "any" };
    if (Number.isFinite(opts.min)) num.min = opts.min;
    if (Number.isFinite(opts.max)) num.max = opts.max;
    if (param.type === "float" && Number.isFinite(opts.step)) num.step = opts.step;
    return num;
  }
  if (param.type === "bool") return { ...field, kind: "bool" };
  if (param.type === "text" && opts.multiline) return { ...field, kind: "textarea" };
  return field;
}

/** The fields of a template's parameters, in template order (prompt and seed have their own controls). */
export function fieldSpecs(parameters, workflow, objectInfo) {
  return (parameters || []).filter((p) => !OWN_CONTROLS.has(p.name)).map((p) => fieldSpec(p, workflow, objectInfo));
}

/** A typed value from a field's text, {value} or {error}; empty text means "use the default" ({value: undefined}). */
export function fieldValue(field, raw) {
  if (raw === undefined || raw === null || raw === "") return { value: undefined };
  if (field.kind === "bool") return { value: raw === true || raw === "true" };
  if (field.type === "int") {
    if (!/^[-+]?\d+$/.test(String(raw).trim())) return { error: "must be a whole number" };
    const n = Number(raw);
    return outOfRange(field, n) ?? { value: n };
  }
  if (field.type === "float") {
    const n = Number(String(raw).trim());
    if (!Number.isFinite(n) || String(raw).trim() === "") return { error: "must be a number" };
    return outOfRange(field, n) ?? { value: n };
  }
  if (field.kind === "combo" && field.choices && !field.choices.includes(String(raw))) return { error: "is not one of the choices" };
  return { value: String(raw) };
}

function outOfRange(field, n) {
  if (field.min !== undefined && n < field.min) return { error: `must be at least ${field.min}` };
  if (field.max !== undefined && n > field.max) return { error: `must be at most ${field.max}` };
  return null;
}

/** True when an API graph has a BatchGen source node (the "Run as batch" command applies to it). */
export function hasSourceNodes(apiGraph) {
  return Object.values(apiGraph || {}).some((n) => SOURCE_NODES.has(n?.class_type));
}
