// The axes builder's model: rows the user edits (text fields) → the request's `axes` — pure, no ComfyUI imports.

/** A new, empty axis row. */
export function newAxis(param = "") {
  return { param, mode: "values", values: "", range: "", labels: "", name: "" };
}

/** Split a values field: '|' separates when present (values with commas), else ','. */
export function splitList(text) {
  const raw = String(text ?? "");
  if (!raw.trim()) return [];
  const sep = raw.includes("|") ? "|" : ",";
  return raw.split(sep).map((v) => v.trim()).filter((v) => v !== "");
}

/** Values typed for a parameter of this type: {values, error}. */
export function typedValues(text, type) {
  const out = [];
  for (const item of splitList(text)) {
    if (type === "int") {
      if (!/^[-+]?\d+$/.test(item)) return { values: [], error: `'${item}' is not an integer` };
      out.push(Number(item));
    } else if (type === "float") {
      const n = Number(item);
      if (!Number.isFinite(n)) return { values: [], error: `'${item}' is not a number` };
      out.push(n);
    } else {
      out.push(item);
    }
  }
  return { values: out, error: null };
}

/** Number of values of a range "a..b" or "a..b step s" (both ends inclusive), or null when it cannot be read. */
export function rangeCount(text) {
  const m = /^\s*([-+]?\d+(?:\.\d+)?)\s*\.\.\s*([-+]?\d+(?:\.\d+)?)\s*(?:step\s+([-+]?\d+(?:\.\d+)?))?\s*$/.exec(String(text ?? ""));
  if (!m) return null;
  const [a, b] = [Number(m[1]), Number(m[2])];
  const step = m[3] !== undefined ? Number(m[3]) : (b >= a ? 1 : -1);
  if (step === 0 || (b - a) * step < 0) return null;
  const decimals = Math.max(...[m[1], m[2], m[3] ?? "1"].map((s) => (s.split(".")[1] || "").length));
  const scale = 10 ** decimals;
  return Math.floor(Math.round((b - a) * scale) / Math.round(step * scale)) + 1;
}

/** Values of one axis row (for the grid shape): a count, or null. */
export function axisLength(axis, type) {
  if (axis.mode === "range") return rangeCount(axis.range);
  const { values, error } = typedValues(axis.values, type);
  return error ? null : values.length;
}

/** The request's axes from the rows: {axes, errors}; errors are {index, message}. Rows without a parameter are skipped. */
export function axesRequest(rows, typeOf = () => "text") {
  const axes = [];
  const errors = [];
  rows.forEach((row, index) => {
    if (!row.param) return;
    const entry = { param: row.param };
    if (row.mode === "range") {
      if (rangeCount(row.range) === null) errors.push({ index, message: `range '${row.range}' must look like 1..10 or 0.5..2 step 0.5` });
      entry.range = String(row.range).trim();
    } else {
      const { values, error } = typedValues(row.values, typeOf(row.param));
      if (error) errors.push({ index, message: error });
      else if (!values.length) errors.push({ index, message: "give at least one value" });
      entry.values = values;
    }
    const labels = splitList(row.labels);
    if (labels.length) entry.labels = labels;
    if (row.name && row.name.trim()) entry.name = row.name.trim();
    axes.push(entry);
  });
  return { axes, errors };
}

/** "3 × 3 = 9 cells" parts: {dims, cells}; cells is null when a dimension is unknown. */
export function gridShape(rows, typeOf = () => "text") {
  const dims = rows.filter((r) => r.param).map((r) => axisLength(r, typeOf(r.param)));
  const cells = dims.length && dims.every((d) => d !== null) ? dims.reduce((a, b) => a * b, 1) : null;
  return { dims, cells };
}
