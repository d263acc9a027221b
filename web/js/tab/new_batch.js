// The "new" view of the BatchGen tab: a form that previews (dry run) every change and runs the batch.
// State lives in ctx.state (the tab is rebuilt each time it opens); ComfyUI is reached only through ctx.host.
import { h, fill, debounce, section } from "./new/dom.js";
import { ensureStyles } from "./new/styles.js";
import { CANVAS, emptyForm, etaText, initialTemplate, promptLines, requestBody, saveTemplateBody } from "./new/form.js";
import { fieldSpecs } from "./new/fields.js";
import { problemOf } from "./new/problems.js";
import { wildcardTotal } from "./new/wildcards.js";
import { drawPreview, showProblems } from "./new/preview_panel.js";
import { rememberCanvasBatch } from "./new/canvas_memory.js";
import { storage } from "./canvas.js";
import { DEFAULT_TEMPLATE } from "./settings.js";
import { axesSection, gridText, optionsSection, paramsSection, rowsSection, templateSection } from "./new/sections.js";

const PREVIEW_ROWS = 8;

function stateOf(ctx) {
  const holder = ctx.state;
  holder.newBatch ??= { form: emptyForm(), templates: null, details: {}, objectInfo: null, canvas: null, canvasParams: null,
                        preview: null, problems: [], saveName: "", uploading: null };
  return holder.newBatch;
}

function translator(ctx) {
  return (key, vars) => ctx.t(`batchgen.new.${key}`, vars);
}

class NewBatchView {
  constructor(el, ctx, st) {
    Object.assign(this, { el, ctx, st, host: ctx.host, t: translator(ctx), alive: true, seq: 0, pending: false, running: false });
    this.schedule = debounce(() => this.runPreview(), 350);
  }

  get form() { return this.st.form; }

  parameters() {
    return this.form.template === CANVAS ? this.st.canvasParams : this.st.details[this.form.template]?.parameters;
  }

  workflow() {
    return this.form.template === CANVAS ? this.st.canvas?.output : this.st.details[this.form.template]?.workflow;
  }

  fields() { return fieldSpecs(this.parameters() || [], this.workflow() || {}, this.st.objectInfo || {}); }

  inputImageUrl(image) {
    const [subfolder, filename] = image.includes("/") ? [image.slice(0, image.lastIndexOf("/")), image.slice(image.lastIndexOf("/") + 1)] : ["", image];
    const q = new URLSearchParams({ filename, subfolder, type: "input" });
    return this.host.comfyURL(`/view?${q}`);
  }

  async mount(params) {
    // A preset applies once per navigation: re-opening the sidebar renders the same route (same params) again,
    // and must not wipe what the user typed since.
    const preset = params?.preset ?? (params?.source === "canvas" ? "canvas" : undefined);
    const fresh = preset && this.st.routeParams !== params;
    this.st.routeParams = params;
    if (fresh && preset === "canvas") Object.assign(this.form, { values: {}, axes: [] });
    fill(this.el, h("div", { class: "bgnew" }, h("div", { class: "bgnew-hint" }, this.t("loading"))));
    try {
      const [list, info] = await Promise.all([this.st.templates ? null : this.host.request("GET", "/templates"),
                                              this.st.objectInfo ? null : this.host.objectInfo()]);
      if (list) this.st.templates = list.templates;
      if (info) this.st.objectInfo = info;
      // A form nobody has touched starts on the template chosen in Settings → BatchGen.
      if (!this.form.template && preset !== "canvas") this.form.template = initialTemplate(this.host.setting(DEFAULT_TEMPLATE), this.st.templates);
      if ((fresh && preset === "canvas") || this.form.template === CANVAS) await this.takeCanvas();
      else if (this.form.template) await this.loadTemplate(this.form.template);
    } catch (err) {
      this.st.problems = [problemOf(err)];
    }
    if (!this.alive) return;
    this.draw();
    this.runPreview();
  }

  async loadTemplate(id) {
    if (!this.st.details[id]) this.st.details[id] = await this.host.request("GET", `/templates/${encodeURIComponent(id)}`);
  }

  async takeCanvas() {
    this.form.template = CANVAS;
    const got = await this.host.graphToPrompt();
    this.st.canvas = { output: got?.output || {}, workflow: got?.workflow || null };
    this.st.canvasParams = null; // filled by the next preview (the server detects the parameters)
  }

  async selectTemplate(id) {
    Object.assign(this.form, { values: {}, axes: [] });
    this.st.preview = null;
    try {
      if (id === CANVAS) await this.takeCanvas();
      else {
        this.form.template = id;
        await this.loadTemplate(id);
      }
      this.st.problems = [];
    } catch (err) {
      this.st.problems = [{ ...problemOf(err), field: "template" }];
    }
    this.refresh();
  }

  /** Rebuild the form (structure changed) and check again. */
  refresh() {
    if (!this.alive) return;
    this.draw();
    this.schedule.cancel();
    this.runPreview();
  }

  /** A value changed: update the live counts and check again shortly. */
  changed() {
    this.liveCounts();
    this.pending = true;
    this.updateRun();
    this.schedule();
  }

  draw() {
    const v = this;
    this.panel = h("div", { class: "bgnew-preview", dataset: { testid: "preview" } });
    this.runButton = h("button", { class: "bgnew-primary", dataset: { testid: "run" }, onclick: () => this.run() }, this.t("run"));
    this.status = h("span", { class: "bgnew-hint", dataset: { testid: "run-status" } });
    this.total = h("span", { class: "bgnew-total", dataset: { testid: "run-total" } });
    const ctx = this.ctx;
    fill(this.el, h("div", { class: "bgnew", dataset: { testid: "new-batch" } },
      h("div", { class: "bgnew-toolbar" },
        h("button", { class: "bgnew-back", dataset: { testid: "back" }, onclick: () => ctx.navigate("list") }, "← ", ctx.t("batchgen.common.back")),
        h("span", { class: "bgnew-title" }, this.t("title")), this.total),
      templateSection(v), rowsSection(v), paramsSection(v), axesSection(v), optionsSection(v),
      section(this.t("preview"), this.panel),
      h("div", { class: "bgnew-actions" }, this.status, this.runButton)));
    this.liveCounts();
    this.showState();
  }

  liveCounts() {
    const lines = promptLines(this.form.prompts);
    const count = this.el.querySelector('[data-testid="prompts-count"]');
    if (count) count.textContent = lines.length ? this.t("prompts_count", { n: lines.length }) : this.t("prompts_hint");
    const shape = this.el.querySelector('[data-testid="grid-shape"]');
    if (shape) shape.textContent = gridText(this);
    const wc = this.el.querySelector('[data-testid="wildcards-count-live"]');
    if (wc) {
      const got = wildcardTotal(lines, this.form.wildcards.mode, Number(this.form.wildcards.count) || 1);
      wc.textContent = this.form.wildcards.mode === "off" ? "" : got.error ? got.error
        : this.t(got.exact ? "wc_total" : "wc_total_files", { n: got.total });
    }
  }

  showState() {
    if (!this.panel) return;
    drawPreview(this.panel, this.st.preview, this.t, { pending: this.pending });
    showProblems(this.el, this.st.problems, (this.parameters() || []).map((p) => p.name));
    this.updateRun();
  }

  updateRun() {
    if (!this.runButton) return;
    const p = this.st.preview;
    const ready = !this.pending && !this.running && p && !this.st.problems.length && p.total > 0;
    this.runButton.disabled = !ready;
    const eta = etaText(p?.eta?.seconds);
    this.total.textContent = p && p.total !== null && p.total !== undefined && !this.st.problems.length
      ? [this.t("jobs_n", { n: p.total }), eta ? this.t("eta", { t: eta }) : null].filter(Boolean).join(" · ") : "";
    this.status.textContent = this.running ? this.t("creating") : this.st.problems.length ? this.t("fix_problems", { n: this.st.problems.length }) : "";
  }

  async runPreview() {
    const seq = ++this.seq;
    const { body, problems } = requestBody(this.form, this.fields(), this.st.canvas);
    // Values the form already knows are wrong are not sent: the server would only answer 400 for the same mistakes.
    if (problems.length) {
      Object.assign(this.st, { preview: null, problems });
      this.pending = false;
      return this.showState();
    }
    this.pending = true;
    this.updateRun();
    let preview = null;
    let server = [];
    try {
      preview = await this.host.request("POST", `/batches/preview?rows=${PREVIEW_ROWS}`, body);
      server = preview.problems || [];
    } catch (err) {
      server = [problemOf(err)];
    }
    if (!this.alive || seq !== this.seq) return;
    const hadParams = this.form.template === CANVAS && JSON.stringify(this.st.canvasParams);
    if (this.form.template === CANVAS && preview?.parameters) this.st.canvasParams = preview.parameters;
    Object.assign(this.st, { preview, problems: [...problems, ...server] });
    this.pending = false;
    // New detected parameters of the canvas workflow: rebuild so their fields appear (draw() shows the state too).
    if (this.form.template === CANVAS && hadParams !== JSON.stringify(this.st.canvasParams)) return this.draw();
    this.showState();
  }

  async run() {
    const { body, problems } = requestBody(this.form, this.fields(), this.st.canvas);
    if (problems.length) return;
    this.running = true;
    this.updateRun();
    try {
      const batch = await this.host.request("POST", "/batches", body);
      if (this.form.template === CANVAS) {
        rememberCanvasBatch(storage(), batch.id, { editor_workflow: this.st.canvas?.workflow, parameters: this.st.canvasParams });
      }
      this.running = false;
      this.ctx.navigate("detail", { id: batch.id });
    } catch (err) {
      this.running = false;
      this.st.problems = [problemOf(err)];
      this.showState();
    }
  }

  async saveTemplate(name) {
    if (!String(name || "").trim()) {
      return showProblems(this.el, [{ field: "save", message: this.t("save_needs_name") }], []);
    }
    try {
      await this.takeCanvas();
      const saved = await this.host.request("POST", "/templates", saveTemplateBody(name, this.st.canvas));
      this.st.details[saved.id] = saved;
      this.st.templates = (await this.host.request("GET", "/templates")).templates;
      this.st.saveName = "";
      this.host.toast?.("success", this.t("saved"), saved.name || saved.id, 4000);
      this.form.template = saved.id;
      this.st.problems = [];
      this.refresh();
    } catch (err) {
      this.st.problems = [{ ...problemOf(err), field: "save" }];
      this.showState();
    }
  }

  async upload(kind, files) {
    this.st.uploading = kind;
    this.draw();
    try {
      const items = [];
      for (const file of files) items.push(await this.host.upload(file));
      if (kind === "table") {
        const up = items[0];
        this.form.table = { upload: up.id, name: up.name, rows: up.rows, columns: up.columns };
      } else {
        this.form.images = { uploads: items.map((u) => u.id), items: items.map((u) => ({ id: u.id, name: u.name, image: u.image })) };
      }
      this.st.problems = [];
    } catch (err) {
      this.st.problems = [{ ...problemOf(err), field: kind }];
    }
    this.st.uploading = null;
    this.refresh();
  }

  destroy() {
    this.alive = false;
    this.schedule.cancel();
  }
}

/** Render the New batch view; params.preset === "canvas" starts from the editor's current workflow. */
export function render(el, ctx, params = {}) {
  ensureStyles(el.ownerDocument || document);
  const view = new NewBatchView(el, ctx, stateOf(ctx));
  view.mount(params);
  return () => view.destroy();
}
