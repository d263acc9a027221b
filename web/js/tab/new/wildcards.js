// Live count of wildcard prompts ({a|b}, nesting, {2::a|b} weights, \{ escapes) — pure, no ComfyUI imports.
// The server's preview is authoritative; this gives an instant figure while typing. __name__ files are only
// known to the server, so a line using one is reported as "files" (its count comes from the preview).

const REF = /__[\w\-./]+?__/;

/** Count the combinations of one text: {count, files, error}; count is a lower bound when files is true. */
export function countVariants(text) {
  const files = REF.test(text.replace(/\\_/g, ""));
  try {
    const [count, pos] = seq(text, 0, 0);
    if (pos < text.length) return { count: 1, files, error: `unmatched '}' at ${pos + 1}` };
    return { count, files, error: null };
  } catch (err) {
    return { count: 1, files, error: err.message };
  }
}

// Count a sequence up to an unescaped '|' or '}' (inside a group) or the end; returns [count, position].
function seq(text, pos, depth) {
  let count = 1;
  while (pos < text.length) {
    const ch = text[pos];
    if (ch === "\\" && pos + 1 < text.length) { pos += 2; continue; }
    if (ch === "{") {
      const [n, end] = group(text, pos + 1, depth + 1);
      count *= n;
      pos = end;
      continue;
    }
    if (depth > 0 && (ch === "|" || ch === "}")) return [count, pos];
    if (depth === 0 && ch === "}") return [count, pos];
    pos += 1;
  }
  if (depth > 0) throw new Error("unclosed '{'");
  return [count, pos];
}

function group(text, pos, depth) {
  if (depth > 12) throw new Error("groups nested too deep");
  let total = 0;
  for (;;) {
    const weight = /^\s*\d+(?:\.\d+)?\s*::/.exec(text.slice(pos));
    if (weight) pos += weight[0].length;
    const [n, end] = seq(text, pos, depth);
    total += n;
    if (end >= text.length) throw new Error("unclosed '{'");
    if (text[end] === "}") return [total, end + 1];
    pos = end + 1; // past '|'
  }
}

/** Jobs the prompts make with wildcards: {total, exact, error}; mode is "off", "combinatorial" or "random". */
export function wildcardTotal(lines, mode, randomCount = 1) {
  if (mode === "off" || !lines.length) return { total: lines.length, exact: true, error: null };
  let total = 0;
  let exact = true;
  for (const line of lines) {
    const found = countVariants(line);
    if (found.error) return { total: null, exact: false, error: found.error };
    const has = found.files || found.count > 1 || /[{}]/.test(line);
    if (found.files) exact = false;
    if (mode === "random") total += has ? Math.max(1, randomCount) : 1;
    else total += found.count;
  }
  return { total, exact, error: null };
}
