// The batch list: name, template, a progress bar with counts per status, state, created time and ETA; live from
// the websocket (cards update in place, no reload), paginated, filtered by status, searched by name.
import { h, errorBox } from "./dom.js";
import { BATCH_STATUSES, etaSeconds, formatDuration, formatTime, query, segments } from "./logic.js";
import { PAGE_SIZE, pageSize } from "./settings.js";

const SEARCH_DELAY_MS = 250;
const NEW_BATCH_DELAY_MS = 300;

/** The progress bar and the per-status counts of a batch (shared with the detail view). */
export function progressBar(batch, ctx) {
  const bar = h("div", { class: "bgn-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(batch.total || 0),
    "aria-valuenow": String(batch.done || 0) });
  for (const seg of segments(batch)) {
    bar.append(h("span", { class: `bgn-s-${seg.status}`, style: { width: `${seg.percent}%` },
      title: `${ctx.t(`batchgen.common.status.${seg.status}`)}: ${seg.count}` }));
  }
  return bar;
}

/** The "12/20 · 10 ok · 2 failed" line (only non-zero counts besides done/total). */
export function countsLine(batch, ctx) {
  const c = batch.counts || {};
  const parts = [h("span", { class: "bgn-count-main" }, `${batch.done ?? 0}/${batch.total ?? 0}`)];
  for (const s of ["succeeded", "failed", "cancelled", "running", "queued", "pending"]) {
    if (c[s] > 0) parts.push(h("span", { class: `bgn-count bgn-s-${s}`, "data-status": s },
      h("i", { class: `bgn-dot bgn-s-${s}` }), `${c[s]} ${ctx.t(`batchgen.common.status.${s}`)}`));
  }
  return h("div", { class: "bgn-counts" }, parts);
}

/** The status chip: paused shows as paused even while its stored status is pending/running. */
export function statusChip(batch, ctx) {
  const s = batch.paused && !["succeeded", "partial", "failed", "cancelled"].includes(batch.status) ? "paused" : batch.status;
  return h("span", { class: `bgn-chip bgn-s-${s}`, "data-status": s }, ctx.t(`batchgen.common.status.${s}`));
}

function card(batch, ctx) {
  const eta = etaSeconds(batch);
  const meta = [batch.template_id || ctx.t("batchgen.list.inline"), formatTime(batch.created_at, ctx.state.locale)];
  if (eta != null) meta.push(ctx.t("batchgen.list.eta", { time: formatDuration(eta, ctx.t) }));
  return h("div", { class: "bgn-card", role: "button", tabindex: "0", dataset: { id: batch.id },
    onclick: () => ctx.navigate("detail", { id: batch.id }),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); ctx.navigate("detail", { id: batch.id }); } } },
  h("div", { class: "bgn-card-head" },
    h("span", { class: "bgn-card-name", title: batch.name }, batch.name || batch.id.slice(0, 8)), statusChip(batch, ctx)),
  h("div", { class: "bgn-card-meta bgn-muted bgn-small" }, meta.filter(Boolean).join(" · ")),
  progressBar(batch, ctx),
  countsLine(batch, ctx));
}

/** render(el, ctx) → cleanup. */
export function render(el, ctx) {
  const { state, t } = ctx;
  const L = state.list;
  L.limit = pageSize(ctx.host.setting(PAGE_SIZE));
  let searchTimer = null;
  let newTimer = null;
  let seq = 0;  // answers of older requests are dropped

  const search = h("input", { class: "bgn-input bgn-grow", type: "search", placeholder: t("batchgen.list.search"),
    "aria-label": t("batchgen.list.search"), value: L.q,
    oninput: () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { L.q = search.value.trim(); L.offset = 0; load(); },
      SEARCH_DELAY_MS); } });
  const filter = h("select", { class: "bgn-input", "aria-label": t("batchgen.list.filter"),
    onchange: () => { L.status = filter.value; L.offset = 0; load(); } },
  h("option", { value: "" }, t("batchgen.list.all")),
  BATCH_STATUSES.map((s) => h("option", { value: s, selected: L.status === s }, t(`batchgen.common.status.${s}`))));
  const banner = h("div", { class: "bgn-banner bgn-warn", hidden: state.connected }, t("batchgen.tab.offline"));
  const items = h("div", { class: "bgn-list", role: "list" });
  const pager = h("div", { class: "bgn-pager bgn-small bgn-muted" });

  el.replaceChildren(
    h("div", { class: "bgn-toolbar" },
      h("span", { class: "bgn-title" }, t("batchgen.list.title")),
      h("button", { class: "bgn-btn bgn-primary", onclick: () => ctx.navigate("new") }, t("batchgen.list.newBatch"))),
    h("div", { class: "bgn-toolbar" }, search, filter),
    banner, items, pager);

  function draw() {
    if (L.error) {
      items.replaceChildren(errorBox(ctx, L.error, load));
      pager.replaceChildren();
      return;
    }
    const batches = L.ids.map((id) => state.batches.get(id)).filter(Boolean);
    if (!batches.length) {
      items.replaceChildren(h("div", { class: "bgn-empty" }, L.loaded ? t(L.q || L.status ? "batchgen.list.noMatch" : "batchgen.list.empty")
        : t("batchgen.common.loading")));
    } else {
      items.replaceChildren(...batches.map((b) => card(b, ctx)));
    }
    const first = L.total ? L.offset + 1 : 0;
    const last = Math.min(L.total, L.offset + L.ids.length);
    pager.replaceChildren(
      h("button", { class: "bgn-btn", disabled: L.offset <= 0, onclick: () => { L.offset = Math.max(0, L.offset - L.limit); load(); } },
        t("batchgen.list.previous")),
      h("span", { class: "bgn-grow bgn-pager-text" }, t("batchgen.list.range", { first, last, total: L.total })),
      h("button", { class: "bgn-btn", disabled: last >= L.total, onclick: () => { L.offset += L.limit; load(); } },
        t("batchgen.list.next")));
  }

  async function load() {
    const mine = ++seq;
    try {
      const res = await ctx.host.request("GET", `/batches${query({ status: L.status, q: L.q, limit: L.limit, offset: L.offset })}`);
      if (mine !== seq) return;
      for (const b of res.batches) state.putBatch(b);
      L.ids = res.batches.map((b) => b.id);
      L.total = res.total;
      L.error = null;
    } catch (err) {
      if (mine !== seq) return;
      L.error = err;
    }
    L.loaded = true;
    if (el.isConnected || !el.parentNode) draw();
  }

  function onBatch({ batch, isNew }) {
    const old = items.querySelector(`.bgn-card[data-id="${batch.id}"]`);
    if (old) {
      old.replaceWith(card(batch, ctx));
      return;
    }
    // A batch we have not listed: reload the page it belongs to (the first, newest first) once things settle.
    if (isNew && L.offset === 0) {
      clearTimeout(newTimer);
      newTimer = setTimeout(load, NEW_BATCH_DELAY_MS);
    }
  }

  const offs = [
    state.on("batch", onBatch),
    state.on("reload", load),
    state.on("deleted", ({ id }) => { items.querySelector(`.bgn-card[data-id="${id}"]`)?.remove(); }),
    state.on("connection", (up) => { banner.hidden = up; if (up) load(); }),
  ];
  draw();
  load();
  return () => {
    clearTimeout(searchTimer);
    clearTimeout(newTimer);
    seq++;
    offs.forEach((off) => off());
  };
}
