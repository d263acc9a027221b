// Pure helpers for batchgen websocket events (no ComfyUI imports, testable in Node).

export const EVENT_BATCH = "batchgen.batch";
export const EVENT_JOB = "batchgen.job";

const TERMINAL = new Set(["succeeded", "partial", "failed", "cancelled"]);

/** The toast to show when a batch event reports a newly finished batch, or null. */
export function finishedToast(batch, previousStatus) {
  if (!batch || !TERMINAL.has(batch.status) || previousStatus === batch.status) return null;
  const c = batch.counts || {};
  const detail = `${batch.name}: ${c.succeeded ?? 0}/${batch.total} succeeded` +
    (c.failed ? `, ${c.failed} failed` : "") + (c.cancelled ? `, ${c.cancelled} cancelled` : "");
  const severity = { succeeded: "success", partial: "warn", failed: "error", cancelled: "info" }[batch.status];
  return { severity, summary: `Batch ${batch.status}`, detail };
}
