// The only module that touches ComfyUI's frontend objects (app, api).
// Depth-relative imports: this file is served at /extensions/<folder>/js/host.js.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

export { app, api };

/** Show a toast through the extension manager (present on every supported frontend). */
export function toast(severity, summary, detail, life = 6000) {
  app.extensionManager?.toast?.add({ severity, summary, detail, life });
}
