// The detail view's gallery: fixed-size lazy thumbnails from our thumbnail route (small WEBP, never the full image),
// virtualised like the table, and a lightbox with keyboard navigation and the job's parameters.
import { h, warn } from "./dom.js";
import { firstImage } from "./logic.js";
import { createVirtual } from "./virtual.js";
import { openJobOnCanvas } from "./canvas.js";

export const CELL = 94;        // px per cell: an 86 px thumbnail and its margins (3 columns in the default sidebar)
const THUMB_SIZE = 200;        // served size: sharp on 2× screens

function thumbURL(ctx, job) {
  return ctx.host.apiURL(`/jobs/${job.id}/thumb?size=${THUMB_SIZE}`);
}

/** The full-size image of a job's first output, through ComfyUI's /view. */
export function viewURL(ctx, output) {
  const q = `filename=${encodeURIComponent(output.filename)}&subfolder=${encodeURIComponent(output.subfolder || "")}&type=${output.type}`;
  return ctx.host.comfyURL(`/view?${q}`);
}

/** The gallery of a cache of succeeded jobs; onOpen(pos) opens the lightbox. → {el, draw, reset, stop}. */
export function gallery(ctx, getCache, onOpen, onLoaded) {
  const virtual = createVirtual({
    height: CELL,
    width: CELL,
    count: () => getCache().total ?? 0,
    key: (pos) => String(getCache().rows.get(pos)?.id ?? ""),
    item: (pos) => {
      const job = getCache().rows.get(pos);
      const cell = h("div", { class: "bgn-cell", dataset: { pos } });
      if (job && firstImage(job)) {
        cell.dataset.id = job.id;
        cell.append(h("img", { class: "bgn-thumb", loading: "lazy", decoding: "async", width: 86, height: 86,
          alt: `#${job.idx}`, src: thumbURL(ctx, job) }));
        cell.tabIndex = 0;
        cell.title = `#${job.idx}`;
        cell.addEventListener("click", () => onOpen(pos));
        cell.addEventListener("keydown", (e) => { if (e.key === "Enter") onOpen(pos); });
      }
      return cell;
    },
    need: (first, last) => {
      getCache().ensure(first, last).then((n) => { if (n) { virtual.draw(); onLoaded?.(); } }, (err) => warn("gallery page", err));
    },
  });
  virtual.el.classList.add("bgn-gallery");
  return virtual;
}

function paramRows(job) {
  return Object.entries(job.params || {}).map(([k, v]) =>
    h("div", { class: "bgn-param" }, h("span", { class: "bgn-muted" }, k), h("span", null, typeof v === "object" ? JSON.stringify(v) : String(v))));
}

let lightboxes = 0;

/** The elements Tab can reach inside root, in order. */
function focusables(root) {
  return [...root.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")]
    .filter((el) => !el.disabled && !el.hidden && el.getClientRects().length);
}

/** Open the lightbox over the page at position pos of cache; ←/→ move, Esc closes, Tab stays inside it (a modal
 * dialog), and focus goes back to what opened it (the thumbnail) on close. Returns close(). */
export function lightbox(ctx, cache, pos) {
  const { t } = ctx;
  let current = pos;
  const opener = document.activeElement;
  const titleId = `bgn-lb-title-${++lightboxes}`;
  const img = h("img", { class: "bgn-lb-img", alt: "" });
  const title = h("div", { class: "bgn-lb-title", id: titleId });
  const body = h("div", { class: "bgn-lb-body" });
  const info = h("div", { class: "bgn-lb-info" }, title, body);
  const counter = h("span", { class: "bgn-muted" });
  const close = () => {
    document.removeEventListener("keydown", onKey, true);
    overlay.remove();
    // Back to the thumbnail that opened it (the gallery may have redrawn it meanwhile: the same job's cell).
    const back = opener?.isConnected ? opener
      : opener?.dataset?.id && document.querySelector(`.bgn-cell[data-id="${opener.dataset.id}"]`);
    back?.focus?.();
  };
  const overlay = h("div", { class: "batchgen-tab bgn-lightbox", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId,
    tabindex: "-1", lang: ctx.state?.locale, onclick: (e) => { if (e.target === overlay) close(); } },
  h("div", { class: "bgn-lb-frame" },
    h("div", { class: "bgn-lb-stage" }, img),
    h("div", { class: "bgn-lb-side" },
      h("div", { class: "bgn-toolbar" },
        h("button", { class: "bgn-btn bgn-icon", "aria-label": t("batchgen.detail.previous"), onclick: () => go(-1) }, "←"),
        counter,
        h("button", { class: "bgn-btn bgn-icon", "aria-label": t("batchgen.detail.next"), onclick: () => go(1) }, "→"),
        h("span", { class: "bgn-grow" }),
        h("button", { class: "bgn-btn bgn-icon bgn-lb-close", "aria-label": t("batchgen.common.close"), onclick: close }, "✕")),
      info)));

  async function show() {
    if (!cache.rows.has(current)) await cache.ensure(current, current);
    const job = cache.rows.get(current);
    if (!job) return;
    const out = firstImage(job);
    img.src = out ? viewURL(ctx, out) : "";
    img.alt = `#${job.idx}`;
    img.hidden = !out;
    counter.textContent = `${current + 1} / ${cache.total ?? "?"}`;
    const seedRow = job.seed != null && !("seed" in (job.params || {}))
      ? h("div", { class: "bgn-param" }, h("span", { class: "bgn-muted" }, t("batchgen.detail.seed")), String(job.seed)) : null;
    title.replaceChildren(`#${job.idx}`, " ", h("span", { class: `bgn-chip bgn-s-${job.status}` }, t(`batchgen.common.status.${job.status}`)));
    body.replaceChildren(...[
      seedRow,
      ...paramRows(job),
      job.error ? h("div", { class: "bgn-job-error" }, job.error.message) : null,
      h("div", { class: "bgn-toolbar" }, h("button", { class: "bgn-btn", onclick: () => { close(); openJobOnCanvas(ctx, job).catch((x) => warn("open on canvas", x)); } },
        t("batchgen.detail.openOnCanvas")))].filter(Boolean));
  }

  function go(step) {
    const total = cache.total ?? 0;
    if (!total) return;
    current = (current + step + total) % total;
    show().catch((err) => warn("lightbox", err));
  }

  // Tab and Shift+Tab cycle through the dialog's controls; focus never reaches the page behind it.
  function trapTab(e) {
    const items = focusables(overlay);
    if (!items.length) { e.preventDefault(); overlay.focus(); return; }
    const at = items.indexOf(document.activeElement);
    const next = e.shiftKey ? (at <= 0 ? items.length - 1 : at - 1) : (at < 0 || at === items.length - 1 ? 0 : at + 1);
    e.preventDefault();
    items[next].focus();
  }

  function onKey(e) {
    if (e.key === "Tab") { e.stopPropagation(); trapTab(e); }
    else if (e.key === "Escape") { e.stopPropagation(); e.preventDefault(); close(); }
    else if (e.key === "ArrowRight") { e.stopPropagation(); e.preventDefault(); go(1); }
    else if (e.key === "ArrowLeft") { e.stopPropagation(); e.preventDefault(); go(-1); }
  }

  document.addEventListener("keydown", onKey, true);
  document.body.append(overlay);
  overlay.focus();
  show().catch((err) => warn("lightbox", err));
  return close;
}
