// Which form field a problem belongs to (preview problems and 4xx error bodies) — pure, no ComfyUI imports.

const BY_CODE = {
  missing_template: "template", invalid_template: "template", template_not_found: "template", invalid_workflow: "template",
  invalid_binding: "template", unbound_parameter: "template", workflow_invalid: "template", preflight_failed: "template",
  invalid_list_node: "template", list_nodes_conflict: "template", invalid_editor_workflow: "template",
  invalid_template_id: "save", template_exists: "save", no_user_dir: "save", template_not_saved: "save",
  invalid_name: "name",
  invalid_prompts: "prompts", invalid_prompt_text: "prompts",
  invalid_table: "table", invalid_table_column: "table", invalid_table_value: "table", table_too_large: "table",
  invalid_images: "images", image_not_found: "images", image_folder_not_found: "images", no_input_dir: "images",
  invalid_wildcards: "wildcards", invalid_wildcard: "wildcards", wildcard_not_found: "wildcards",
  invalid_axes: "axes", invalid_matrix: "axes",
  invalid_repeat: "repeat", invalid_seed: "seed", invalid_priority: "priority", invalid_max_attempts: "general",
  too_many_jobs: "general", empty_batch: "general",
};

// The form's top-level field for a request path such as "axes[0].range" or "wildcards.count".
const PATH_FIELDS = ["template", "name", "prompts", "table", "images", "wildcards", "axes", "matrix", "repeat", "seed", "priority", "params"];

function fromPath(path, params) {
  const head = String(path).split(/[.[]/)[0];
  if (head === "params") {
    const name = String(path).slice("params.".length).split(/[.[]/)[0];
    return params.has(name) ? `params.${name}` : "general";
  }
  if (head === "matrix") return "axes";
  return PATH_FIELDS.includes(head) ? head : null;
}

/** The field key ("prompts", "params.width", "table", ..., or "general") a problem is shown next to. */
export function problemField(problem, paramNames = []) {
  const params = new Set(paramNames);
  const code = problem?.error ?? problem?.code;
  const d = problem?.details || {};
  if (code === "unknown_field" && d.field) return fromPath(d.field, params) ?? "general";
  if ((code === "upload_not_found" || code === "wrong_upload_kind") && d.field) return fromPath(d.field, params) ?? "general";
  if (code === "value_too_long" || code === "invalid_param_value") {
    if (d.column !== undefined || d.row !== undefined) return "table";
    if (d.axis !== undefined) return "axes";
    if (d.param === "prompt") return "prompts";
    if (d.param === "seed") return "seed";
    if (d.param && params.has(d.param)) return `params.${d.param}`;
    return "general";
  }
  if (BY_CODE[code]) return BY_CODE[code];
  if (d.field) return fromPath(d.field, params) ?? "general";
  return "general";
}

/** {field: [problem, ...]} for a list of problems. */
export function groupProblems(problems, paramNames = []) {
  const out = {};
  for (const p of problems || []) (out[problemField(p, paramNames)] ??= []).push(p);
  return out;
}

/** A problem from a thrown ApiError {status, code, message, details} (or any error) in the preview's shape. */
export function problemOf(err) {
  if (err && typeof err === "object" && (err.code || err.error)) {
    return { status: err.status ?? 0, error: err.code ?? err.error, message: err.message ?? String(err), details: err.details ?? null };
  }
  return { status: 0, error: "network", message: String(err?.message ?? err), details: null };
}
