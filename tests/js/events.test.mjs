// The finished-batch toast: when it shows, its text in English and Chinese, and the notification setting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { finishedToast } from "../../web/js/events.js";
import { makeT } from "../../web/js/tab/i18n.js";
import { SETTINGS, pageSize, serverSettings } from "../../web/js/tab/settings.js";

const messages = {
  en: JSON.parse(readFileSync(new URL("../../locales/en/main.json", import.meta.url))),
  zh: JSON.parse(readFileSync(new URL("../../locales/zh/main.json", import.meta.url))),
};
const batch = { id: "b1", name: "绘本", status: "partial", total: 3, counts: { succeeded: 2, failed: 1, cancelled: 0 } };

test("a newly finished batch gets one toast; the same status again gets none", () => {
  const msg = finishedToast(batch, "running");
  assert.deepEqual(msg, { severity: "warn", summary: "Batch partial", detail: "绘本: 2/3 succeeded, 1 failed", batchId: "b1" });
  assert.equal(finishedToast(batch, "partial"), null);
  assert.equal(finishedToast({ ...batch, status: "running" }, "pending"), null);
});

test("the toast speaks the UI language, from the same locale files as the tab", () => {
  assert.equal(finishedToast(batch, "running", makeT(messages, "en")).detail, "绘本: 2/3 succeeded, 1 failed");
  const zh = finishedToast(batch, "running", makeT(messages, "zh"));
  assert.equal(zh.summary, "批次部分成功");
  assert.equal(zh.detail, "绘本：2/3 成功，1 失败");
});

test("the notification setting keeps every toast, only failures, or none", () => {
  const ok = { ...batch, status: "succeeded", counts: { succeeded: 3 } };
  assert.ok(finishedToast(ok, "running", undefined, "all"));
  assert.equal(finishedToast(ok, "running", undefined, "failures"), null);
  assert.ok(finishedToast(batch, "running", undefined, "failures"));
  assert.equal(finishedToast(batch, "running", undefined, "off"), null);
});

test("every setting is in the BatchGen category and translated in en and zh; a bad page size falls back", () => {
  for (const lang of ["en", "zh"]) {
    const file = JSON.parse(readFileSync(new URL(`../../locales/${lang}/settings.json`, import.meta.url)));
    const custom = serverSettings({ feedWindow: () => "window", remoteAccess: () => "remote" });
    assert.deepEqual(custom.map((s) => s.type()), ["window", "remote"]);  // custom renderers: type is a function
    for (const s of [...SETTINGS, ...custom]) {
      assert.equal(s.category[0], "BatchGen");
      assert.ok(file[s.id.replaceAll(".", "_")]?.name, `${lang}: ${s.id}`);
    }
  }
  assert.equal(pageSize(100), 100);
  assert.equal(pageSize("x"), 50);
  assert.equal(pageSize(5), 50);
});

test("every key the English locale has, the Chinese one has too", () => {
  const keys = (o, p = "") => Object.entries(o).flatMap(([k, v]) => (typeof v === "object" ? keys(v, `${p}${k}.`) : [`${p}${k}`]));
  const zh = new Set(keys(messages.zh));
  assert.deepEqual(keys(messages.en).filter((k) => !zh.has(k)), []);
});
