// The New batch view's CSS: ComfyUI's theme variables only (dark and light palettes), injected once.

const CSS = `
.bgnew { display: flex; flex-direction: column; gap: 10px; padding: 0 2px; color: var(--fg-color); font-size: 13px;
  box-sizing: border-box; max-width: 100%; flex: 1 1 auto; min-height: 0; overflow-y: auto; overflow-x: hidden; }
.bgnew > * { flex: none; }
.bgnew *, .bgnew *::before, .bgnew *::after { box-sizing: border-box; }
.bgnew-section { border: 1px solid var(--border-color); border-radius: 6px; padding: 8px 10px; background: var(--comfy-menu-secondary-bg, var(--comfy-menu-bg)); min-width: 0; }
.bgnew-h { margin: 0 0 6px; font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--descrip-text); }
.bgnew-row { display: grid; grid-template-columns: minmax(84px, 30%) minmax(0, 1fr); gap: 4px 8px; align-items: start; margin: 5px 0; }
.bgnew-label { padding-top: 5px; color: var(--descrip-text); overflow-wrap: anywhere; }
.bgnew-control { min-width: 0; display: flex; flex-direction: column; gap: 4px; }
.bgnew-inline { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; min-width: 0; }
.bgnew input[type=text], .bgnew input[type=number], .bgnew select, .bgnew textarea {
  width: 100%; min-width: 0; background: var(--comfy-input-bg); color: var(--input-text); border: 1px solid var(--border-color);
  border-radius: 4px; padding: 4px 6px; font: inherit; }
.bgnew textarea { resize: vertical; min-height: 84px; font-family: inherit; line-height: 1.35; }
.bgnew .bgnew-inline input, .bgnew .bgnew-inline select { width: auto; flex: 1 1 96px; }
.bgnew input[type=checkbox] { flex: none; width: auto; margin: 0; accent-color: var(--p-primary-color, auto); }
.bgnew label.bgnew-inline { gap: 6px; cursor: pointer; flex-wrap: nowrap; }
.bgnew input:focus, .bgnew select:focus, .bgnew textarea:focus { outline: 1px solid var(--p-primary-color, var(--border-color)); outline-offset: 0; }
.bgnew .bgnew-invalid input, .bgnew .bgnew-invalid select, .bgnew .bgnew-invalid textarea { border-color: var(--error-text); }
.bgnew-problems:empty { display: none; }
.bgnew-problems { color: var(--error-text); font-size: 12px; overflow-wrap: anywhere; }
.bgnew-hint { color: var(--descrip-text); font-size: 12px; overflow-wrap: anywhere; }
.bgnew-badge { display: inline-block; padding: 0 5px; border-radius: 8px; font-size: 11px; border: 1px solid var(--border-color); color: var(--descrip-text); }
.bgnew button { background: var(--comfy-input-bg); color: var(--input-text); border: 1px solid var(--border-color); border-radius: 4px;
  padding: 4px 10px; font: inherit; cursor: pointer; white-space: nowrap; }
.bgnew button:hover:not(:disabled) { background: var(--content-hover-bg, var(--comfy-menu-bg)); }
.bgnew button:disabled { opacity: .5; cursor: not-allowed; }
.bgnew button.bgnew-primary { background: var(--p-primary-color, var(--comfy-input-bg)); color: var(--p-primary-contrast-color, var(--input-text));
  border-color: transparent; font-weight: 600; padding: 6px 18px; }
.bgnew-axis { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr) auto; gap: 4px; margin: 4px 0 8px; }
.bgnew-axis > input[type=text] { grid-column: 1 / -1; }
.bgnew-axis input, .bgnew-axis select { width: 100%; }
.bgnew-table-wrap { overflow-x: auto; max-width: 100%; border: 1px solid var(--border-color); border-radius: 4px; }
.bgnew-table { border-collapse: collapse; width: 100%; font-size: 12px; }
.bgnew-table th, .bgnew-table td { padding: 3px 6px; text-align: left; border-bottom: 1px solid var(--border-color);
  max-width: 220px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bgnew-table th { color: var(--descrip-text); font-weight: 600; position: sticky; top: 0; background: var(--comfy-menu-bg); }
.bgnew-table tr:nth-child(even) td { background: var(--tr-even-bg-color, transparent); }
.bgnew-summary { display: flex; gap: 14px; align-items: baseline; flex-wrap: wrap; font-size: 14px; }
.bgnew-summary strong { font-size: 18px; }
.bgnew-thumbs { display: flex; gap: 4px; flex-wrap: wrap; }
.bgnew-thumbs img { width: 48px; height: 48px; object-fit: cover; border-radius: 3px; border: 1px solid var(--border-color); background: var(--comfy-input-bg); }
.bgnew-actions { display: flex; gap: 8px; align-items: center; justify-content: flex-end; flex-wrap: wrap; padding: 2px 0 8px; }
.bgnew-toolbar { display: flex; align-items: center; gap: 8px; min-height: 30px; }
.bgnew-title { font-size: 15px; font-weight: 600; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bgnew-toolbar .bgnew-total { margin-left: auto; color: var(--descrip-text); font-size: 12px; white-space: nowrap; }
.bgnew-params { display: flex; flex-wrap: wrap; gap: 4px; }
`;

/** Add the stylesheet to the document once. */
export function ensureStyles(doc = document) {
  if (doc.getElementById("batchgen-new-css")) return;
  const style = doc.createElement("style");
  style.id = "batchgen-new-css";
  style.textContent = CSS;
  doc.head.append(style);
}
