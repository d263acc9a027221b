// The dry-run panel (count, ETA, first rows) and the problems shown next to their fields (no ComfyUI imports).
import { h, fill } from "./dom.js";
import { etaText } from "./form.js";
import { problemField } from "./problems.js";

/** Columns of the first rows: parameters in order of appearance, seed last. */
export function previewColumns(jobs) {
  const cols = [];
  for (const job of jobs) for (const k of Object.keys(job.params || {})) if (k !== "seed" && !cols.includes(k)) cols.push(k);
  if (jobs.some((j) => j.seed !== null && j.seed !== undefined)) cols.push("seed");
  return cols;
}

function cell(value) {
  const text = value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  return h("td", { title: text }, text);
}

/** Fill the preview panel from a preview answer (or the state before one). */
export function drawPreview(panel, preview, t, { pending = false } = {}) {
  const summary = h("div", { class: "bgnew-summary" });
  if (pending) summary.append(h("span", { class: "bgnew-hint", dataset: { testid: "preview-pending" } }, t("checking")));
  if (preview && preview.total !== null && preview.total !== undefined) {
    summary.append(h("span", { dataset: { testid: "preview-total" } }, h("strong", {}, String(preview.total)), " ", t("jobs")));
    const eta = etaText(preview.eta?.seconds);
    summary.append(h("span", { class: "bgnew-hint", dataset: { testid: "preview-eta" }, title: preview.eta?.reason || "" },
      eta ? t("eta", { t: eta }) : t("eta_none")));
    if (preview.reproducible === false) summary.append(h("span", { class: "bgnew-hint" }, t("not_reproducible")));
  }
  const jobs = preview?.jobs || [];
  const parts = [summary, h("div", { class: "bgnew-problems", dataset: { problems: "general" }, role: "alert" })];
  if (jobs.length) {
    const cols = previewColumns(jobs);
    parts.push(h("div", { class: "bgnew-hint" }, t("first_rows", { n: jobs.length, total: preview.total ?? jobs.length })));
    parts.push(h("div", { class: "bgnew-table-wrap" }, h("table", { class: "bgnew-table", dataset: { testid: "preview-rows" } },
      h("thead", {}, h("tr", {}, h("th", {}, "#"), cols.map((c) => h("th", {}, c)))),
      h("tbody", {}, jobs.map((j) => h("tr", {}, cell(j.idx + 1), cols.map((c) => cell(c === "seed" ? j.seed : j.params?.[c]))))))));
  }
  fill(panel, ...parts);
}

/** Put each problem next to its field (a field without a slot shows it in the preview's general slot); returns how many. */
export function showProblems(root, problems, paramNames) {
  for (const slot of root.querySelectorAll("[data-problems]")) slot.replaceChildren();
  for (const rowEl of root.querySelectorAll(".bgnew-invalid")) rowEl.classList.remove("bgnew-invalid");
  let shown = 0;
  for (const p of problems) {
    const key = p.field ?? problemField(p, paramNames);
    const slot = root.querySelector(`[data-problems="${CSS.escape(key)}"]`) || root.querySelector('[data-problems="general"]');
    if (!slot) continue;
    slot.append(h("div", { dataset: { code: p.error ?? "local" } }, p.message));
    slot.closest(".bgnew-row")?.classList.add("bgnew-invalid");
    shown += 1;
  }
  return shown;
}
