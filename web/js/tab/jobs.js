// The detail view's job table: virtualised (10,000 rows scroll at 60 fps), filtered by status, with the error and
// its failing node, retry for one job and "open on canvas".
import { h, errorBox, warn } from "./dom.js";
import { JOB_STATUSES, failingNode, firstImage } from "./logic.js";
import { createVirtual } from "./virtual.js";
import { openJobOnCanvas } from "./canvas.js";

export const ROW_HEIGHT = 40;

/** A short text for a job's values: its prompt if it has one, else name=value pairs. */
export function paramsText(job) {
  const p = job?.params || {};
  if (typeof p.prompt === "string") return p.prompt;
  return Object.entries(p).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

/** The status filter <select> for jobs. */
export function jobFilter(ctx, value, onchange) {
  const select = h("select", { class: "bgn-input", "aria-label": ctx.t("batchgen.detail.filter"), onchange: () => onchange(select.value) },
    h("option", { value: "" }, ctx.t("batchgen.list.all")),
    JOB_STATUSES.map((s) => h("option", { value: s, selected: value === s }, ctx.t(`batchgen.common.status.${s}`))));
  return select;
}

/** The row's second line: status, attempts (only after a retry) and seed as separate pieces, so that in a narrow
 * sidebar only the seed's digits are cut, never the status. */
function rowMeta(t, job) {
  const status = t(`batchgen.common.status.${job.status}`);
  const attempts = (job.attempts ?? 0) > 1 ? t("batchgen.detail.rowAttempts", { n: job.attempts }) : null;
  const seed = job.seed != null ? t("batchgen.detail.rowSeed", { seed: job.seed }) : null;
  return h("span", { class: "bgn-line bgn-meta bgn-muted bgn-small", title: [status, attempts, seed].filter(Boolean).join(" · ") },
    h("span", { class: "bgn-meta-fixed" }, [status, attempts].filter(Boolean).join(" · ")),
    seed ? h("span", { class: "bgn-meta-seed" }, `· ${seed}`) : null);
}

/** The job table for a cache (jobcache.js); onOpen(pos) opens the lightbox. → {el, draw, reset, stop}. */
export function jobTable(ctx, getCache, onOpen, onLoaded) {
  const { t } = ctx;

  async function retry(job, button) {
    button.disabled = true;
    try {
      const fresh = await ctx.host.request("POST", `/jobs/${job.id}/retry`, {});
      getCache().putAnswer(job, fresh);
      virtual.draw();
    } catch (err) {
      button.disabled = false;
      ctx.host.toast("error", t("batchgen.detail.retryFailed"), err.message);
    }
  }

  function row(pos) {
    const job = getCache().rows.get(pos);
    if (!job) return h("div", { class: "bgn-row bgn-row-loading", dataset: { pos } }, h("span", { class: "bgn-muted" }, "…"));
    const err = job.error;
    const where = failingNode(err);
    const retryable = job.status === "failed" || job.status === "cancelled";
    return h("div", { class: `bgn-row${pos % 2 ? " bgn-row-alt" : ""}`, dataset: { pos, id: job.id, status: job.status },
      onclick: () => onOpen(pos) },
    h("span", { class: "bgn-col-idx bgn-muted" }, String(job.idx)),
    h("span", { class: "bgn-col-status" }, h("i", { class: `bgn-dot bgn-s-${job.status}`, title: t(`batchgen.common.status.${job.status}`) })),
    h("span", { class: "bgn-col-text", title: err ? `${paramsText(job)}\n${where} ${err.message}` : paramsText(job) },
      h("span", { class: "bgn-line" }, paramsText(job)),
      err ? h("span", { class: "bgn-line bgn-job-error bgn-small" }, where ? h("b", null, `${where}: `) : null, err.message)
        : rowMeta(t, job)),
    h("span", { class: "bgn-col-actions" },
      retryable ? h("button", { class: "bgn-btn bgn-icon", title: t("batchgen.detail.retryJob"), "aria-label": t("batchgen.detail.retryJob"),
        onclick: (e) => { e.stopPropagation(); retry(job, e.currentTarget); } }, "↻") : null,
      h("button", { class: "bgn-btn bgn-icon", title: t("batchgen.detail.openOnCanvas"), "aria-label": t("batchgen.detail.openOnCanvas"),
        onclick: (e) => { e.stopPropagation(); openJobOnCanvas(ctx, job).catch((x) => warn("open on canvas", x)); } }, "⧉"),
      firstImage(job) ? h("i", { class: "pi pi-image bgn-muted", title: t("batchgen.detail.hasImage") }) : null));
  }

  const virtual = createVirtual({
    height: ROW_HEIGHT,
    count: () => getCache().total ?? 0,
    key: (pos) => {
      const job = getCache().rows.get(pos);
      return job ? `${job.id}:${job.status}:${job.attempts}` : "";
    },
    item: row,
    need: (first, last) => {
      getCache().ensure(first, last).then((n) => { if (n) { virtual.draw(); onLoaded?.(); } }, (err) => {
        warn("jobs page", err);
        virtual.el.replaceChildren(errorBox(ctx, err));
      });
    },
  });
  virtual.el.classList.add("bgn-table");
  return virtual;
}
