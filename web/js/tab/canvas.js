// Canvas integration (owned by the tab-new helper; this is the skeleton's placeholder).

/** Load one job's workflow, with its values, into the editor. */
export async function openJobOnCanvas(ctx, job) {
  ctx.host.toast("info", ctx.t("batchgen.detail.openOnCanvas"), ctx.t("batchgen.common.comingSoon") + ` (#${job?.id})`);
}

/** Batch the workflow that is on the canvas (opens the "new" view with it). */
export async function runCanvasAsBatch(ctx) {
  ctx.navigate("new", { source: "canvas" });
}
