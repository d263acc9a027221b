"""What the BatchGen extension costs ComfyUI's editor while its tab is closed: fresh servers with vs without it.

Each run starts a fresh ComfyUI (tests/comfyui/harness.py, its own data folder), with this extension linked into
custom_nodes ("with") or not ("without"), in the order A B B A per cycle, and opens the editor once in a fresh
Chromium (Playwright, 1280×800, empty cache). The BatchGen tab is never opened. Per run:

- editor ready: from navigation start to the first frame on which the graph canvas is on the page with the loaded
  workflow's nodes (performance.now() in that frame);
- requests and bytes the page fetched in its first --window seconds (Resource Timing transferSize, the document
  included, the websocket not; the extension's own files and routes counted apart);
- JS heap used after a forced garbage collection at the end of that window (CDP Performance.getMetrics);
- over the next --idle seconds with the editor idle: long tasks (PerformanceObserver "longtask": count and total
  ms) and page CPU (the change of CDP TaskDuration, main-thread busy time, over wall time).

Medians, min–max over the runs, and with/without ratios of the medians are printed.

    python bench/editor_cost.py [--cycles 2] [--warmup 1] [--window 10] [--idle 20] [--frontend-root DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import command_line, err, machine_facts, out, print_footer, print_summary, spread  # noqa: E402

from tests.comfyui.harness import EXTENSION_LINK_NAME, ComfyServer, comfy_env, new_server, skip_reason  # noqa: E402

CHROMIUM = os.environ.get("BATCHGEN_CHROMIUM", "/usr/bin/chromium")
OURS = ("/batchgen/", "/extensions/comfyui-batchgen/")

# Before any page script: room for every resource entry (the editor loads a few hundred files), and long tasks kept.
INIT_JS = """
performance.setResourceTimingBufferSize(100000);
window.__bgLong = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__bgLong.push([e.startTime, e.duration]); })
    .observe({ type: "longtask", buffered: true });
} catch (err) { window.__bgLong = null; }
"""
# The graph canvas is on the page, drawn at a size, with the loaded workflow's nodes: the editor is usable.
READY_JS = """() => {
  const c = window.app?.canvas, g = window.app?.graph;
  const ready = !!(c?.canvas?.isConnected && c.canvas.width > 0 && ((g?.nodes ?? g?._nodes)?.length > 0));
  if (ready && window.__bgReady == null) window.__bgReady = performance.now();
  return ready;
}"""
NET_JS = """([until, ours]) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource").filter((e) => e.startTime <= until);
  const mine = (e) => ours.some((o) => e.name.includes(o));
  const bytes = (list) => list.reduce((n, e) => n + (e.transferSize || 0), 0);
  return { requests: res.length + 1, bytes: bytes(res) + (nav?.transferSize || 0),
           ours_requests: res.filter(mine).length, ours_bytes: bytes(res.filter(mine)) };
}"""


class NativeServer(ComfyServer):
    """The same ComfyUI without this extension: nothing linked into custom_nodes; ready when /system_stats answers."""

    def _prepare(self) -> Path:
        config = super()._prepare()
        (self.data_dir / "custom_nodes" / EXTENSION_LINK_NAME).unlink()
        return config

    def get(self, path: str):
        if path == "/batchgen/v1/health":  # start() waits for our health; without us, ComfyUI's own answer is the sign
            super().get("/system_stats")
            return {"store": {"ready": True}}
        return super().get(path)


def make_server(root: Path, with_ext: bool, extra_args: list[str]) -> ComfyServer:
    """A fresh server (new data folder) with or without the extension."""
    base = new_server(root, extra_args=extra_args)
    if with_ext:
        return base
    return NativeServer(base.comfy_dir, base.python, base.data_dir, extra_args=list(extra_args))


def metrics(cdp) -> dict[str, float]:
    """CDP Performance.getMetrics as {name: value}."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def measure(url: str, window_s: float, idle_s: float) -> dict[str, float]:
    """One editor load in a fresh chromium: the figures of the module docstring."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.add_init_script(INIT_JS)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(url + "/", wait_until="commit", timeout=120_000)
        page.wait_for_function(READY_JS, polling="raf", timeout=120_000)
        ready_ms = page.evaluate("() => window.__bgReady")
        frontend = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ || 'unknown'")
        page.wait_for_timeout(max(0.0, window_s * 1000 - page.evaluate("() => performance.now()")))
        net = page.evaluate(NET_JS, [window_s * 1000, list(OURS)])
        cdp.send("HeapProfiler.enable")
        cdp.send("HeapProfiler.collectGarbage")
        heap = metrics(cdp)["JSHeapUsedSize"]
        m0 = metrics(cdp)
        idle_from = page.evaluate("() => performance.now()")
        page.wait_for_timeout(idle_s * 1000)
        m1 = metrics(cdp)
        longs = page.evaluate("(t) => (window.__bgLong || []).filter(([s]) => s >= t)", idle_from)
        browser.close()
    wall = m1["Timestamp"] - m0["Timestamp"]
    return {"ready_s": ready_ms / 1000, "requests": net["requests"], "bytes_kb": net["bytes"] / 1024,
            "ours_requests": net["ours_requests"], "ours_kb": net["ours_bytes"] / 1024, "heap_mb": heap / 1024 / 1024,
            "long_tasks": len(longs), "long_task_ms": sum(d for _, d in longs),
            "cpu_pct": 100 * (m1["TaskDuration"] - m0["TaskDuration"]) / wall if wall > 0 else 0.0, "frontend": frontend}


def one_run(with_ext: bool, args) -> dict[str, float]:
    """Start a fresh server, measure one editor load, stop it and remove its folder."""
    root = Path(tempfile.mkdtemp(prefix="batchgen-editor-cost-"))
    extra = ["--front-end-root", args.frontend_root] if args.frontend_root else []
    server = make_server(root / "comfy", with_ext, extra)
    try:
        server.start()
        server.post("/settings/Comfy.TutorialCompleted", True)  # no first-visit templates dialog over the editor
        return measure(server.url, args.window, args.idle)
    except BaseException:
        err("failed; ComfyUI log tail:\n" + server.log_tail())
        raise
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


LABELS = {"ready_s": ("editor ready", "s", 2), "requests": ("requests in the first window", "requests", 0),
          "bytes_kb": ("bytes fetched in the first window", "KiB", 0), "ours_requests": ("the extension's requests", "requests", 0),
          "ours_kb": ("the extension's bytes", "KiB", 1), "heap_mb": ("JS heap after load", "MiB", 1),
          "long_tasks": ("long tasks while idle", "tasks", 1), "long_task_ms": ("long-task time while idle", "ms", 0),
          "cpu_pct": ("page CPU while idle", "%", 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=2, help="A B B A cycles (4 fresh servers each)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of page load counted for requests and bytes")
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds for long tasks and CPU")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded runs first (without), for cold disk caches")
    parser.add_argument("--frontend-root", default=None, help="serve this frontend folder (--front-end-root)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if comfy_env() is None:
        err(skip_reason())
        return 2
    facts = machine_facts()
    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for n in range(args.warmup):
        err(f"warm-up {n + 1}/{args.warmup}: {one_run(False, args)}")
    order = [True, False, False, True] * args.cycles
    for n, with_ext in enumerate(order, 1):
        t0 = time.perf_counter()
        runs[with_ext].append(one_run(with_ext, args))
        err(f"run {n}/{len(order)} ({'with' if with_ext else 'without'}): {runs[with_ext][-1]} in {time.perf_counter() - t0:.0f} s")
    facts["load_avg_end"] = os.getloadavg()
    if args.json:
        out(json.dumps({"with": runs[True], "without": runs[False], "facts": facts}))
        return 0
    for key, (label, unit, digits) in LABELS.items():
        with_values = [r[key] for r in runs[True]]
        without_values = [r[key] for r in runs[False]]
        print_summary([(f"{label}, with", with_values), (f"{label}, without", without_values)], unit=unit, digits=digits)
        w, wo = spread(with_values).median, spread(without_values).median
        out(f"{label}, with/without: {w / wo:.3f}" if wo else f"{label}, with/without: n/a (without: 0)")
    frontend = runs[True][0].get("frontend")
    print_footer(facts, command_line(), setup=f"fresh ComfyUI per run, order A B B A x {args.cycles}, chromium 1280x800, "
                                              f"first {args.window:g} s counted, {args.idle:g} s idle, tab closed; "
                                              f"frontend {frontend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
