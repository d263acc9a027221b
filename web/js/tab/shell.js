// Mounts the BatchGen tab and routes between its views. The frontend calls render(el) every time the tab opens,
// with a new or reused element, and switching to another sidebar tab does not call destroy(): all state lives in
// state.js, render is idempotent, and work stops by itself once the element has left the page.
import * as list from "./list.js";
import * as detail from "./detail.js";
import * as newBatch from "./new_batch.js";
import { ensureStyles, errorBox, h, warn } from "./dom.js";

const VIEWS = { list, detail, new: newBatch };

/** The shell: render(el) for the tab, navigate(view, params) for the views; ctx = {host, t, navigate, state}. */
export function createShell({ host, state, t }) {
  let root = null;
  let body = null;
  let cleanup = null;
  const ctx = { host, state, t, navigate };

  function runCleanup() {
    const fn = cleanup;
    cleanup = null;
    if (typeof fn === "function") {
      try { fn(); } catch (err) { warn("view cleanup failed", err); }
    }
  }

  function show() {
    if (!body) return;
    runCleanup();
    const { view, params } = state.route;
    const mod = VIEWS[view] || VIEWS.list;
    const el = h("div", { class: `bgn-view bgn-view-${view}` });
    body.replaceChildren(el);
    try {
      const result = mod.render(el, ctx, params || {});
      if (typeof result === "function") cleanup = result;
      else if (result && typeof result.then === "function") {
        result.then((fn) => { if (typeof fn === "function") cleanup = fn; },
          (err) => { warn(`${view} view failed`, err); el.replaceChildren(errorBox(ctx, err, show)); });
      }
    } catch (err) {
      warn(`${view} view failed`, err);
      el.replaceChildren(errorBox(ctx, err, show));
    }
  }

  /** Switch the tab to a view ("list", "detail", "new") with its params; shows it at once when mounted. */
  function navigate(view, params = {}) {
    state.route = { view: VIEWS[view] ? view : "list", params };
    state.emit("route", state.route);
    show();
  }

  /** Build the tab inside el (the frontend's container); safe to call again with the same or a new element. */
  function render(el) {
    ensureStyles();
    runCleanup();
    root = h("div", { class: "batchgen-tab", lang: state.locale });
    body = h("div", { class: "bgn-body" });
    root.append(body);
    el.replaceChildren(root);
    // The frontend's container is a block of automatic height inside a full-height panel: let it fill the panel,
    // so the list and the virtual tables scroll inside the tab instead of growing it.
    el.style.height = "100%";
    show();
  }

  /** Re-render the current view (after a language change). */
  function refresh() {
    if (root) root.lang = state.locale;
    show();
  }

  /** The frontend closed the sidebar: stop the view's work. */
  function destroy() {
    runCleanup();
    root = body = null;
  }

  /** True while the tab's element is on the page. */
  function visible() {
    return !!root?.isConnected;
  }

  return { ctx, render, refresh, destroy, navigate, visible };
}
