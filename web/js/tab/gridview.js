// The grid view of a batch made with axes: jobs laid out by their axis coordinates (X = first axis, Y = second,
// one page per combination of the others), with the axis values as headers. A grid of more than MAX_GRID_JOBS jobs
// is shown in windows of consecutive jobs (whole columns where they fit), each fetched when it is shown: a
// 10,000-cell grid is never loaded whole. Pure layout in gridLayout / gridWindows (Node-tested).
import { h, warn } from "./dom.js";
import { firstImage } from "./logic.js";

export const MAX_GRID_JOBS = 1000;

/** Axis dimensions of jobs: keys of coords.axes, zipped keys (always equal indexes) merged into one dimension.
 * A key whose index never changes in these jobs is left out (it is shown as a caption): with nothing to compare,
 * it could not be told from a zipped twin. `keys` = every key seen, in the batch's order. */
export function dimensions(jobs, keys = axisKeys(jobs)) {
  const varies = (k) => jobs.some((j) => (j.coords?.axes?.[k] ?? 0) !== (jobs[0].coords?.axes?.[k] ?? 0));
  const moving = jobs.length > 1 ? keys.filter(varies) : keys;
  const dims = [];
  for (const key of moving) {
    const twin = dims.find((d) => jobs.every((j) => j.coords?.axes?.[d[0]] === j.coords?.axes?.[key]));
    if (twin) twin.push(key);
    else dims.push([key]);
  }
  return dims;
}

function axisKeys(jobs) {
  const keys = [];
  for (const job of jobs) for (const k of Object.keys(job.coords?.axes || {})) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function valueLabel(job, key) {
  const v = job.params?.[key];
  return typeof v === "object" ? JSON.stringify(v) : String(v ?? "");
}

/** {dims, caption, pages: [{key, label, cells: Map "x,y" → job}], xs: [labels], ys: [labels]} for jobs with axis coords;
 * columns and rows are the values present in these jobs, in order; caption names the axes fixed in all of them. */
export function gridLayout(jobs) {
  const keys = axisKeys(jobs);
  if (!keys.length) return null;
  let dims = dimensions(jobs, keys);
  const fixed = keys.filter((k) => !dims.some((d) => d.includes(k)));
  const caption = fixed.map((k) => `${k}: ${valueLabel(jobs[0], k)}`).join(" · ");
  // One moving dimension that is not the batch's first axis goes down the rows (X stays the first axis).
  const rowsOnly = dims.length === 1 && dims[0][0] !== keys[0];
  if (!dims.length) dims = [[keys[0]]];
  const [X, Y, ...rest] = rowsOnly ? [null, dims[0]] : dims;
  const index = (job, dim) => (dim ? job.coords?.axes?.[dim[0]] ?? 0 : 0);
  const label = (job, dim) => dim.map((k) => valueLabel(job, k)).join(" / ");
  const present = (dim) => (dim ? [...new Set(jobs.map((j) => index(j, dim)))].sort((a, b) => a - b) : [0]);
  const xIdx = present(X);
  const yIdx = present(Y);
  const xs = xIdx.map(() => "");
  const ys = yIdx.map(() => "");
  const xAt = new Map(xIdx.map((v, i) => [v, i]));
  const yAt = new Map(yIdx.map((v, i) => [v, i]));
  const pages = new Map();
  for (const job of jobs) {
    const x = xAt.get(index(job, X));
    const y = yAt.get(index(job, Y));
    if (X && !xs[x]) xs[x] = label(job, X);
    if (Y && !ys[y]) ys[y] = label(job, Y);
    const pageKey = [...rest.map((d) => index(job, d)), job.coords?.index ?? 0].join(",");
    if (!pages.has(pageKey)) {
      pages.set(pageKey, { key: pageKey, label: rest.map((d) => `${d.join("/")}: ${label(job, d)}`).join(" · "), cells: new Map() });
    }
    const cells = pages.get(pageKey).cells;
    if (!cells.has(`${x},${y}`)) cells.set(`${x},${y}`, job);
  }
  return { dims: [X || [], Y || []].filter((d) => d.length).concat(rest), x: X, y: Y, caption, xs, ys, pages: [...pages.values()] };
}

/** The windows of a grid of `total` jobs: [{start, end}] (end exclusive) of at most `max` consecutive jobs, a whole
 * number of columns each when a column (`period` jobs that share the first axis's value) fits in `max`. */
export function gridWindows(total, period, max = MAX_GRID_JOBS) {
  const size = period > 0 && period <= max ? Math.floor(max / period) * period : max;
  const windows = [];
  for (let start = 0; start < total; start += size) windows.push({ start, end: Math.min(total, start + size) });
  return windows.length ? windows : [{ start: 0, end: 0 }];
}

/** Jobs per column: the position of the first job whose first-axis index differs from job 0's (0 when none does). */
export function columnPeriod(jobs) {
  const key = axisKeys(jobs.slice(0, 1))[0];
  if (!key) return 0;
  const first = jobs[0].coords.axes[key];
  const at = jobs.findIndex((j) => (j.coords?.axes?.[key] ?? first) !== first);
  return at > 0 ? at : 0;
}

function jobsIn(cache, start, end) {
  const jobs = [];
  for (let i = start; i < end; i++) if (cache.rows.has(i)) jobs.push(cache.rows.get(i));
  return jobs;
}

function cell(ctx, job, onOpen) {
  const img = job && firstImage(job);
  const open = () => onOpen(job);
  return h("td", { class: `bgn-grid-cell bgn-s-${job?.status || "pending"}`, title: job ? `#${job.idx}` : "" },
    img ? h("img", { class: "bgn-grid-img", loading: "lazy", width: 64, height: 64, alt: `#${job.idx}`, tabindex: "0",
      src: ctx.host.apiURL(`/jobs/${job.id}/thumb?size=128`), onclick: open,
      onkeydown: (e) => { if (e.key === "Enter") open(); } })
      : h("i", { class: `bgn-dot bgn-s-${job?.status || "pending"}` }));
}

/** Render the grid of a batch into el (one window of at most MAX_GRID_JOBS jobs, fetched now); onOpen(job) opens
 * the lightbox. `view` ({window, page}, kept by the caller) remembers the window and page across live redraws. */
export async function renderGrid(el, ctx, cache, onOpen, view = { window: 0, page: 0, scroll: null }) {
  const { t } = ctx;
  await cache.ensure(0, MAX_GRID_JOBS - 1);
  const total = cache.total ?? 0;
  const windows = gridWindows(total, columnPeriod(jobsIn(cache, 0, Math.min(total, MAX_GRID_JOBS))));
  view.window = Math.min(Math.max(0, view.window || 0), windows.length - 1);
  const win = windows[view.window];
  if (win.end > 0) await cache.ensure(win.start, win.end - 1);
  const layout = gridLayout(jobsIn(cache, win.start, win.end));
  if (!layout) {
    el.replaceChildren(h("div", { class: "bgn-empty" }, t("batchgen.detail.noGrid")));
    return;
  }
  view.page = Math.min(view.page || 0, layout.pages.length - 1);
  const go = (step) => {
    Object.assign(view, { window: view.window + step, page: 0, scroll: null });
    renderGrid(el, ctx, cache, onOpen, view).catch((err) => warn("grid", err));
  };
  const fmt = (n) => n.toLocaleString(ctx.state?.locale === "zh" ? "zh-CN" : "en");
  const nav = windows.length > 1 ? h("div", { class: "bgn-toolbar bgn-grid-nav" },
    h("button", { class: "bgn-btn bgn-icon", dataset: { grid: "prev" }, "aria-label": t("batchgen.list.previous"),
      disabled: view.window === 0, onclick: () => go(-1) }, "‹"),
    h("span", { class: "bgn-small bgn-muted", dataset: { grid: "window" } },
      t("batchgen.detail.gridWindow", { from: fmt(win.start + 1), to: fmt(win.end), total: fmt(total) })),
    h("button", { class: "bgn-btn bgn-icon", dataset: { grid: "next" }, "aria-label": t("batchgen.list.next"),
      disabled: view.window === windows.length - 1, onclick: () => go(1) }, "›")) : null;
  // The grid scrolls inside its wrap; the position is kept in view, so a live redraw (jobs finishing) keeps it.
  const body = h("div", { class: "bgn-grid-wrap", onscroll: () => { view.scroll = [body.scrollLeft, body.scrollTop]; } });
  const draw = () => {
    const p = layout.pages[view.page];
    const corner = layout.x ? layout.x.join(" / ") : "";
    body.replaceChildren(h("table", { class: "bgn-grid" },
      h("thead", null, h("tr", null, h("th", { class: "bgn-muted bgn-small" }, corner), layout.xs.map((x) => h("th", { class: "bgn-small" }, x)))),
      h("tbody", null, layout.ys.map((y, yi) => h("tr", null, h("th", { class: "bgn-small" }, y),
        layout.xs.map((_, xi) => cell(ctx, p.cells.get(`${xi},${yi}`), onOpen)))))));
  };
  const select = layout.pages.length > 1 ? h("select", { class: "bgn-input", "aria-label": t("batchgen.detail.gridPage"),
    onchange: () => { view.page = Number(select.value); draw(); body.scrollTop = 0; } },
  layout.pages.map((p, i) => h("option", { value: String(i), selected: i === view.page }, p.label || `${i + 1}`))) : null;
  const caption = layout.caption ? h("div", { class: "bgn-small bgn-muted bgn-grid-caption" }, layout.caption) : null;
  el.replaceChildren(...[nav, select, caption, body].filter(Boolean));
  try { draw(); } catch (err) { warn("grid", err); }
  if (view.scroll) [body.scrollLeft, body.scrollTop] = view.scroll;
}
