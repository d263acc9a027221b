// Live state: websocket events applied to the store, and catch-up from the durable event log (GET /events?after=)
// after a reconnect, a sleep of the laptop or a gap in seq. No polling while the socket is up. The host is passed
// in (host.js in the browser, a fake in Node tests), so this module imports nothing from ComfyUI.
import { mergeBatchEvent, missedBefore } from "./logic.js";

const PAGE = 500;
const MAX_PAGES = 10;   // beyond this many events missed, reloading the views is cheaper than replaying

/** Wire host socket events into state; returns {start(), catchUp(), applyEvent(type, data)}. */
export function createLive({ host, state }) {
  let catching = null;
  let held = [];        // live events that arrived during a catch-up, applied after it

  function applyBatch(data) {
    const known = state.batches.get(data.id);
    const merged = state.putBatch(mergeBatchEvent(known, data));
    state.emit("batch", { batch: merged, isNew: !known });
  }

  function applyJob(data) {
    for (const cache of state.jobs.values()) {
      if (cache.batchId === data.batch_id) cache.apply(data);
    }
    if (data.status !== "running") state.progress.delete(data.id);
    state.emit("job", data);
  }

  /** Apply one event (websocket payload or GET /events data); returns false when it was already applied. */
  function applyEvent(type, data) {
    if (!data) return false;
    if (Number.isInteger(data.seq)) {
      if (data.seq <= state.lastSeq) return false;
      state.lastSeq = data.seq;
    }
    if (type === "batchgen.batch") applyBatch(data);
    else if (type === "batchgen.job") applyJob(data);
    else if (type === "batchgen.batch_deleted") {
      state.dropBatch(data.id);
      state.emit("deleted", data);
      state.emit("running", {});
    } else if (type === "batchgen.contact_sheet" && state.batches.has(data.batch_id)) {
      const merged = state.putBatch({ id: data.batch_id, contact_sheets: data.pages || [] });
      state.emit("batch", { batch: merged, isNew: false });
    }
    return true;
  }

  function onLive(type) {
    return (data) => {
      if (missedBefore(state.lastSeq, data?.seq)) {
        catchUp();   // replays the gap, this event included, in order
        return;
      }
      if (catching) held.push([type, data]);
      else applyEvent(type, data);
    };
  }

  async function replay() {
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await host.request("GET", `/events?after=${state.lastSeq}&limit=${PAGE}`);
      if (state.lastSeq > 0 && res.oldest_seq > state.lastSeq + 1) break;  // retention dropped some: reload
      for (const ev of res.events) applyEvent(ev.type, ev.data);
      if (!res.has_more) {
        state.lastSeq = Math.max(state.lastSeq, res.last_seq || 0);
        return true;
      }
    }
    return false;
  }

  /** Fetch what was missed since lastSeq; when too much was missed, tell the views to reload instead. */
  function catchUp() {
    if (catching) return catching;
    catching = (async () => {
      try {
        const replayed = await replay();
        if (!replayed) {
          const res = await host.request("GET", "/events?after=0&limit=1");
          state.lastSeq = res.last_seq || state.lastSeq;
          await loadRunning();
          state.emit("reload", {});
        }
      } catch (err) {
        console.warn("batchgen: catching up with the event log failed", err);
        state.emit("liveError", err);
      } finally {
        catching = null;
        const later = held;
        held = [];
        for (const [type, data] of later) applyEvent(type, data);
        state.emit("caughtUp", {});
      }
    })();
    return catching;
  }

  /** The running batches (the badge) from the API, replacing what events said so far. */
  async function loadRunning() {
    const res = await host.request("GET", "/batches?status=running&limit=500");
    state.running.clear();
    for (const b of res.batches) state.putBatch(b);
    state.emit("running", {});
  }

  /** Subscribe to the socket and read the starting point: the newest seq and the running batches. */
  async function start() {
    host.onSocket("batchgen.batch", onLive("batchgen.batch"));
    host.onSocket("batchgen.job", onLive("batchgen.job"));
    host.onSocket("batchgen.batch_deleted", onLive("batchgen.batch_deleted"));
    host.onSocket("batchgen.contact_sheet", onLive("batchgen.contact_sheet"));
    host.onSocket("batchgen.health", (h) => { state.health = h; state.emit("health", h); });
    host.onSocket("batchgen.progress", (p) => {
      if (!p?.job_id) return;
      state.progress.set(p.job_id, p);
      state.emit("progress", p);
    });
    host.onSocket("reconnecting", () => { state.connected = false; state.emit("connection", false); });
    host.onSocket("reconnected", () => {
      state.connected = true;
      state.emit("connection", true);
      catchUp();
    });
    const head = await host.request("GET", "/events?after=0&limit=1");
    state.lastSeq = Math.max(state.lastSeq, head.last_seq || 0);
    await loadRunning();
  }

  return { start, catchUp, applyEvent, loadRunning };
}
