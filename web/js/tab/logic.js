// Pure helpers for the tab: progress segments, ETA, time formatting, job filters (no DOM, no ComfyUI).

export const JOB_STATUSES = ["pending", "queued", "running", "succeeded", "failed", "cancelled"];
export const BATCH_STATUSES = ["pending", "running", "paused", "succeeded", "partial", "failed", "cancelled"];
export const TERMINAL = new Set(["succeeded", "partial", "failed", "cancelled"]);

/** done = succeeded + failed + cancelled, computed from counts (events carry counts, not done). */
export function doneOf(batch) {
  const c = batch?.counts || {};
  return (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
}

/** The progress bar's segments in a fixed order: [{status, count, percent}] for the non-zero counts. */
export function segments(batch) {
  const total = Math.max(1, batch?.total || 0);
  const c = batch?.counts || {};
  return ["succeeded", "failed", "cancelled", "running", "queued"]
    .filter((s) => c[s] > 0)
    .map((s) => ({ status: s, count: c[s], percent: Math.min(100, (100 * c[s]) / total) }));
}

/** Seconds left at the rate so far (done jobs over the time since start), or null when it cannot be told. */
export function etaSeconds(batch, now = Date.now() / 1000) {
  if (!batch || TERMINAL.has(batch.status) || batch.paused || !batch.started_at) return null;
  const done = doneOf(batch);
  const left = (batch.total || 0) - done;
  if (done <= 0 || left <= 0) return null;
  const elapsed = Math.max(0.001, now - batch.started_at);
  return (elapsed / done) * left;
}

/** "45 s", "12 min", "3 h 5 min" through t (batchgen.common.sec|min|hour keys). */
export function formatDuration(seconds, t) {
  if (seconds == null || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("batchgen.common.sec", { n: s });
  if (s < 3600) return t("batchgen.common.min", { n: Math.round(s / 60) });
  const hrs = Math.floor(s / 3600);
  const mins = Math.round((s % 3600) / 60);
  return t("batchgen.common.hour", { h: hrs, m: mins });
}

/** A created time as the user's locale writes it: time only for today, date and time otherwise. */
export function formatTime(ts, locale, now = Date.now()) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const today = new Date(now).toDateString() === d.toDateString();
  const opts = today ? { hour: "2-digit", minute: "2-digit" } :
    { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
  try {
    return d.toLocaleString(locale === "zh" ? "zh-CN" : locale || "en", opts);
  } catch {
    return d.toISOString().slice(0, 16).replace("T", " ");
  }
}

/** A batch event's fields merged over what we knew (done and progress recomputed from the new counts). */
export function mergeBatchEvent(known, event) {
  const { seq, ...fields } = event || {};
  const merged = { ...(known || {}), ...fields };
  merged.done = doneOf(merged);
  merged.progress = merged.total ? merged.done / merged.total : 0;
  return merged;
}

/** True when an event with this seq shows that events were missed since lastSeq. */
export function missedBefore(lastSeq, seq) {
  return Number.isInteger(seq) && lastSeq > 0 && seq > lastSeq + 1;
}

/** Query string of our list routes: {status: "a,b", q: "x", limit: 50} → "?status=a%2Cb&q=x&limit=50" (empty values dropped). */
export function query(params) {
  const parts = Object.entries(params || {})
    .filter(([, v]) => v !== "" && v != null)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/** The failing node of a job error in words: "KSampler (node 3)", or "". */
export function failingNode(error) {
  if (!error) return "";
  if (error.node_type && error.node_id) return `${error.node_type} (#${error.node_id})`;
  return error.node_type || (error.node_id ? `#${error.node_id}` : "");
}

/** The first image output of a job, or null. */
export function firstImage(job) {
  return (job?.outputs || []).find((o) => o.kind === "images" || /\.(png|jpe?g|webp|gif)$/i.test(o.filename || "")) || null;
}

/** The visible window of a virtualised list: first and last row index to draw (with overscan). */
export function visibleRange(scrollTop, viewport, rowHeight, count, overscan = 8) {
  if (count <= 0 || rowHeight <= 0) return { first: 0, last: -1 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { first, last };
}

/** Which pages (of pageSize rows) a row range needs. */
export function pagesFor(first, last, pageSize) {
  const pages = [];
  if (last < first) return pages;
  for (let p = Math.floor(first / pageSize); p <= Math.floor(last / pageSize); p++) pages.push(p);
  return pages;
}
