// The editor graph of batches made from the canvas without saving a template, kept in the browser (localStorage) so
// their jobs can be opened on the canvas again — pure, no ComfyUI imports (the caller passes the storage).

const KEY = "batchgen.canvasBatches";
const MAX = 20; // newest batches kept; an editor graph is tens of kB and localStorage holds a few MB

function load(storage) {
  try {
    const list = JSON.parse(storage?.getItem(KEY) || "[]");
    return Array.isArray(list) ? list.filter((r) => r && typeof r.id === "string") : [];
  } catch {
    return [];
  }
}

/** Remember {editor_workflow, parameters} for a batch id (oldest dropped first; a full storage drops more). */
export function rememberCanvasBatch(storage, id, record) {
  if (!storage || !id || !record?.editor_workflow) return false;
  let list = [{ id, editor_workflow: record.editor_workflow, parameters: record.parameters || [] },
              ...load(storage).filter((r) => r.id !== id)].slice(0, MAX);
  while (list.length) {
    try {
      storage.setItem(KEY, JSON.stringify(list));
      return true;
    } catch {
      list = list.slice(0, -1); // over quota: keep fewer
    }
  }
  return false;
}

/** The remembered {editor_workflow, parameters} of a batch, or null. */
export function recallCanvasBatch(storage, id) {
  const found = load(storage).find((r) => r.id === id);
  return found ? { editor_workflow: found.editor_workflow, parameters: found.parameters } : null;
}
