// The "Feed window" control of Settings → BatchGen: the server's value is the truth (read on every opening, PATCHed on
// change; a refused change shows the server's sentence in place and the select goes back to what is in effect).
import { h, warn } from "../dom.js";
import { parseWindow, problem, windowChoices, windowSummary } from "./logic.js";

/** Build the control; ``ctx`` = {request(method, path, body), t}. Never throws: failures are shown inside it. */
export function feedWindowControl(ctx) {
  const { t } = ctx;
  const select = h("select", { class: "bgn-input bgn-settings-select", "data-testid": "bgn-feed-window", disabled: true,
                               "aria-label": t("batchgen.server.window.label") });
  const summary = h("div", { class: "bgn-muted bgn-small", "data-testid": "bgn-feed-window-summary" }, t("batchgen.common.loading"));
  const error = h("div", { class: "bgn-settings-error", role: "alert", hidden: true, "data-testid": "bgn-feed-window-error" });
  const root = h("div", { class: "batchgen-tab bgn-settings bgn-settings-window" }, select, summary, error);
  let shown = null;  // the server's feed_window as last answered

  for (const value of windowChoices()) {
    select.append(h("option", { value }, value === "auto" ? t("batchgen.server.window.automatic") : value));
  }

  function show(settings) {
    shown = settings.feed_window;
    select.value = String(shown.value);
    select.disabled = shown.pinned;
    summary.textContent = windowSummary(shown, t);
  }

  function fail(err) {
    error.textContent = problem(err);
    error.hidden = false;
    if (shown) select.value = String(shown.value);
  }

  // After a refusal, what is in effect is asked again (the server decides; another admin may have changed it).
  function resync() {
    return ctx.request("GET", "/settings").then(show, () => {});
  }

  select.addEventListener("change", async () => {
    const value = parseWindow(select.value);
    if (value === null) return;
    error.hidden = true;
    select.disabled = true;
    try {
      show(await ctx.request("PATCH", "/settings", { feed_window: value }));
    } catch (err) {
      fail(err);
      await resync();
    } finally {
      select.disabled = Boolean(shown?.pinned) || !shown;
    }
  });

  ctx.request("GET", "/settings").then(show, (err) => { summary.textContent = ""; fail(err); })
    .catch((err) => warn("feed window", err));
  return root;
}
