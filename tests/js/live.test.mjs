// Live state: websocket events, seq gaps and catch-up from the event log, with a fake host (no ComfyUI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createState } from "../../web/js/tab/state.js";
import { createLive } from "../../web/js/tab/live.js";
import { createJobCache } from "../../web/js/tab/jobcache.js";

function fakeHost(log) {
  const handlers = new Map();
  const calls = [];
  return {
    calls,
    handlers,
    onSocket(type, fn) { handlers.set(type, fn); return () => handlers.delete(type); },
    async request(method, path) {
      calls.push(path);
      const m = path.match(/^\/events\?after=(\d+)&limit=(\d+)/);
      if (m) {
        const after = Number(m[1]);
        const events = log.events.filter((e) => e.seq > after).slice(0, Number(m[2]));
        return { events, last_seq: log.events.at(-1)?.seq ?? 0, oldest_seq: log.events[0]?.seq ?? 0,
          has_more: events.length > 0 && events.at(-1).seq < (log.events.at(-1)?.seq ?? 0) };
      }
      if (path.startsWith("/batches?status=running")) return { batches: log.running || [], total: 0 };
      const j = path.match(/^\/batches\/(\w+)\/jobs/);
      if (j) return { jobs: log.jobs.slice(0, 200), total: log.jobs.length };
      throw new Error(`unexpected ${path}`);
    },
  };
}

const counts = (c) => ({ pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, ...c });
const batchEv = (seq, status, c) => ({ seq, type: "batchgen.batch",
  data: { seq, id: "b1", name: "cards", status, total: 3, counts: counts(c), paused: false, updated_at: seq } });

test("events update the batch and the running badge; a replayed event is applied once", async () => {
  const log = { events: [batchEv(1, "pending", { pending: 3 })] };
  const host = fakeHost(log);
  const state = createState();
  await createLive({ host, state }).start();
  assert.equal(state.lastSeq, 1);
  const onBatch = host.handlers.get("batchgen.batch");
  onBatch(batchEv(2, "running", { queued: 1, pending: 2 }).data);
  assert.equal(state.batches.get("b1").status, "running");
  assert.equal(state.running.size, 1);
  onBatch(batchEv(2, "running", { queued: 1, pending: 2 }).data);  // again: ignored
  onBatch(batchEv(3, "succeeded", { succeeded: 3 }).data);
  assert.equal(state.batches.get("b1").done, 3);
  assert.equal(state.running.size, 0);
});

test("a gap in seq (missed while asleep) is filled from the event log, in order, then live events go on", async () => {
  const log = { events: [batchEv(1, "pending", { pending: 3 })] };
  const host = fakeHost(log);
  const state = createState();
  const live = createLive({ host, state });
  await live.start();
  log.events.push(batchEv(2, "running", { succeeded: 1, pending: 2 }), batchEv(3, "running", { succeeded: 2, pending: 1 }),
    batchEv(4, "partial", { succeeded: 2, failed: 1 }));
  const caught = new Promise((resolve) => state.on("caughtUp", resolve));
  host.handlers.get("batchgen.batch")(log.events[3].data);  // seq 4 arrives; 2 and 3 were missed
  await caught;
  assert.equal(state.lastSeq, 4);
  assert.equal(state.batches.get("b1").status, "partial");
  assert.ok(host.calls.includes("/events?after=1&limit=500"), host.calls);
});

test("after a reconnect (ComfyUI restarted) the tab catches up from the last seq it saw", async () => {
  const log = { events: [batchEv(1, "running", { pending: 3 })] };
  const host = fakeHost(log);
  const state = createState();
  await createLive({ host, state }).start();
  const seen = [];
  state.on("connection", (up) => seen.push(up));
  host.handlers.get("reconnecting")();
  assert.equal(state.connected, false);
  log.events.push(batchEv(2, "succeeded", { succeeded: 3 }));
  const caught = new Promise((resolve) => state.on("caughtUp", resolve));
  host.handlers.get("reconnected")();
  await caught;
  assert.deepEqual(seen, [false, true]);
  assert.equal(state.batches.get("b1").counts.succeeded, 3);
});

test("an API answer older than the events already applied does not roll the counts back", () => {
  const state = createState();
  state.putBatch({ id: "b1", status: "succeeded", counts: counts({ succeeded: 3 }), updated_at: 20, template_id: "t" });
  state.putBatch({ id: "b1", status: "running", counts: counts({ queued: 3 }), updated_at: 10, created_at: 1 });
  const b = state.batches.get("b1");
  assert.equal(b.status, "succeeded");
  assert.equal(b.created_at, 1);  // fields the events do not carry still come from the answer
});

test("a deleted batch disappears from the store and the badge", async () => {
  const log = { events: [batchEv(1, "running", { pending: 3 })] };
  const host = fakeHost(log);
  const state = createState();
  await createLive({ host, state }).start();
  host.handlers.get("batchgen.batch")(batchEv(2, "running", { queued: 3 }).data);
  host.handlers.get("batchgen.batch_deleted")({ seq: 3, id: "b1" });
  assert.equal(state.batches.has("b1"), false);
  assert.equal(state.running.size, 0);
});

test("job events update the rows already loaded; a new matching job marks the page stale", async () => {
  const log = { events: [], jobs: Array.from({ length: 3 }, (_, i) => ({ id: i + 1, idx: i, status: "queued", batch_id: "b1" })) };
  const host = fakeHost(log);
  const state = createState();
  await createLive({ host, state }).start();
  const all = createJobCache(host, "b1", "");
  const ok = createJobCache(host, "b1", "succeeded");
  state.jobs.set("b1|", all);
  state.jobs.set("b1|succeeded", ok);
  await all.ensure(0, 2);
  assert.equal(all.total, 3);
  host.handlers.get("batchgen.job")({ seq: 1, id: 2, idx: 1, batch_id: "b1", status: "succeeded", outputs: [] });
  assert.equal(all.rows.get(1).status, "succeeded");
  assert.equal(ok.stale, true);  // the gallery has a new image to fetch
  assert.equal(all.stale, false);
});

test("the job cache fetches only the pages on screen, once", async () => {
  const log = { events: [], jobs: Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, idx: i, status: "succeeded" })) };
  const host = fakeHost(log);
  const cache = createJobCache(host, "b1", "");
  assert.equal(await cache.ensure(0, 30), 1);
  assert.equal(await cache.ensure(0, 30), 0);
  assert.equal(host.calls.length, 1);
});

test("a retry's answer arriving after the job's events does not put back its stale 'queued' row", async () => {
  const log = { events: [], jobs: [{ id: 7, idx: 0, status: "failed", attempts: 1, batch_id: "b1" }] };
  const host = fakeHost(log);
  const state = createState();
  await createLive({ host, state }).start();
  const failed = createJobCache(host, "b1", "failed");
  state.jobs.set("b1|failed", failed);
  await failed.ensure(0, 0);
  const shown = failed.rows.get(0);
  // The retried job runs and fails again; its events come over the socket before the POST's answer.
  host.handlers.get("batchgen.job")({ seq: 1, id: 7, idx: 0, batch_id: "b1", status: "running", attempts: 2 });
  host.handlers.get("batchgen.job")({ seq: 2, id: 7, idx: 0, batch_id: "b1", status: "failed", attempts: 2 });
  assert.equal(failed.putAnswer(shown, { id: 7, idx: 0, status: "queued", attempts: 1, batch_id: "b1" }), false);
  assert.equal(failed.rows.get(0).status, "failed");
  assert.equal(failed.rows.get(0).attempts, 2);
  // With no event in between, the answer is what the row shows.
  const now = failed.rows.get(0);
  assert.equal(failed.putAnswer(now, { ...now, status: "queued" }), true);
  assert.equal(failed.rows.get(0).status, "queued");
});
