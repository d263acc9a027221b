// comfyui-batchgen frontend entry: the BatchGen sidebar tab, its settings, and toasts when a batch finishes.
import * as host from "./host.js";
import { EVENT_BATCH, finishedToast } from "./events.js";
import { createState } from "./tab/state.js";
import { createShell } from "./tab/shell.js";
import { createLive } from "./tab/live.js";
import { makeT } from "./tab/i18n.js";
import { linkToast } from "./tab/toastlink.js";
import { ensureStyles } from "./tab/dom.js";
import { SETTINGS, NOTIFICATIONS, serverSettings } from "./tab/settings.js";
import { feedWindowControl } from "./tab/server/window.js";
import { remoteAccessControl } from "./tab/server/remote.js";
import { installCanvasCommands, labelCanvasCommands } from "./tab/canvas.js";

export const TAB_ID = "batchgen";

const state = createState();
let t = makeT(null, "en");
const shell = createShell({ host, state, t: (key, vars) => t(key, vars) });
const live = createLive({ host, state });
const lastStatus = new Map();

/** Show the tab on one batch (from a toast's link). */
function openBatch(id) {
  host.showTab(TAB_ID);
  shell.navigate("detail", { id });
}

// Custom websocket events are only dispatched to types registered before they arrive,
// so every listener is added at module load, not lazily.
host.onSocket(EVENT_BATCH, async (batch) => {
  if (state.messages && host.locale() !== state.locale) await loadMessages();  // the language changed while the tab was closed
  const message = finishedToast(batch, lastStatus.get(batch?.id), t, host.setting(NOTIFICATIONS) || "all");
  if (batch?.id) lastStatus.set(batch.id, batch.status);
  if (!message) return;
  host.toast(message.severity, message.summary, message.detail);
  linkToast(message.detail, t("batchgen.common.toast.open"), () => openBatch(message.batchId));
});
const ready = live.start().catch((err) => console.warn("batchgen: live state not started", err));

function badge() {
  host.setTabBadge(TAB_ID, state.running.size ? String(state.running.size) : "");
}
state.on("batch", badge);
state.on("running", badge);

async function loadMessages(lang = host.locale()) {
  state.locale = lang;
  if (!state.messages) {
    try {
      state.messages = await host.translations();
    } catch (err) {
      console.warn("batchgen: translations not loaded", err);
      state.messages = {};
    }
  }
  t = makeT(state.messages, state.locale);
  labelCanvasCommands(host, t);
}

// Comfy.Locale can change at any time: the tab and the action-bar button follow without a reload. The settings'
// change event says when; only a frontend without it gets a check every second, and only while the tab is on the page.
async function followLocale(lang) {
  await loadMessages(lang || host.locale());
  if (shell.visible()) shell.refresh();
}
let localeEvents = null;
function listenLocale() {
  localeEvents = host.onSettingChange("Comfy.Locale", (value) => {
    if (value !== state.locale) followLocale(value).catch((err) => console.warn("batchgen: language not switched", err));
  });
}
let localeTimer = null;
function watchLocale() {
  if (localeEvents || localeTimer) return;
  localeTimer = setInterval(() => {
    if (shell.visible() && host.locale() !== state.locale) followLocale().catch((err) => console.warn("batchgen: language not switched", err));
  }, 1000);
}

// The settings dialog calls these each time it shows them (after setup, so the translations are loaded).
const serverCtx = { request: host.request, t: (key, vars) => t(key, vars), locale: () => state.locale };
const SERVER_SETTINGS = serverSettings({
  feedWindow: () => feedWindowControl(serverCtx),
  remoteAccess: () => remoteAccessControl(serverCtx),
});

host.registerExtension({
  name: "batchgen.core",
  settings: [...SETTINGS, ...SERVER_SETTINGS],
  setup() {
    ensureStyles();
    listenLocale();
    const registered = host.registerTab({
      id: TAB_ID,
      icon: "pi pi-images",
      title: "BatchGen",
      tooltip: "BatchGen",
      iconBadge: "",
      render: (el) => {
        // The element may be reused or new; the shell clears it. Text needs the translations first.
        loadMessages().then(() => { shell.render(el); watchLocale(); },
          (err) => console.warn("batchgen: tab not rendered", err));
      },
      destroy: () => shell.destroy(),
    });
    if (!registered) console.warn("batchgen: this ComfyUI frontend has no sidebar tab API; the BatchGen tab is not shown");
    // Not awaited: the frontend waits for every extension's setup, and the editor should not wait for our requests.
    Promise.all([loadMessages(), ready]).then(badge, (err) => console.warn("batchgen: setup", err));
  },
});

// ---- canvas (tab-new) ----
// "Run as batch" (command, menu entry, action-bar button) opens the tab's New batch view on the canvas workflow.

installCanvasCommands(shell.ctx, () => host.showTab(TAB_ID));
