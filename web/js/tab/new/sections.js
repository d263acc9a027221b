// The New batch form's sections, built from the view's state (no ComfyUI imports; the view passes its handlers).
import { h, row, section } from "./dom.js";
import { CANVAS, SEED_POLICIES, WILDCARD_MODES } from "./form.js";
import { gridShape, newAxis } from "./axes.js";

const SOURCE_KEYS = { input_node: "source_input_node", auto: "source_auto", explicit: "source_explicit" };

function bind(input, get, set, onChange) {
  input.value = get() ?? "";
  input.addEventListener("input", () => { set(input.value); onChange(); });
  return input;
}

/** Template picker (with "current workflow"), and for the canvas: its parameters and "save as template". */
export function templateSection(v) {
  const { t, form } = v;
  const select = h("select", { dataset: { testid: "template" }, onchange: (e) => v.selectTemplate(e.target.value) },
    h("option", { value: "", disabled: true }, t("choose_template")),
    h("option", { value: CANVAS }, t("current_workflow")),
    (v.st.templates || []).map((tp) => h("option", { value: tp.id, title: `${tp.id}: ${tp.description}` }, tp.name || tp.id)));
  select.value = form.template || "";
  const parts = [row(t("template"), "template", select)];
  if (form.template === CANVAS) {
    const params = v.parameters() || [];
    parts.push(h("div", { class: "bgnew-inline" },
      h("button", { dataset: { testid: "reload-canvas" }, onclick: () => v.selectTemplate(CANVAS) }, t("reload_canvas")),
      h("label", { class: "bgnew-inline" }, h("input", { type: "checkbox", checked: form.autodetect !== false, dataset: { testid: "autodetect" },
        onchange: (e) => { form.autodetect = e.target.checked; v.refresh(); } }), t("autodetect"))));
    parts.push(h("div", { class: "bgnew-hint" }, t("detected")));
    parts.push(h("div", { class: "bgnew-params", dataset: { testid: "detected" } }, params.length
      ? params.map((p) => h("span", { class: "bgnew-badge", title: p.slots.join(", ") }, `${p.name} · ${t(SOURCE_KEYS[p.source] || "source_explicit")}`))
      : h("span", { class: "bgnew-hint" }, t("params_none"))));
    const name = h("input", { type: "text", placeholder: t("save_name"), dataset: { testid: "save-name" }, value: v.st.saveName || "" });
    name.addEventListener("input", () => { v.st.saveName = name.value; });
    parts.push(row(t("save_as"), "save", h("div", { class: "bgnew-inline" }, name,
      h("button", { dataset: { testid: "save-template" }, onclick: () => v.saveTemplate(name.value) }, t("save")))));
  }
  return section(t("template"), ...parts);
}

/** Name, prompts, wildcards, table and image set. */
export function rowsSection(v) {
  const { t, form } = v;
  const changed = () => v.changed();
  const prompts = bind(h("textarea", { rows: 6, placeholder: t("prompts_placeholder"), dataset: { testid: "prompts" } }),
    () => form.prompts, (x) => { form.prompts = x; }, changed);
  const mode = h("select", { dataset: { testid: "wildcards-mode" } }, WILDCARD_MODES.map((m) => h("option", { value: m }, t(`wc_${m}`))));
  mode.value = form.wildcards.mode;
  mode.addEventListener("change", () => { form.wildcards.mode = mode.value; v.refresh(); });
  const wcParts = [mode];
  if (form.wildcards.mode === "random") {
    wcParts.push(bind(h("input", { type: "number", min: 1, title: t("wc_count"), placeholder: t("wc_count"), dataset: { testid: "wildcards-count" } }),
      () => form.wildcards.count, (x) => { form.wildcards.count = x; }, changed));
    wcParts.push(bind(h("input", { type: "number", min: 0, title: t("wc_seed"), placeholder: t("wc_seed") }),
      () => form.wildcards.seed, (x) => { form.wildcards.seed = x; }, changed));
  }
  const name = bind(h("input", { type: "text", dataset: { testid: "name" }, maxlength: 200 }), () => form.name, (x) => { form.name = x; }, changed);
  return section(t("rows"),
    row(t("name"), "name", name),
    row(t("prompts"), "prompts", prompts, h("div", { class: "bgnew-hint", dataset: { testid: "prompts-count" } })),
    row(t("wildcards"), "wildcards", h("div", { class: "bgnew-inline" }, ...wcParts), h("div", { class: "bgnew-hint", dataset: { testid: "wildcards-count-live" } })),
    row(t("table"), "table", uploadControl(v, "table")),
    row(t("images"), "images", uploadControl(v, "images")));
}

function uploadControl(v, kind) {
  const { t, form } = v;
  const many = kind === "images";
  const input = h("input", { type: "file", multiple: many, style: "display:none", dataset: { testid: `${kind}-file` },
    accept: many ? "image/png,image/jpeg,image/webp" : ".csv,.tsv,.jsonl,.xlsx,.txt",
    onchange: (e) => { const files = [...e.target.files]; e.target.value = ""; if (files.length) v.upload(kind, files); } });
  const current = form[kind];
  const info = [];
  if (kind === "table" && current) info.push(h("span", { class: "bgnew-hint", dataset: { testid: "table-info" } },
    t("table_info", { name: current.name, rows: current.rows ?? "?", columns: (current.columns || []).join(", ") })));
  if (kind === "images" && current?.items?.length) {
    info.push(h("span", { class: "bgnew-hint", dataset: { testid: "images-info" } }, t("images_info", { n: current.items.length })));
    info.push(h("div", { class: "bgnew-thumbs" }, current.items.slice(0, 12).map((it) =>
      h("img", { src: v.inputImageUrl(it.image), alt: it.name, title: it.name, loading: "lazy", width: 48, height: 48 }))));
  }
  const imageParams = (v.parameters() || []).filter((p) => p.type === "image");
  if (kind === "images" && current && imageParams.length > 1) {
    const sel = h("select", {}, imageParams.map((p) => h("option", { value: p.name }, p.name)));
    sel.value = current.param || imageParams[0].name;
    sel.addEventListener("change", () => { current.param = sel.value; v.changed(); });
    info.push(sel);
  }
  return h("div", { class: "bgnew-control" },
    h("div", { class: "bgnew-inline" }, input,
      h("button", { dataset: { testid: `${kind}-choose` }, onclick: () => input.click(), disabled: v.st.uploading === kind },
        v.st.uploading === kind ? t("uploading") : t(many ? "images_choose" : "table_choose")),
      current ? h("button", { dataset: { testid: `${kind}-remove` }, onclick: () => { form[kind] = null; v.refresh(); } }, t("remove")) : null),
    ...info);
}

/** One field per template parameter (ranges and choices from the node specs). */
export function paramsSection(v) {
  const { t, form } = v;
  const fields = v.fields();
  const rows = fields.map((f) => {
    let input;
    if (f.kind === "combo") {
      input = h("select", { dataset: { testid: `param-${f.name}` } }, h("option", { value: "" }, t("default_value", { v: f.default ?? "" })),
        f.choices.map((c) => h("option", { value: c }, c)));
    } else if (f.kind === "textarea") {
      input = h("textarea", { rows: 2, placeholder: String(f.default ?? ""), dataset: { testid: `param-${f.name}` } });
    } else if (f.kind === "bool") {
      input = h("select", { dataset: { testid: `param-${f.name}` } }, h("option", { value: "" }, t("default_value", { v: f.default })),
        h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    } else {
      input = h("input", { type: f.kind === "number" ? "number" : "text", placeholder: String(f.default ?? ""), min: f.min, max: f.max, step: f.step,
        dataset: { testid: `param-${f.name}` } });
    }
    bind(input, () => form.values[f.name], (x) => { form.values[f.name] = x; }, () => v.changed());
    const range = f.kind === "number" && (f.min !== undefined || f.max !== undefined) ? `${f.min ?? "…"} – ${f.max ?? "…"}` : null;
    return row(f.name, `params.${f.name}`, input, range || f.target ? h("div", { class: "bgnew-hint" }, [range, f.target].filter(Boolean).join(" · ")) : null);
  });
  return section(t("params"), rows.length ? rows : h("div", { class: "bgnew-hint" }, t("params_none")));
}

/** "3 × 3 = 9 cells" for the axes with a parameter ("" without any). */
export function gridText(v) {
  const types = Object.fromEntries((v.parameters() || []).map((p) => [p.name, p.type]));
  const shape = gridShape(v.form.axes, (p) => types[p] ?? "text");
  return shape.dims.length ? v.t("grid_shape", { dims: shape.dims.map((d) => d ?? "?").join(" × "), cells: shape.cells ?? "?" }) : "";
}

/** The axes builder: rows of parameter, values or range, labels. */
export function axesSection(v) {
  const { t, form } = v;
  const names = (v.parameters() || []).map((p) => p.name);
  const rows = form.axes.map((axis, i) => {
    const param = h("select", { dataset: { testid: `axis-param-${i}` } }, h("option", { value: "" }, "—"), names.map((n) => h("option", { value: n }, n)));
    param.value = axis.param;
    param.addEventListener("change", () => { axis.param = param.value; v.changed(); });
    const mode = h("select", { dataset: { testid: `axis-mode-${i}` } }, h("option", { value: "values" }, t("axis_values")), h("option", { value: "range" }, t("axis_range")));
    mode.value = axis.mode;
    mode.addEventListener("change", () => { axis.mode = mode.value; v.refresh(); });
    const key = axis.mode === "range" ? "range" : "values";
    const vals = bind(h("input", { type: "text", placeholder: t(`axis_${key}_ph`), dataset: { testid: `axis-values-${i}` } }),
      () => axis[key], (x) => { axis[key] = x; }, () => v.changed());
    const remove = h("button", { title: t("remove"), dataset: { testid: `axis-remove-${i}` }, onclick: () => { form.axes.splice(i, 1); v.refresh(); } }, "✕");
    return h("div", { class: "bgnew-axis" }, param, mode, remove, vals);
  });
  return section(t("axes"), h("div", { class: "bgnew-row", dataset: { field: "axes" } }, h("div", { class: "bgnew-control", style: "grid-column: 1 / -1" },
    ...rows,
    h("div", { class: "bgnew-inline" },
      h("button", { dataset: { testid: "axis-add" }, onclick: () => { form.axes.push(newAxis()); v.refresh(); }, disabled: form.axes.length >= 16 }, t("axis_add")),
      h("span", { class: "bgnew-hint", dataset: { testid: "grid-shape" } }, gridText(v))),
    h("div", { class: "bgnew-problems", dataset: { problems: "axes" }, role: "alert" }))));
}

/** Repeat, seed policy, priority. */
export function optionsSection(v) {
  const { t, form } = v;
  const changed = () => v.changed();
  const policy = h("select", { dataset: { testid: "seed-policy" } }, SEED_POLICIES.map((p) => h("option", { value: p }, t(`seed_${p}`))));
  policy.value = form.seed.policy;
  policy.addEventListener("change", () => { form.seed.policy = policy.value; v.changed(); });
  const base = bind(h("input", { type: "number", min: 0, placeholder: t("seed_base"), dataset: { testid: "seed-base" } }),
    () => form.seed.base, (x) => { form.seed.base = x; }, changed);
  return section(t("options"),
    row(t("repeat"), "repeat", bind(h("input", { type: "number", min: 1, max: 10000, dataset: { testid: "repeat" } }),
      () => form.repeat, (x) => { form.repeat = x; }, changed)),
    row(t("seed"), "seed", h("div", { class: "bgnew-inline" }, policy, base)),
    row(t("priority"), "priority", bind(h("input", { type: "number", min: -1000, max: 1000, dataset: { testid: "priority" } }),
      () => form.priority, (x) => { form.priority = x; }, changed)));
}
