// The grid view of a batch made with axes: jobs laid out by their axis coordinates (X = first axis, Y = second,
// one page per combination of the others), with the axis values as headers. Pure layout in gridLayout (Node-tested).
import { h, warn } from "./dom.js";
import { firstImage } from "./logic.js";

export const MAX_GRID_JOBS = 1000;

/** Axis dimensions of jobs: keys of coords.axes, zipped keys (always equal indexes) merged into one dimension. */
export function dimensions(jobs) {
  const keys = [];
  for (const job of jobs) for (const k of Object.keys(job.coords?.axes || {})) if (!keys.includes(k)) keys.push(k);
  const dims = [];
  for (const key of keys) {
    const twin = dims.find((d) => jobs.every((j) => j.coords?.axes?.[d[0]] === j.coords?.axes?.[key]));
    if (twin) twin.push(key);
    else dims.push([key]);
  }
  return dims;
}

/** {dims, pages: [{key, label, cells: Map "x,y" → job}], xs: [labels], ys: [labels]} for jobs with axis coords. */
export function gridLayout(jobs) {
  const dims = dimensions(jobs);
  if (!dims.length) return null;
  const index = (job, dim) => job.coords?.axes?.[dim[0]] ?? 0;
  const label = (job, dim) => dim.map((k) => {
    const v = job.params?.[k];
    return typeof v === "object" ? JSON.stringify(v) : String(v ?? "");
  }).join(" / ");
  const [X, Y, ...rest] = dims;
  const xs = [];
  const ys = [];
  const pages = new Map();
  for (const job of jobs) {
    const x = index(job, X);
    const y = Y ? index(job, Y) : 0;
    xs[x] ??= label(job, X);
    if (Y) ys[y] ??= label(job, Y);
    const pageKey = [...rest.map((d) => index(job, d)), job.coords?.index ?? 0].join(",");
    if (!pages.has(pageKey)) {
      pages.set(pageKey, { key: pageKey, label: rest.map((d) => `${d.join("/")}: ${label(job, d)}`).join(" · "), cells: new Map() });
    }
    const cells = pages.get(pageKey).cells;
    if (!cells.has(`${x},${y}`)) cells.set(`${x},${y}`, job);
  }
  return { dims, xs, ys: Y ? ys : [""], pages: [...pages.values()] };
}

/** Render the grid of a batch into el (loads up to MAX_GRID_JOBS jobs); onOpen(job) opens the lightbox. */
export async function renderGrid(el, ctx, cache, onOpen) {
  const { t } = ctx;
  await cache.ensure(0, MAX_GRID_JOBS - 1);
  const jobs = [];
  for (let i = 0; i < Math.min(cache.total ?? 0, MAX_GRID_JOBS); i++) if (cache.rows.has(i)) jobs.push(cache.rows.get(i));
  const layout = gridLayout(jobs);
  if (!layout) {
    el.replaceChildren(h("div", { class: "bgn-empty" }, t("batchgen.detail.noGrid")));
    return;
  }
  let page = 0;
  const body = h("div", { class: "bgn-grid-wrap" });
  const draw = () => {
    const p = layout.pages[page];
    const table = h("table", { class: "bgn-grid" },
      h("thead", null, h("tr", null, h("th", { class: "bgn-muted bgn-small" }, layout.dims[0].join(" / ")),
        layout.xs.map((x) => h("th", { class: "bgn-small" }, x)))),
      h("tbody", null, layout.ys.map((y, yi) => h("tr", null, h("th", { class: "bgn-small" }, y),
        layout.xs.map((_, xi) => {
          const job = p.cells.get(`${xi},${yi}`);
          const img = job && firstImage(job);
          return h("td", { class: `bgn-grid-cell bgn-s-${job?.status || "pending"}`, title: job ? `#${job.idx}` : "" },
            img ? h("img", { class: "bgn-grid-img", loading: "lazy", width: 64, height: 64, alt: `#${job.idx}`,
              src: ctx.host.apiURL(`/jobs/${job.id}/thumb?size=128`), onclick: () => onOpen(job) })
              : h("i", { class: `bgn-dot bgn-s-${job?.status || "pending"}` }));
        })))));
    body.replaceChildren(table);
  };
  const select = layout.pages.length > 1 ? h("select", { class: "bgn-input", "aria-label": t("batchgen.detail.gridPage"),
    onchange: () => { page = Number(select.value); draw(); } },
  layout.pages.map((p, i) => h("option", { value: String(i) }, p.label || `${i + 1}`))) : null;
  el.replaceChildren(...[select, body].filter(Boolean));
  try { draw(); } catch (err) { warn("grid", err); }
}
