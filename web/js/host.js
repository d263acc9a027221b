// The only module that touches ComfyUI's frontend objects (app, api).
// Depth-relative imports: this file is served at /extensions/<folder>/js/host.js.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

export { app, api };

/** Show a toast through the extension manager (present on every supported frontend). */
export function toast(severity, summary, detail, life = 6000) {
  app.extensionManager?.toast?.add({ severity, summary, detail, life });
}

// ---- canvas (tab-new) ----
// The editor's graph for the BatchGen tab: API-format conversion, loading workflows, node specs, and the
// "Run as batch" command. Every frontend API is feature-detected (1.35.x to 1.58.x).

/** The canvas workflow as {workflow (editor format), output (API format)}, converted by the frontend itself. */
export async function graphToPrompt() {
  return await app.graphToPrompt();
}

/** The graph the editor shows now (after loadWorkflow, the one just loaded). */
export function currentGraph() {
  return app.canvas?.graph ?? app.graph;
}

/** Load an editor-format workflow (newer frontends open it in a new editor tab named `name`). */
export async function loadWorkflow(uiJson, name = null) {
  await app.loadGraphData(uiJson, true, true, name);
}

/** Load an API-format workflow when this frontend can (app.loadApiJson); false when it cannot. */
export async function loadApiWorkflow(apiJson, name = "batchgen-job") {
  if (typeof app.loadApiJson !== "function") return false;
  await app.loadApiJson(apiJson, name);
  return true;
}

let nodeDefs = null;
/** ComfyUI's node specs (/object_info), fetched once per page. */
export async function objectInfo() {
  nodeDefs ??= (typeof api.getNodeDefs === "function" ? api.getNodeDefs() : api.fetchApi("/object_info").then((r) => r.json()))
    .catch((err) => { nodeDefs = null; throw err; });
  return nodeDefs;
}

export const RUN_AS_BATCH = "BatchGen.RunAsBatch";

/** Register the "Run as batch" command with a menu entry and an action-bar button (where this frontend has them). */
export function registerCanvasCommands({ run, label, tooltip }) {
  app.registerExtension({
    name: "batchgen.canvas",
    commands: [{ id: RUN_AS_BATCH, label, tooltip, icon: "pi pi-images", function: () => run() }],
    menuCommands: [{ path: ["Extensions", "BatchGen"], commands: [RUN_AS_BATCH] }],
    actionBarButtons: [{ icon: "pi pi-images", label, tooltip, onClick: () => run() }],
  });
}
