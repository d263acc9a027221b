// Small DOM helpers for the New batch view (no ComfyUI imports).

/** An element: h("div", {class: "x", onclick: fn, dataset: {...}}, child, "text", [more]). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A labelled form row with a slot for the problems of `key` (data-problems="key"). */
export function row(label, key, ...controls) {
  return h("div", { class: "bgnew-row", dataset: { field: key } },
    h("label", { class: "bgnew-label" }, label),
    h("div", { class: "bgnew-control" }, ...controls, h("div", { class: "bgnew-problems", dataset: { problems: key }, role: "alert" })));
}

/** A section with a title. */
export function section(title, ...children) {
  return h("section", { class: "bgnew-section" }, h("h3", { class: "bgnew-h" }, title), ...children);
}

/** Run fn at most once per `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
