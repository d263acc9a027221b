// A virtualised scroller for fixed-size items (table rows or gallery cells): only what is on screen exists in the
// DOM, items are positioned absolutely so nothing shifts when rows load or jobs finish, and an item is rebuilt only
// when its key (job id + status…) changes.
import { h } from "./dom.js";
import { visibleRange } from "./logic.js";

/** createVirtual({height, width?, count(), key(pos), item(pos), need(first, last)}) → {el, draw(), scrollTo(pos)}. */
export function createVirtual(opts) {
  const spacer = h("div", { class: "bgn-virtual-spacer" });
  const el = h("div", { class: "bgn-virtual", tabindex: "-1" }, spacer);
  const shown = new Map();   // pos → {node, key}
  let frame = 0;

  function columns() {
    return opts.width ? Math.max(1, Math.floor((el.clientWidth || opts.width) / opts.width)) : 1;
  }

  function draw() {
    frame = 0;
    const count = opts.count();
    const cols = columns();
    const lines = Math.ceil(count / cols);
    spacer.style.height = `${lines * opts.height}px`;
    const view = el.clientHeight || 400;
    const { first, last } = visibleRange(el.scrollTop, view, opts.height, lines, 4);
    const from = first * cols;
    const to = Math.min(count - 1, (last + 1) * cols - 1);
    for (const [pos, entry] of shown) {
      if (pos < from || pos > to) {
        entry.node.remove();
        shown.delete(pos);
      }
    }
    for (let pos = from; pos <= to; pos++) {
      const key = opts.key(pos);
      const entry = shown.get(pos);
      if (entry && entry.key === key) continue;
      const node = opts.item(pos);
      const line = Math.floor(pos / cols);
      node.style.top = `${line * opts.height}px`;
      if (opts.width) node.style.left = `${(pos % cols) * opts.width}px`;
      if (entry) entry.node.replaceWith(node);
      else el.append(node);
      shown.set(pos, { node, key });
    }
    opts.need(from, Math.max(from, to));  // with nothing known yet: the first page
  }

  /** Redraw on the next frame (many events in one frame cost one draw). */
  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  /** Drop every drawn item (after a filter change) and redraw. */
  function reset() {
    for (const entry of shown.values()) entry.node.remove();
    shown.clear();
    el.scrollTop = 0;
    schedule();
  }

  /** Scroll so that item pos is visible. */
  function scrollTo(pos) {
    const line = Math.floor(pos / columns()) * opts.height;
    if (line < el.scrollTop || line + opts.height > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, line - opts.height);
  }

  el.addEventListener("scroll", schedule, { passive: true });
  const resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => { shown.forEach((e) => e.node.remove());
    shown.clear(); schedule(); }) : null;
  resize?.observe(el);

  return { el, draw: schedule, reset, scrollTo, stop: () => { resize?.disconnect(); cancelAnimationFrame(frame); } };
}
