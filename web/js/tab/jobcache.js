// A batch's jobs, fetched page by page as the virtualised table or gallery scrolls (a 10,000-job batch is never
// loaded whole), and kept up to date by job events. The host is passed in, so this runs under Node too.
import { pagesFor, query } from "./logic.js";

export const PAGE_SIZE = 200;

/** The cache for one batch and status filter: rows by position, fetched on demand. */
export function createJobCache(host, batchId, status = "") {
  const rows = new Map();     // position → job
  const byId = new Map();     // job id → position
  const loading = new Map();  // page → promise
  const cache = { batchId, status, total: null, rows, byId, stale: false, range: null };

  /** Fetch one page (positions page*PAGE_SIZE …); resolves when its rows are in. */
  cache.page = (page) => {
    if (loading.has(page)) return loading.get(page);
    const offset = page * PAGE_SIZE;
    const p = host.request("GET", `/batches/${batchId}/jobs${query({ status, limit: PAGE_SIZE, offset })}`).then((res) => {
      cache.total = res.total;
      res.jobs.forEach((job, i) => {
        rows.set(offset + i, job);
        byId.set(job.id, offset + i);
      });
      return res;
    }).finally(() => loading.delete(page));
    loading.set(page, p);
    return p;
  };

  /** Make sure rows first..last are loaded (missing pages only). */
  cache.ensure = async (first, last) => {
    cache.range = [first, last];
    const known = cache.total;
    const need = pagesFor(first, last, PAGE_SIZE)
      .filter((p) => !rows.has(p * PAGE_SIZE) && (known == null || p * PAGE_SIZE < known));
    await Promise.all(need.map(cache.page));
    return need.length;
  };

  /** Merge a job event; returns true when a loaded row changed, marks the cache stale when a new row may belong in it. */
  cache.apply = (event) => {
    const pos = byId.get(event.id);
    if (pos != null) {
      const { seq, ...fields } = event;
      rows.set(pos, { ...rows.get(pos), ...fields });
      return true;
    }
    if (!status || status.split(",").includes(event.status)) cache.stale = true;
    return false;
  };

  /** Put an HTTP answer for a job shown as `before` (e.g. a retry's), unless a job event changed the row meanwhile:
   * the websocket can report the retried job running and failing again before the POST's answer arrives. */
  cache.putAnswer = (before, fresh) => {
    const pos = byId.get(before.id);
    if (pos == null || rows.get(pos) !== before) return false;
    rows.set(pos, fresh);
    return true;
  };

  /** Fetch again the pages on screen (or the first): new rows and the new total, without blanking what is shown. */
  cache.refresh = async () => {
    cache.stale = false;
    const [first, last] = cache.range || [0, 0];
    const pages = pagesFor(first, Math.max(first, last), PAGE_SIZE);
    await Promise.all(pages.map(cache.page));
  };

  /** Forget everything (after a reload, retry or filter change), keeping the total until the next answer. */
  cache.clear = () => {
    rows.clear();
    byId.clear();
    cache.stale = false;
  };

  return cache;
}
