// Pure helpers of Settings → BatchGen's server-side controls (web/js/tab/server/logic.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { activeTokens, normaliseOrigin, parseWindow, problem, tokenName, when, windowChoices, windowSummary, withOrigin,
  withoutOrigin } from "../../web/js/tab/server/logic.js";

const t = (key, vars) => `${key}${vars ? JSON.stringify(vars) : ""}`;

test("the window choices are auto then 1..64 and parse back to what PATCH /settings takes", () => {
  const choices = windowChoices();
  assert.equal(choices.length, 65);
  assert.deepEqual(choices.slice(0, 3), ["auto", "1", "2"]);
  assert.equal(choices.at(-1), "64");
  assert.equal(parseWindow("auto"), "auto");
  assert.equal(parseWindow("8"), 8);
  for (const bad of ["0", "65", "-1", "1.5", "", "eight", null, undefined, "08x"]) assert.equal(parseWindow(bad), null, String(bad));
});

test("the summary says pinned, automatic or fixed", () => {
  assert.match(windowSummary({ pinned: true, value: 6 }, t), /window\.pinned\{"n":6\}/);
  assert.match(windowSummary({ pinned: false, value: "auto", window: 4, window_max: 32, window_now: 9 }, t),
    /window\.auto\{"now":9,"min":4,"max":32\}/);
  assert.match(windowSummary({ pinned: false, value: 3, window_now: 3 }, t), /window\.fixed\{"now":3\}/);
  assert.equal(windowSummary(null, t), "");
});

test("origins are normalised like the server's BATCHGEN_CORS_ORIGINS check", () => {
  assert.equal(normaliseOrigin("HTTPS://App.Example.com:443"), "https://app.example.com");
  assert.equal(normaliseOrigin(" http://localhost:3000/ "), "http://localhost:3000");
  assert.equal(normaliseOrigin("http://[::1]:8080"), "http://[::1]:8080");
  for (const bad of ["*", "null", "https://*.example.com", "https://a.example/path", "ftp://x", "https://a.example?x=1",
    "a.example", "https://user:pw@a.example", "", "https://a.example#f"]) {
    assert.equal(normaliseOrigin(bad), null, bad);
  }
});

test("adding and removing origins keeps the list without duplicates", () => {
  assert.deepEqual(withOrigin(["a"], "b"), ["a", "b"]);
  assert.deepEqual(withOrigin(["a", "b"], "a"), ["a", "b"]);
  assert.deepEqual(withoutOrigin(["a", "b"], "a"), ["b"]);
});

test("only active tokens are listed, newest first; names are trimmed and bounded", () => {
  const tokens = [{ id: "1", created_at: 1, revoked: false }, { id: "2", created_at: 3, revoked: true }, { id: "3", created_at: 2 }];
  assert.deepEqual(activeTokens(tokens).map((x) => x.id), ["3", "1"]);
  assert.deepEqual(activeTokens(undefined), []);
  assert.equal(tokenName("  laptop "), "laptop");
  assert.equal(tokenName("   "), null);
  assert.equal(tokenName("x".repeat(101)), null);
});

test("times and errors read as one line", () => {
  assert.equal(when(null, "never"), "never");
  assert.match(when(1788000000, "never", "en"), /2026/);
  assert.equal(problem({ message: "bad origin", code: "invalid_cors_origin" }), "bad origin (invalid_cors_origin)");
  assert.equal(problem(new Error("x")), "x");
});
