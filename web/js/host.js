// The only module that touches ComfyUI's frontend objects (app, api). Everything here is feature-detected:
// the same code runs on frontends 1.35.x, 1.49.x and 1.58.x.
// Depth-relative imports: this file is served at /extensions/<folder>/js/host.js.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

export { app, api };

/** Our REST prefix; paths given to request() are relative to it. */
export const PREFIX = "/batchgen/v1";

const SEVERITIES = new Set(["info", "success", "warn", "error"]);

/** An error answer of our API ({error, message, details}) or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || (status ? `http_${status}` : "network_error");
    this.details = details || {};
  }
}

/** Show a toast; add() with info|success|warn|error is the one call all three frontends share. */
export function toast(severity, summary, detail, life = 6000) {
  const t = app.extensionManager?.toast;
  if (typeof t?.add !== "function") return;
  try {
    t.add({ severity: SEVERITIES.has(severity) ? severity : "info", summary, detail, life });
  } catch (err) {
    console.warn("batchgen: toast failed", err);
  }
}

/** Call our API: parsed JSON, or throws ApiError {status, code, message, details}. */
export async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined || (method !== "GET" && method !== "DELETE")) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  return parse(() => api.fetchApi(PREFIX + path, init));
}

/** Upload one file (multipart POST /uploads) → the Upload record. */
export async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return parse(() => api.fetchApi(PREFIX + "/uploads", { method: "POST", body: form }));
}

async function parse(send) {
  let res;
  try {
    res = await send();
  } catch (err) {
    throw new ApiError(0, "network_error", String(err?.message || err));
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) throw new ApiError(res.status, data?.error, data?.message || text.slice(0, 200), data?.details);
  return data;
}

/** URL of one of our GET routes (for <img src>, download links), with ComfyUI's /api prefix and base path. */
export function apiURL(path) {
  return api.apiURL(PREFIX + path);
}

/** URL of a ComfyUI route outside our prefix (e.g. /view). */
export function comfyURL(path) {
  return api.apiURL(path);
}

// One real listener per websocket event type, registered once: ComfyUI drops custom types that were not
// registered before they arrive, and never forgets a registration, so subscribers are kept in our own sets.
const subscribers = new Map();

/** Subscribe to a ComfyUI websocket event (custom or built-in such as reconnected); returns an unsubscribe fn. */
export function onSocket(type, fn) {
  let set = subscribers.get(type);
  if (!set) {
    set = new Set();
    subscribers.set(type, set);
    api.addEventListener(type, (event) => {
      for (const sub of [...set]) {
        try {
          const result = sub(event.detail);
          if (result && typeof result.catch === "function") result.catch((err) => console.warn(`batchgen: ${type} listener failed`, err));
        } catch (err) {
          console.warn(`batchgen: ${type} listener failed`, err);
        }
      }
    });
  }
  set.add(fn);
  return () => set.delete(fn);
}

/** A ComfyUI setting's value (extension manager, else the legacy settings UI). */
export function setting(id) {
  try {
    const s = app.extensionManager?.setting;
    if (typeof s?.get === "function") return s.get(id);
    return app.ui?.settings?.getSettingValue?.(id);
  } catch {
    return undefined;
  }
}

/** Change a ComfyUI setting (stored per user on the server). */
export async function setSetting(id, value) {
  const s = app.extensionManager?.setting;
  if (typeof s?.set === "function") return s.set(id, value);
  return app.ui?.settings?.setSettingValueAsync?.(id, value);
}

/** Call fn(value, oldValue) each time ComfyUI changes a setting (the settings dialog's `<id>.change` event, which every
 * tested frontend dispatches for every setting); returns an unsubscribe function, or null when there is no such event. */
export function onSettingChange(id, fn) {
  const target = app.ui?.settings;
  if (typeof target?.addEventListener !== "function") return null;
  const listener = (event) => {
    try {
      fn(event?.detail?.value, event?.detail?.oldValue);
    } catch (err) {
      console.warn(`batchgen: ${id} change listener failed`, err);
    }
  };
  target.addEventListener(`${id}.change`, listener);
  return () => target.removeEventListener(`${id}.change`, listener);
}

/** The UI language ComfyUI shows (its Comfy.Locale setting), e.g. "en" or "zh". */
export function locale() {
  return setting("Comfy.Locale") || navigator.language?.split("-")[0] || "en";
}

/** The merged custom-node translations ComfyUI serves at /i18n ({en: {...}, zh: {...}}). */
export async function translations() {
  const res = await api.fetchApi("/i18n");
  if (!res.ok) throw new ApiError(res.status, "i18n_unavailable", `GET /i18n answered ${res.status}`);
  return res.json();
}

function sidebar() {
  const em = app.extensionManager;
  if (typeof em?.registerSidebarTab === "function") return em;
  if (typeof em?.sidebarTab?.registerSidebarTab === "function") return em.sidebarTab;
  return null;
}

/** Register a custom sidebar tab; false when this frontend has no sidebar tab API. */
export function registerTab(def) {
  const target = sidebar();
  if (!target) return false;
  target.registerSidebarTab({ type: "custom", ...def });
  return true;
}

/** Set the badge on our sidebar tab's icon ("" hides it); goes through the store so the rail re-renders. */
export function setTabBadge(id, text) {
  const em = app.extensionManager;
  const tabs = em?.getSidebarTabs?.() ?? em?.sidebarTab?.sidebarTabs;
  const tab = Array.isArray(tabs) ? tabs.find((t) => t.id === id) : null;
  if (tab && tab.iconBadge !== text) tab.iconBadge = text;
}

/** Open the sidebar on our tab (no-op when it is already showing). */
export function showTab(id) {
  const em = app.extensionManager;
  const active = em?.sidebarTab?.activeSidebarTabId ?? em?.activeSidebarTabId;
  if (active === id) return;
  const command = em?.command;
  if (typeof command?.execute === "function") command.execute(`Workspace.ToggleSidebarTab.${id}`);
}

/** Register the extension (name, settings, commands…) with ComfyUI. */
export function registerExtension(def) {
  app.registerExtension(def);
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
const ACTION_BAR_CLASS = "batchgen-run-as-batch";  // on our action-bar button (the frontends pass `class` through)

/** Register the "Run as batch" command with a menu entry and an action-bar button (where this frontend has them). */
export function registerCanvasCommands({ run, label, tooltip }) {
  const extension = {
    name: "batchgen.canvas",
    commands: [{ id: RUN_AS_BATCH, label, tooltip, icon: "pi pi-images", function: () => run() }],
    menuCommands: [{ path: ["Extensions", "BatchGen"], commands: [RUN_AS_BATCH] }],
    actionBarButtons: [{ icon: "pi pi-images", label, tooltip, class: ACTION_BAR_CLASS, onClick: () => run() }],
  };
  app.registerExtension(extension);
}

/** Relabel the action-bar button in the UI language (the frontend translates commands, not these buttons). */
export function relabelActionBar(label, tooltip) {
  // The registered copy is what the bar renders from, but the frontends keep extensions unreactive (markRaw), so
  // a button on screen keeps its text until the bar renders again: its label and name are set here as well.
  const ext = (Array.isArray(app.extensions) ? app.extensions : []).find((e) => e?.name === "batchgen.canvas");
  const button = ext?.actionBarButtons?.[0];
  if (button) Object.assign(button, { label, tooltip });
  for (const el of document.querySelectorAll(`button.${ACTION_BAR_CLASS}`)) {
    el.setAttribute("aria-label", tooltip || label);
    const text = el.querySelector("span");
    if (text && text.textContent !== label) text.textContent = label;
  }
}
