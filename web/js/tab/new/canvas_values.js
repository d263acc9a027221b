// Writing one job's values into a workflow: the editor graph's widgets or an API graph — pure, no ComfyUI imports.

/** {"node_id.input": value} for a job: each parameter it has, written to every slot of that parameter. */
export function slotValues(parameters, job) {
  const values = {};
  const params = { ...(job?.params || {}) };
  if (job && job.seed !== null && job.seed !== undefined && params.seed === undefined) params.seed = job.seed;
  for (const p of parameters || []) {
    if (!(p.name in params)) continue;
    for (const slot of p.slots || []) values[slot] = params[p.name];
  }
  return values;
}

function split(slot) {
  const i = slot.indexOf(".");
  return [slot.slice(0, i), slot.slice(i + 1)];
}

/** Set widget values on a live graph (LiteGraph: getNodeById, node.widgets[].name/value); returns {set, missing}. */
export function applyToGraph(graph, values) {
  const set = [];
  const missing = [];
  for (const [slot, value] of Object.entries(values)) {
    const [nodeId, input] = split(slot);
    const node = graph?.getNodeById?.(Number(nodeId)) ?? graph?.getNodeById?.(nodeId);
    const widget = node?.widgets?.find((w) => w.name === input);
    if (!widget) {
      missing.push(slot);
      continue;
    }
    widget.value = value;
    set.push(slot);
  }
  graph?.setDirtyCanvas?.(true, true);
  return { set, missing };
}

/** A copy of an API graph with the values written into the node inputs. */
export function fillApiGraph(workflow, values) {
  const out = JSON.parse(JSON.stringify(workflow || {}));
  for (const [slot, value] of Object.entries(values)) {
    const [nodeId, input] = split(slot);
    if (out[nodeId]) (out[nodeId].inputs ??= {})[input] = value;
  }
  return out;
}
