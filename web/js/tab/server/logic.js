// Pure helpers of the server-side settings (feed window, tokens, browser origins) shown in ComfyUI's settings dialog.
// No DOM, no ComfyUI: tested with node --test (tests/js/server_settings.test.mjs). The server checks everything again.

export const WINDOW_LIMIT = 64;
export const AUTO = "auto";
export const SCOPES = ["read", "submit", "admin"];

/** The choices of the feed-window select: "auto" then 1..limit, as strings (a <select>'s values). */
export function windowChoices(limit = WINDOW_LIMIT) {
  return [AUTO, ...Array.from({ length: limit }, (_, i) => String(i + 1))];
}

/** A select's value → what PATCH /settings takes ("auto" or an integer); null for anything else. */
export function parseWindow(text, limit = WINDOW_LIMIT) {
  if (text === AUTO) return AUTO;
  if (!/^\d{1,3}$/.test(String(text ?? ""))) return null;
  const n = Number(text);
  return n >= 1 && n <= limit ? n : null;
}

/** The line under the select: what the dispatcher uses now. */
export function windowSummary(feed, t) {
  if (!feed) return "";
  if (feed.pinned) return t("batchgen.server.window.pinned", { n: feed.value });
  if (feed.value === AUTO) return t("batchgen.server.window.auto", { now: feed.window_now, min: feed.window, max: feed.window_max });
  return t("batchgen.server.window.fixed", { now: feed.window_now });
}

/**
 * An origin as the server stores it (scheme://host[:port], lowercase, default port dropped), or null when the server
 * would refuse it: *, null, a path, query, fragment or credentials. Mirrors batchgen/config.py:normalise_origin.
 */
export function normaliseOrigin(text) {
  const raw = String(text ?? "").trim();
  if (!raw || raw.includes("*") || !/^https?:\/\/[^/?#]+\/?$/i.test(raw)) return null;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password || !url.hostname) return null;
  return `${url.protocol}//${url.host}`.toLowerCase();
}

/** The saved list with ``origin`` added (at the end, once). */
export function withOrigin(list, origin) {
  return list.includes(origin) ? [...list] : [...list, origin];
}

/** The saved list without ``origin``. */
export function withoutOrigin(list, origin) {
  return list.filter((o) => o !== origin);
}

/** Tokens to list: active ones, newest first (revoked ones are kept by the server for its records only). */
export function activeTokens(tokens) {
  return (Array.isArray(tokens) ? tokens : []).filter((tok) => !tok.revoked)
    .sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0));
}

/** A Unix time as a short local date-time, or the "never" text for null. */
export function when(seconds, never, locale) {
  if (seconds == null) return never;
  try {
    return new Date(seconds * 1000).toLocaleString(locale || undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
  }
}

/** A refused request as one line: the server's sentence and its code. */
export function problem(err) {
  const message = err?.message || String(err);
  return err?.code ? `${message} (${err.code})` : message;
}

/** A token name the server takes: 1-100 characters once trimmed. */
export function tokenName(text) {
  const name = String(text ?? "").trim();
  return name.length >= 1 && name.length <= 100 ? name : null;
}
