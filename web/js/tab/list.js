// The batch list view (filled in after the skeleton).
import { h } from "./dom.js";

/** render(el, ctx, params) → cleanup. */
export function render(el, ctx) {
  el.replaceChildren(
    h("div", { class: "bg-toolbar" },
      h("span", { class: "bg-title" }, ctx.t("batchgen.list.title")),
      h("button", { class: "bg-btn bg-primary", onclick: () => ctx.navigate("new") }, ctx.t("batchgen.list.newBatch"))));
}
