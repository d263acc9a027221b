// The "New batch" view (owned by the tab-new helper; this is the skeleton's placeholder).
import { h } from "./dom.js";

/** render(el, ctx, params) → optional cleanup; the contract every view of the tab follows. */
export function render(el, ctx) {
  el.replaceChildren(
    h("div", { class: "bg-toolbar" },
      h("button", { class: "bg-btn", onclick: () => ctx.navigate("list") }, "← ", ctx.t("batchgen.common.back")),
      h("span", { class: "bg-title" }, ctx.t("batchgen.list.newBatch"))),
    h("p", { class: "bg-muted" }, ctx.t("batchgen.common.comingSoon")));
}
