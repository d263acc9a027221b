// The tab ↔ canvas bridge: open one job on the canvas, and "Run as batch" for the canvas workflow.
// ComfyUI is reached only through ctx.host (host.js's canvas block).
import { applyToGraph, fillApiGraph, slotValues } from "./new/canvas_values.js";
import { hasSourceNodes } from "./new/fields.js";
import { recallCanvasBatch } from "./new/canvas_memory.js";

function tr(ctx, key, vars) {
  return ctx.t(`batchgen.canvas.${key}`, vars);
}

/** The browser's localStorage, or null where it is not available (private modes, tests). */
export function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** Load one job's workflow with its values into the editor (editor format when the template has it, else the API graph). */
export async function openJobOnCanvas(ctx, job) {
  const { host } = ctx;
  try {
    const batch = await host.request("GET", `/batches/${job.batch_id}`);
    // A batch of the canvas workflow that was not saved as a template: its editor graph is kept in this browser.
    const template = batch.template_id ? await host.request("GET", `/templates/${encodeURIComponent(batch.template_id)}`)
      : recallCanvasBatch(storage(), batch.id);
    if (!template) {
      host.toast("warn", tr(ctx, "open_title"), tr(ctx, "inline_template"), 8000);
      return false;
    }
    const values = slotValues(template.parameters, job);
    const name = `${batch.name} #${job.idx + 1}`;
    if (template.editor_workflow) {
      await host.loadWorkflow(JSON.parse(JSON.stringify(template.editor_workflow)), name);
      const { missing } = applyToGraph(host.currentGraph(), values);
      if (missing.length) host.toast("warn", tr(ctx, "open_title"), tr(ctx, "missing_widgets", { slots: missing.join(", ") }), 8000);
    } else if (!(await host.loadApiWorkflow(fillApiGraph(template.workflow, values), name))) {
      host.toast("error", tr(ctx, "open_title"), tr(ctx, "no_loader"), 8000);
      return false;
    }
    host.toast("success", tr(ctx, "open_title"), tr(ctx, "opened", { n: job.idx + 1, name: batch.name }), 3000);
    return true;
  } catch (err) {
    host.toast("error", tr(ctx, "open_title"), String(err?.message ?? err), 8000);
    return false;
  }
}

/** "Run as batch": the canvas workflow, when it has BatchGen source nodes, opens in the New batch view (the tab opens). */
export async function runCanvasAsBatch(ctx, showTab = null) {
  const { host } = ctx;
  let prompt;
  try {
    prompt = await host.graphToPrompt();
  } catch (err) {
    host.toast("error", tr(ctx, "run_as_batch"), String(err?.message ?? err), 8000);
    return false;
  }
  if (!hasSourceNodes(prompt?.output)) {
    host.toast("info", tr(ctx, "run_as_batch"), tr(ctx, "no_sources"), 8000);
    return false;
  }
  ctx.navigate("new", { preset: "canvas" });
  showTab?.();
  return true;
}

let installed = null;

/** Register the "Run as batch" command, menu entry and action-bar button once, for the tab's ctx. */
export function installCanvasCommands(ctx, showTab) {
  if (installed) return;
  installed = ctx;
  // Registered at startup, before the tab's translations load: the frontend translates command labels itself
  // (locales/<lang>/commands.json); these English texts are the fallback it shows without one.
  ctx.host.registerCanvasCommands({
    run: () => runCanvasAsBatch(ctx, showTab),
    label: "Run as batch",
    tooltip: "Make a batch from this workflow in the BatchGen tab",
  });
}

/** Label the action-bar button in the UI language of t (the frontend translates commands itself, not these buttons);
 * called whenever the tab's messages load or Comfy.Locale changes. */
export function labelCanvasCommands(host, t) {
  const label = t("batchgen.canvas.run_as_batch");
  if (label === "batchgen.canvas.run_as_batch") return;  // no messages (GET /i18n failed): the English label stays
  host.relabelActionBar(label, t("batchgen.canvas.run_as_batch_tooltip"));
}

/** The ctx the commands were installed with (null before). */
export function installedCtx() {
  return installed;
}
