// Text lookup for the tab (pure: no ComfyUI imports). Messages come from ComfyUI's /i18n, which merges our
// locales/<lang>/main.json with every other custom node's; the tab follows Comfy.Locale and falls back to English.

/** The message tree for a locale: {lang → messages}; "zh-CN" finds "zh", anything unknown finds "en". */
export function pickLocale(all, lang) {
  if (!all || typeof all !== "object") return {};
  if (lang && all[lang]) return all[lang];
  const base = String(lang || "").split(/[-_]/)[0];
  return all[base] || all.en || {};
}

function lookup(tree, key) {
  let node = tree;
  for (const part of key.split(".")) {
    if (node == null || typeof node !== "object") return undefined;
    node = node[part];
  }
  return typeof node === "string" ? node : undefined;
}

/** Replace {name} placeholders with vars.name (missing ones stay visible, so a bug shows). */
export function format(text, vars) {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** A t(key, vars) function: the locale's text, else English, else the key itself. */
export function makeT(all, lang) {
  const primary = pickLocale(all, lang);
  const english = (all && all.en) || {};
  return (key, vars) => format(lookup(primary, key) ?? lookup(english, key) ?? key, vars);
}
