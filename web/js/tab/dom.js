// Tiny DOM helpers shared by the tab's views (no ComfyUI imports).

/** Create an element: h("div", {class: "x", onclick: fn, dataset: {id: 1}}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** A message box for a failure inside the tab (never thrown at the editor). */
export function errorBox(ctx, err, retry) {
  const code = err?.code ? ` (${err.code})` : "";
  return h("div", { class: "bgn-error", role: "alert" },
    h("div", { class: "bgn-error-title" }, ctx.t("batchgen.common.error")),
    h("div", { class: "bgn-error-text" }, `${err?.message || err}${code}`),
    retry ? h("button", { class: "bgn-btn", onclick: retry }, ctx.t("batchgen.common.retry")) : null);
}

/** Report an unexpected error in the console as a warning (an error would count as a broken editor). */
export function warn(where, err) {
  console.warn(`batchgen: ${where}`, err);
}

let styled = false;

/** Load the tab's stylesheet once (ComfyUI does not load extension CSS by itself). */
export function ensureStyles() {
  if (styled) return;
  styled = true;
  for (const name of ["tab", "settings"]) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL(`../../css/${name}.css`, import.meta.url).href;
    link.dataset.batchgen = name;
    document.head.append(link);
  }
}
