// Pure helpers for batchgen websocket events (no ComfyUI imports, testable in Node).
import { format } from "./tab/i18n.js";

export const EVENT_BATCH = "batchgen.batch";
export const EVENT_JOB = "batchgen.job";

const TERMINAL = new Set(["succeeded", "partial", "failed", "cancelled"]);
const FAILURES = new Set(["partial", "failed"]);

// English text when no translation function is given (and the keys' English values in locales/en/main.json).
const ENGLISH = {
  "batchgen.common.toast.succeeded": "Batch succeeded",
  "batchgen.common.toast.partial": "Batch partial",
  "batchgen.common.toast.failed": "Batch failed",
  "batchgen.common.toast.cancelled": "Batch cancelled",
  "batchgen.common.toast.detail": "{name}: {ok}/{total} succeeded",
  "batchgen.common.toast.failedPart": ", {n} failed",
  "batchgen.common.toast.cancelledPart": ", {n} cancelled",
};
const english = (key, vars) => format(ENGLISH[key] ?? key, vars);

/** The toast to show when a batch event reports a newly finished batch, or null; mode "failures" keeps only those. */
export function finishedToast(batch, previousStatus, t = english, mode = "all") {
  if (!batch || !TERMINAL.has(batch.status) || previousStatus === batch.status) return null;
  if (mode === "off" || (mode === "failures" && !FAILURES.has(batch.status))) return null;
  const c = batch.counts || {};
  const detail = t("batchgen.common.toast.detail", { name: batch.name, ok: c.succeeded ?? 0, total: batch.total }) +
    (c.failed ? t("batchgen.common.toast.failedPart", { n: c.failed }) : "") +
    (c.cancelled ? t("batchgen.common.toast.cancelledPart", { n: c.cancelled }) : "");
  const severity = { succeeded: "success", partial: "warn", failed: "error", cancelled: "info" }[batch.status];
  return { severity, summary: t(`batchgen.common.toast.${batch.status}`), detail, batchId: batch.id };
}
