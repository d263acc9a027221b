// The batch detail view (filled in after the skeleton).
import { h } from "./dom.js";

/** render(el, ctx, {id}) → cleanup. */
export function render(el, ctx, params) {
  el.replaceChildren(
    h("div", { class: "bg-toolbar" },
      h("button", { class: "bg-btn", onclick: () => ctx.navigate("list") }, "← ", ctx.t("batchgen.common.back")),
      h("span", { class: "bg-title" }, params.id || "")));
}
