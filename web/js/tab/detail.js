// The batch detail view: summary with live progress of the running job, controls (pause, resume, cancel, retry
// failed, priority, delete with or without images, export), and the jobs table, gallery and contact sheets.
import { h, errorBox, warn } from "./dom.js";
import { TERMINAL, etaSeconds, formatDuration, formatTime } from "./logic.js";
import { countsLine, progressBar, statusChip } from "./list.js";
import { createJobCache } from "./jobcache.js";
import { jobFilter, jobTable } from "./jobs.js";
import { gallery, lightbox, viewURL } from "./gallery.js";
import { renderGrid } from "./gridview.js";

const STALE_DELAY_MS = 400;

function cacheFor(ctx, batchId, status) {
  const key = `${batchId}|${status}`;
  for (const [k, c] of ctx.state.jobs) if (c.batchId !== batchId) ctx.state.jobs.delete(k);  // one batch's pages at a time
  let cache = ctx.state.jobs.get(key);
  if (!cache) ctx.state.jobs.set(key, (cache = createJobCache(ctx.host, batchId, status)));
  return cache;
}

function controls(ctx, batch, act) {
  const { t } = ctx;
  const finished = TERMINAL.has(batch.status);
  const c = batch.counts || {};
  const btn = (label, action, opts = {}) => h("button", { class: `bgn-btn${opts.danger ? " bgn-danger" : ""}`, dataset: { action },
    disabled: !!opts.disabled, onclick: () => act(action) }, label);
  const priority = h("input", { class: "bgn-input bgn-priority", type: "number", step: "1", value: String(batch.priority ?? 0),
    disabled: finished, "aria-label": t("batchgen.detail.priority"), title: t("batchgen.detail.priority"),
    onchange: () => act("priority", Number(priority.value)) });
  return h("div", { class: "bgn-toolbar bgn-controls" },
    batch.paused ? btn(t("batchgen.detail.resume"), "resume", { disabled: finished }) : btn(t("batchgen.detail.pause"), "pause", { disabled: finished }),
    btn(t("batchgen.detail.cancel"), "cancel", { disabled: finished, danger: true }),
    btn(t("batchgen.detail.retryFailed"), "retry", { disabled: !((c.failed || 0) + (c.cancelled || 0)) }),
    h("label", { class: "bgn-inline bgn-small bgn-muted" }, t("batchgen.detail.priority"), priority),
    h("a", { class: "bgn-btn", href: ctx.host.apiURL(`/batches/${batch.id}/export`), download: "", role: "button",
      "aria-disabled": String(!c.succeeded) }, t("batchgen.detail.export")),
    btn(t("batchgen.detail.delete"), "delete", { disabled: !finished, danger: true }));
}

/** render(el, ctx, {id}) → cleanup. */
export function render(el, ctx, params) {
  const { state, t } = ctx;
  const D = state.detail;
  if (D.batchId !== params.id) Object.assign(D, { batchId: params.id, status: "", tab: D.tab || "jobs", grid: { window: 0, page: 0, scroll: null } });
  D.grid ??= { window: 0, page: 0, scroll: null };  // the grid's window, page and scroll survive its live redraws
  const id = params.id;
  let closeLightbox = null;
  let staleTimer = null;
  let view = null;

  const head = h("div", { class: "bgn-detail-head" });
  const summary = h("div", { class: "bgn-summary" });
  const live = h("div", { class: "bgn-live bgn-small" });
  const tabs = h("div", { class: "bgn-tabs", role: "tablist" });
  const tools = h("div", { class: "bgn-toolbar bgn-tab-tools" });
  const pane = h("div", { class: "bgn-pane" });
  const banner = h("div", { class: "bgn-banner bgn-warn", hidden: state.connected }, t("batchgen.tab.offline"));
  el.replaceChildren(
    h("div", { class: "bgn-toolbar" },
      h("button", { class: "bgn-btn bgn-icon", "aria-label": t("batchgen.common.back"), title: t("batchgen.common.back"),
        onclick: () => ctx.navigate("list") }, "←"),
      head),
    banner, summary, live, tabs, tools, pane);

  const batch = () => state.batches.get(id);
  const metaEl = h("div", { class: "bgn-card-meta bgn-muted bgn-small" });
  const barEl = h("div", { class: "bgn-summary" });
  const controlsEl = h("div");
  const confirmSlot = h("div");
  let controlsKey = "";
  summary.append(metaEl, barEl, controlsEl, confirmSlot);

  function drawHead() {
    const b = batch();
    if (!b) return;
    head.replaceChildren(h("span", { class: "bgn-title", title: b.name }, b.name), statusChip(b, ctx));
    const eta = etaSeconds(b);
    const meta = [b.template_id || t("batchgen.list.inline"), formatTime(b.created_at, state.locale),
      eta != null ? t("batchgen.list.eta", { time: formatDuration(eta, t) }) : null,
      b.elapsed_seconds != null && TERMINAL.has(b.status) ? t("batchgen.detail.took", { time: formatDuration(b.elapsed_seconds, t) }) : null];
    metaEl.replaceChildren(meta.filter(Boolean).join(" · "));
    barEl.replaceChildren(progressBar(b, ctx), countsLine(b, ctx));
    // The controls are rebuilt only when what they show changes (never under the user's cursor in the priority box).
    const c = b.counts || {};
    const key = [b.status, b.paused, b.priority, !!c.succeeded, (c.failed || 0) + (c.cancelled || 0) > 0].join("|");
    const typing = document.activeElement?.tagName === "INPUT" && controlsEl.contains(document.activeElement);
    if (key !== controlsKey && !typing) {
      controlsKey = key;
      controlsEl.replaceChildren(controls(ctx, b, act));
    }
    drawTabs();
  }

  function jobIdx(jobId) {
    for (const c of state.jobs.values()) {
      const pos = c.batchId === id ? c.byId.get(jobId) : undefined;
      if (pos != null) return c.rows.get(pos)?.idx;
    }
    return undefined;
  }

  function drawLive() {
    const running = [...state.progress.values()].filter((p) => p.batch_id === id);
    live.replaceChildren(...running.map((p) => {
      const pct = p.max ? Math.min(100, Math.round((100 * p.value) / p.max)) : 0;
      const idx = jobIdx(p.job_id);
      return h("div", { class: "bgn-live-job" },
        h("span", { class: "bgn-muted" }, t("batchgen.detail.runningJob", { job: idx != null ? `#${idx}` : p.job_id, node: p.node })),
        h("div", { class: "bgn-bar bgn-bar-thin" }, h("span", { class: "bgn-s-running", style: { width: `${pct}%` } })),
        h("span", { class: "bgn-muted" }, `${pct}%`));
    }));
  }

  function drawTabs() {
    const b = batch();
    const names = ["jobs", "gallery"];
    gridShown = hasGrid();
    if (gridShown) names.push("grid");
    if (b?.contact_sheets?.length) names.push("sheets");
    if (!names.includes(D.tab)) D.tab = "jobs";
    tabs.replaceChildren(...names.map((name) => h("button", { class: `bgn-tab${D.tab === name ? " bgn-tab-on" : ""}`, role: "tab",
      "aria-selected": String(D.tab === name), dataset: { tab: name },
      onclick: () => { if (D.tab !== name) { D.tab = name; drawTabs(); showPane(); } } }, t(`batchgen.detail.tab_${name}`))));
  }

  let gridShown = false;
  let gridTimer = null;
  function hasGrid() {
    const first = state.jobs.get(`${id}|`)?.rows.get(0);
    return !!(first?.coords?.axes && Object.keys(first.coords.axes).length);
  }

  const counter = h("span", { class: "bgn-small bgn-muted" });
  function countText() {
    if (hasGrid() !== gridShown) drawTabs();
    const c = state.jobs.get(`${id}|${D.tab === "gallery" ? "succeeded" : D.status}`);
    counter.textContent = c?.total != null ? t(D.tab === "gallery" ? "batchgen.detail.images" : "batchgen.detail.jobs", { n: c.total }) : "";
  }

  function openAt(cache, pos) {
    closeLightbox?.();
    closeLightbox = lightbox(ctx, cache, pos);
  }

  function showPane() {
    view?.stop();
    view = null;
    tools.replaceChildren();
    if (D.tab === "sheets") {
      const sheets = batch()?.contact_sheets || [];
      pane.replaceChildren(h("div", { class: "bgn-sheets" }, sheets.map((s) => h("figure", { class: "bgn-sheet" },
        h("a", { href: viewURL(ctx, s), target: "_blank", rel: "noopener" },
          h("img", { loading: "lazy", src: viewURL(ctx, s), alt: s.title, width: s.width, height: s.height })),
        h("figcaption", { class: "bgn-small bgn-muted" }, `${s.page}. ${s.title}`)))));
      return;
    }
    if (D.tab === "grid") {
      const cache = cacheFor(ctx, id, "");
      const box = h("div", { class: "bgn-grid-pane" });
      pane.replaceChildren(box);
      renderGrid(box, ctx, cache, (job) => openAt(cache, cache.byId.get(job.id) ?? 0), D.grid).catch((err) => box.replaceChildren(errorBox(ctx, err)));
      return;
    }
    if (D.tab === "gallery") {
      const cache = cacheFor(ctx, id, "succeeded");
      view = gallery(ctx, () => cache, (pos) => openAt(cache, pos), countText);
      tools.append(counter);
    } else {
      const getCache = () => cacheFor(ctx, id, D.status);
      tools.append(jobFilter(ctx, D.status, (value) => { D.status = value; countText(); view.reset(); }), counter);
      view = jobTable(ctx, getCache, (pos) => openAt(getCache(), pos), countText);
    }
    pane.replaceChildren(view.el);
    view.draw();
  }

  // Deleting asks inside the tab (never a browser dialog): with or without the images on disk.
  function confirmDelete(b) {
    const images = h("input", { type: "checkbox", class: "bgn-check" });
    const box = h("div", { class: "bgn-confirm", role: "alertdialog" },
      h("div", null, t("batchgen.detail.deleteConfirm", { name: b.name })),
      h("label", { class: "bgn-inline bgn-small" }, images, t("batchgen.detail.deleteImages")),
      h("div", { class: "bgn-toolbar" },
        h("button", { class: "bgn-btn bgn-danger", dataset: { action: "confirm-delete" }, onclick: async (e) => {
          e.currentTarget.disabled = true;
          try {
            await ctx.host.request("DELETE", `/batches/${id}?images=${images.checked}`);
            state.dropBatch(id);
            ctx.host.toast("info", t("batchgen.detail.deleted"), b.name, 3000);
            ctx.navigate("list");
          } catch (err) {
            box.replaceWith(errorBox(ctx, err));
          }
        } }, t("batchgen.detail.delete")),
        h("button", { class: "bgn-btn", onclick: () => box.remove() }, t("batchgen.detail.keep"))));
    confirmSlot.replaceChildren(box);
  }

  async function act(action, value) {
    const b = batch();
    try {
      if (action === "delete") {
        confirmDelete(b);
        return;
      }
      const body = action === "priority" ? { priority: value } : {};
      const res = await ctx.host.request("POST", `/batches/${id}/${action}`, body);
      state.putBatch(res.batch || res);
      if (action === "retry") for (const c of state.jobs.values()) if (c.batchId === id) c.clear();
      drawHead();
      if (action === "retry") showPane();
    } catch (err) {
      ctx.host.toast("error", t("batchgen.detail.actionFailed"), err.message);
    }
  }

  function onJob(data) {
    if (data.batch_id !== id) return;
    if (view) view.draw();
    countText();
    if (D.tab === "grid" && !gridTimer) gridTimer = setTimeout(() => { gridTimer = null; if (D.tab === "grid") showPane(); }, 500);
    drawLive();
    const stale = [...state.jobs.values()].some((c) => c.batchId === id && c.stale);
    if (stale && !staleTimer) staleTimer = setTimeout(refreshStale, STALE_DELAY_MS);
  }

  function refreshStale() {
    staleTimer = null;
    for (const c of state.jobs.values()) {
      if (c.batchId !== id || !c.stale) continue;
      c.refresh().then(() => { view?.draw(); countText(); }, (err) => warn("refresh jobs", err));
    }
  }

  function reloadAll() {
    for (const c of state.jobs.values()) if (c.batchId === id) c.clear();
    load();
  }

  async function load() {
    try {
      state.putBatch(await ctx.host.request("GET", `/batches/${id}`));
      await cacheFor(ctx, id, "").ensure(0, 0);  // the first jobs tell whether the batch is a grid
      drawHead();
      if (!view) showPane();
      else view.draw();
    } catch (err) {
      confirmSlot.replaceChildren(errorBox(ctx, err, () => { confirmSlot.replaceChildren(); load(); }));
    }
  }

  const offs = [
    state.on("batch", ({ batch: b }) => { if (b.id === id) drawHead(); }),
    state.on("job", onJob),
    state.on("progress", (p) => { if (p.batch_id === id) drawLive(); }),
    state.on("reload", reloadAll),
    state.on("connection", (up) => { banner.hidden = up; if (up) reloadAll(); }),
  ];
  if (batch()) { drawHead(); showPane(); }
  load();
  drawLive();
  return () => {
    offs.forEach((off) => off());
    clearTimeout(staleTimer);
    clearTimeout(gridTimer);
    view?.stop();
    closeLightbox?.();
  };
}
