// The "Remote access" control of Settings → BatchGen: API tokens (list, create — the value shown once —, revoke) and the
// browser origins our CORS answers for (the environment's read-only, saved ones added and removed here).
import { h, warn } from "../dom.js";
import { SCOPES, activeTokens, normaliseOrigin, problem, tokenName, when, withOrigin, withoutOrigin } from "./logic.js";

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (or not a secure context): select it and use the legacy command.
    input.select();
    try { return document.execCommand("copy"); } catch { return false; }
  }
}

/** A button that asks once more in place before ``action`` (no modal: it works the same on every frontend). */
function confirmButton(t, label, question, action, testid) {
  const wrap = h("span", { class: "bgn-settings-confirm" });
  const start = () => {
    wrap.replaceChildren(h("span", { class: "bgn-small" }, question),
      h("button", { class: "bgn-btn bgn-danger", "data-testid": `${testid}-yes`, onclick: action }, t("batchgen.server.yes")),
      h("button", { class: "bgn-btn", onclick: idle }, t("batchgen.server.no")));
  };
  const idle = () => wrap.replaceChildren(h("button", { class: "bgn-btn bgn-danger", "data-testid": testid, onclick: start }, label));
  idle();
  return wrap;
}

function tokensSection(ctx) {
  const { t } = ctx;
  const list = h("div", { class: "bgn-settings-list", "data-testid": "bgn-token-list" });
  const error = h("div", { class: "bgn-settings-error", role: "alert", hidden: true, "data-testid": "bgn-token-error" });
  const created = h("div", { class: "bgn-settings-created", hidden: true, "data-testid": "bgn-token-created" });
  const name = h("input", { class: "bgn-input", type: "text", maxlength: "100", placeholder: t("batchgen.server.tokens.namePlaceholder"),
                            "aria-label": t("batchgen.server.tokens.name"), "data-testid": "bgn-token-name" });
  const scope = h("select", { class: "bgn-input", "aria-label": t("batchgen.server.tokens.scope"), "data-testid": "bgn-token-scope" },
    SCOPES.map((s) => h("option", { value: s }, t(`batchgen.server.scope.${s}`))));
  scope.value = "submit";
  const create = h("button", { class: "bgn-btn bgn-primary", "data-testid": "bgn-token-create" }, t("batchgen.server.tokens.create"));

  const fail = (err) => { error.textContent = problem(err); error.hidden = false; };

  function row(tok) {
    const revoke = async () => {
      error.hidden = true;
      try {
        await ctx.request("DELETE", `/tokens/${encodeURIComponent(tok.id)}`);
      } catch (err) {
        fail(err);
      }
      await load();
    };
    return h("div", { class: "bgn-settings-row", "data-testid": "bgn-token-row", dataset: { name: tok.name } },
      h("span", { class: "bgn-settings-name", title: tok.name }, tok.name),
      h("span", { class: "bgn-settings-tag" }, t(`batchgen.server.scope.${tok.scope}`)),
      h("span", { class: "bgn-muted bgn-small" }, t("batchgen.server.tokens.created", { when: when(tok.created_at, "", ctx.locale?.()) })),
      h("span", { class: "bgn-muted bgn-small" }, t("batchgen.server.tokens.used",
        { when: when(tok.last_used_at, t("batchgen.server.tokens.never"), ctx.locale?.()) })),
      confirmButton(t, t("batchgen.server.tokens.revoke"), t("batchgen.server.tokens.revokeQuestion", { name: tok.name }), revoke,
        "bgn-token-revoke"));
  }

  async function load() {
    try {
      const tokens = activeTokens((await ctx.request("GET", "/tokens")).tokens);
      list.replaceChildren(...(tokens.length ? tokens.map(row)
        : [h("div", { class: "bgn-muted bgn-small" }, t("batchgen.server.tokens.none"))]));
    } catch (err) {
      list.replaceChildren();
      fail(err);
    }
  }

  function reveal(answer) {
    const value = h("input", { class: "bgn-input bgn-settings-secret", type: "text", readOnly: true, value: answer.token,
                               "data-testid": "bgn-token-value", onfocus: (e) => e.target.select() });
    const copied = h("span", { class: "bgn-small", "data-testid": "bgn-token-copied" });
    const copy = h("button", { class: "bgn-btn", "data-testid": "bgn-token-copy", onclick: async () => {
      copied.textContent = (await copyText(answer.token, value)) ? t("batchgen.server.tokens.copied") : t("batchgen.server.tokens.copyFailed");
    } }, t("batchgen.server.tokens.copy"));
    const done = h("button", { class: "bgn-btn", "data-testid": "bgn-token-done", onclick: () => {
      created.replaceChildren();  // the value is gone from the page for good
      created.hidden = true;
    } }, t("batchgen.server.tokens.done"));
    created.replaceChildren(
      h("div", { class: "bgn-settings-warning" }, t("batchgen.server.tokens.once", { name: answer.name })),
      h("div", { class: "bgn-settings-inline" }, value, copy, done), copied);
    created.hidden = false;
  }

  create.addEventListener("click", async () => {
    error.hidden = true;
    const chosen = tokenName(name.value);
    if (!chosen) {
      fail({ message: t("batchgen.server.tokens.nameNeeded") });
      return;
    }
    create.disabled = true;
    try {
      reveal(await ctx.request("POST", "/tokens", { name: chosen, scope: scope.value }));
      name.value = "";
      await load();
    } catch (err) {
      fail(err);
    } finally {
      create.disabled = false;
    }
  });

  load().catch((err) => warn("tokens", err));
  return h("div", { class: "bgn-settings-section" },
    h("div", { class: "bgn-settings-heading" }, t("batchgen.server.tokens.title")),
    h("div", { class: "bgn-muted bgn-small" }, t("batchgen.server.tokens.hint")),
    list, h("div", { class: "bgn-settings-inline" }, name, scope, create), created, error);
}

function originsSection(ctx) {
  const { t } = ctx;
  const list = h("div", { class: "bgn-settings-list", "data-testid": "bgn-origin-list" });
  const error = h("div", { class: "bgn-settings-error", role: "alert", hidden: true, "data-testid": "bgn-origin-error" });
  const input = h("input", { class: "bgn-input", type: "text", placeholder: "https://app.example.com",
                             "aria-label": t("batchgen.server.origins.add"), "data-testid": "bgn-origin-input" });
  const add = h("button", { class: "bgn-btn bgn-primary", "data-testid": "bgn-origin-add" }, t("batchgen.server.origins.add"));
  let saved = [];

  const fail = (err) => { error.textContent = problem(err); error.hidden = false; };

  function show(settings) {
    saved = settings.cors_origins.saved;
    const env = settings.cors_origins.environment.map((origin) => h("div", { class: "bgn-settings-row", "data-testid": "bgn-origin-row" },
      h("span", { class: "bgn-settings-name" }, origin),
      h("span", { class: "bgn-settings-tag" }, t("batchgen.server.origins.fromEnv"))));
    const mine = saved.map((origin) => h("div", { class: "bgn-settings-row", "data-testid": "bgn-origin-row", dataset: { origin } },
      h("span", { class: "bgn-settings-name" }, origin),
      h("button", { class: "bgn-btn bgn-danger", "data-testid": "bgn-origin-remove", onclick: () => save(withoutOrigin(saved, origin)) },
        t("batchgen.server.origins.remove"))));
    list.replaceChildren(...(env.length + mine.length ? [...env, ...mine]
      : [h("div", { class: "bgn-muted bgn-small" }, t("batchgen.server.origins.none"))]));
  }

  async function save(origins) {
    error.hidden = true;
    try {
      show(await ctx.request("PATCH", "/settings", { cors_origins: origins }));
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  add.addEventListener("click", async () => {
    const origin = normaliseOrigin(input.value);
    if (!origin) {
      // The same rule as the server's (which checks again): no request for what it would refuse.
      fail({ message: t("batchgen.server.origins.invalid", { origin: input.value.trim() }) });
      return;
    }
    add.disabled = true;
    if (await save(withOrigin(saved, origin))) input.value = "";
    add.disabled = false;
  });

  ctx.request("GET", "/settings").then(show, fail).catch((err) => warn("origins", err));
  return h("div", { class: "bgn-settings-section" },
    h("div", { class: "bgn-settings-heading" }, t("batchgen.server.origins.title")),
    h("div", { class: "bgn-muted bgn-small" }, t("batchgen.server.origins.hint")),
    list, h("div", { class: "bgn-settings-inline" }, input, add), error);
}

/** Build the control; ``ctx`` = {request(method, path, body), t, locale()}. Never throws: failures are shown inside it. */
export function remoteAccessControl(ctx) {
  return h("div", { class: "batchgen-tab bgn-settings bgn-settings-remote", "data-testid": "bgn-remote-access" }, tokensSection(ctx), originsSection(ctx));
}
