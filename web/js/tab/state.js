// The tab's state, kept outside the DOM: the frontend rebuilds a custom sidebar tab's element every time it
// opens, so views read from and write to this store and re-render from it (pure: no ComfyUI imports).

const LIVE_FIELDS = ["status", "counts", "done", "progress", "paused", "cancelled", "priority", "updated_at"];

function pick(obj, keys) {
  const out = {};
  for (const k of keys) if (k in obj) out[k] = obj[k];
  return out;
}

/** A small observable store: named topics, each with subscribers; data lives in plain fields. */
export function createState() {
  const topics = new Map();
  const state = {
    route: { view: "list", params: {} },
    locale: "en",
    messages: null,          // the /i18n answer, once fetched
    batches: new Map(),      // id → batch (last known, from the API or from events)
    running: new Set(),      // ids of batches whose status is running (the badge)
    lastSeq: 0,              // highest event seq applied
    connected: true,         // websocket state as ComfyUI reports it
    list: { status: "", q: "", offset: 0, limit: 50, ids: [], total: 0, loaded: false, error: null },
    detail: { batchId: null, status: "", tab: "jobs", scroll: 0 },
    jobs: new Map(),         // "<batch id>|<status filter>" → job cache (jobcache.js)
    progress: new Map(),     // job id → {node, value, max}

    /** Call fn(payload) whenever topic is emitted; returns an unsubscribe function. */
    on(topic, fn) {
      let set = topics.get(topic);
      if (!set) topics.set(topic, (set = new Set()));
      set.add(fn);
      return () => set.delete(fn);
    },

    /** Tell the topic's subscribers something changed (a throwing subscriber does not stop the others). */
    emit(topic, payload) {
      for (const fn of [...(topics.get(topic) || [])]) {
        try {
          fn(payload);
        } catch (err) {
          console.warn(`batchgen: ${topic} subscriber failed`, err);
        }
      }
    },

    /** Remember a batch record and keep the running set in step with it. */
    putBatch(batch) {
      if (!batch?.id) return;
      const known = state.batches.get(batch.id) || {};
      // An API answer can be older than the events applied while it was on its way: keep the newer live fields.
      const newer = known.updated_at > (batch.updated_at ?? 0) ? pick(known, LIVE_FIELDS) : {};
      const merged = { ...known, ...batch, ...newer };
      state.batches.set(batch.id, merged);
      if (merged.status === "running") state.running.add(batch.id);
      else state.running.delete(batch.id);
      return merged;
    },

    /** Forget a deleted batch everywhere. */
    dropBatch(id) {
      state.batches.delete(id);
      state.running.delete(id);
      for (const [key, cache] of state.jobs) if (cache.batchId === id) state.jobs.delete(key);
      state.list.ids = state.list.ids.filter((x) => x !== id);
    },
  };
  return state;
}
