"""The BatchGen tab with 100,000 jobs in the store: list/detail API p95, tab open, a 10,000-job batch's open and scroll.

On one real ComfyUI (COMFYUI_DIR / COMFYUI_PYTHON) with this extension. ComfyUI starts once to create the database,
stops, and 1,000 finished batches are written straight into it (one of 10,000 jobs, the newest; the others share
90,000): the tab reads what is stored, so how the jobs got there does not matter. ComfyUI then starts again and:

- API: GET /batches (first page, a later page, a status filter, a name search), GET /batches/{id} and
  GET /batches/{id}/jobs pages across the 10,000-job batch, each --requests times, sequentially: p50/p95.
- Browser (Debian's chromium, Playwright, 1280×800): the time from clicking the tab's icon to the first batch card
  (the tab is closed again between runs), from clicking the big batch's card to its first job row, and the frame
  rate while its job table scrolls 200 px per frame for 2 s (requestAnimationFrame timestamps).

    python bench/tab.py [--requests 200] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import Target, bench_server, command_line, err, lab_missing, machine_facts, out, percentile, print_footer, print_summary  # noqa: E402

API = "/batchgen/v1"
BATCHES = 1_000
BIG = 10_000
TOTAL = 100_000
TAB_BUTTON = ".batchgen-tab-button, [data-testid=batchgen-tab-button]"
TEMPLATE = json.dumps({"workflow": {"1": {"class_type": "SaveImage", "inputs": {}}}, "bindings": {}})


def seed(db: Path) -> str:
    """Write 1,000 succeeded batches with 100,000 jobs in all; returns the id of the 10,000-job one (the newest)."""
    con = sqlite3.connect(db)
    now = time.time()
    small = (TOTAL - BIG) // (BATCHES - 1)
    sizes = [small] * (BATCHES - 1) + [BIG]
    sizes[0] += TOTAL - sum(sizes)
    start_seq = (con.execute("SELECT COALESCE(MAX(seq), 0) FROM batches").fetchone()[0] or 0) + 1
    big_id = ""
    with con:
        for n, size in enumerate(sizes):
            bid = uuid.uuid4().hex
            big_id = bid
            created = now - (BATCHES - n) * 60
            con.execute(
                "INSERT INTO batches (id, seq, name, status, template_id, template_json, output_subfolder, total, n_succeeded, "
                "created_at, started_at, finished_at, updated_at) VALUES (?, ?, ?, 'succeeded', 'text-card', ?, ?, ?, ?, ?, ?, ?, ?)",
                (bid, start_seq + n, f"bench batch {n:04d}" if size != BIG else "bench big 10k", TEMPLATE, f"batchgen/bench-{bid[:8]}",
                 size, size, created, created + 1, created + 30, created + 30))
            rows = []
            for i in range(size):
                outputs = json.dumps([{"node_id": "1", "filename": f"{i:05d}_00001_.png", "subfolder": f"batchgen/bench-{bid[:8]}",
                                       "type": "output", "kind": "images"}])
                rows.append((bid, i, json.dumps({"prompt": f"card {i}", "width": 512, "height": 320, "seed": i}), i, 1,
                             created, created + 1, created + 1, created + 2, outputs, json.dumps({"source": "prompts", "index": i})))
            con.executemany(
                "INSERT INTO jobs (batch_id, idx, status, params_json, seed, attempts, created_at, queued_at, started_at, finished_at, "
                "outputs_json, coords_json) VALUES (?, ?, 'succeeded', ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return big_id


def timed_get(server, path: str) -> float:
    """Seconds for one GET that must answer 200."""
    t0 = time.perf_counter()
    status, body, _ = server.request("GET", path)
    took = time.perf_counter() - t0
    assert status == 200, (path, status, body)
    return took


def api_figures(server, big_id: str, n: int) -> dict[str, list[float]]:
    """Latencies (s) of the calls the tab makes, n of each."""
    rnd = random.Random(7)
    calls = {
        "GET /batches (first page)": lambda: f"{API}/batches?limit=50",
        "GET /batches (page 10)": lambda: f"{API}/batches?limit=50&offset=450",
        "GET /batches?status=": lambda: f"{API}/batches?status=succeeded,partial&limit=50",
        "GET /batches?q=": lambda: f"{API}/batches?q=batch%2009&limit=50",
        "GET /batches/{id}": lambda: f"{API}/batches/{big_id}",
        "GET /batches/{id}/jobs (200 rows)": lambda: f"{API}/batches/{big_id}/jobs?limit=200&offset={rnd.randrange(0, BIG - 200)}",
    }
    return {label: [timed_get(server, make()) for _ in range(n)] for label, make in calls.items()}


FRAME_JS = """async () => {
  const el = document.querySelector('.bgn-view-detail .bgn-virtual');
  const stamps = [];
  const end = performance.now() + 2000;
  await new Promise((resolve) => {
    const step = (ts) => { stamps.push(ts); el.scrollTop += 200; if (ts < end) requestAnimationFrame(step); else resolve(); };
    requestAnimationFrame(step);
  });
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]);
  const seconds = (stamps.at(-1) - stamps[0]) / 1000;
  return {fps: gaps.length / seconds, worst: Math.max(...gaps), over20: gaps.filter((g) => g > 20).length,
          rows: document.querySelectorAll('.bgn-row[data-id]').length, top: el.scrollTop};
}"""

UNTIL_JS = """async ([selector, click]) => {
  const t0 = performance.now();
  document.querySelector(click).click();
  while (!document.querySelector(selector)) await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t0;
}"""


def browser_figures(server, big_id: str, runs: int) -> dict[str, list[float]]:
    """Tab open, big batch open (s) and scroll frame rates (fps) in chromium."""
    from playwright.sync_api import sync_playwright

    server.post("/settings/Comfy.TutorialCompleted", True)
    opens, details, fps, worst = [], [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url + "/", wait_until="domcontentloaded")
        page.wait_for_function("() => window.app?.extensionManager && window.app.extensions?.some(e => e.name === 'batchgen.core')",
                               timeout=120_000)
        page.wait_for_timeout(2000)
        for _ in range(runs):
            opens.append(page.evaluate(UNTIL_JS, [".bgn-card", ".batchgen-tab-button, [data-testid=batchgen-tab-button]"]) / 1000)
            details.append(page.evaluate(UNTIL_JS, [".bgn-view-detail .bgn-row[data-id]", f'.bgn-card[data-id="{big_id}"]']) / 1000)
            page.locator('.bgn-tab[data-tab="jobs"]').click()
            page.wait_for_timeout(300)
            frames = page.evaluate(FRAME_JS)
            # The pages under the scrolled-to rows arrive: rows with data, not placeholders.
            page.wait_for_function("() => document.querySelectorAll('.bgn-view-detail .bgn-row[data-id]').length > 10", timeout=10_000)
            fps.append(frames["fps"])
            worst.append(frames["worst"])
            page.locator(".bgn-view-detail .bgn-toolbar button").first.click()  # back to the list
            page.locator(TAB_BUTTON).first.click()  # close the tab
            page.wait_for_timeout(500)
        browser.close()
    return {"tab open (click to first card)": opens, "10k batch open (click to first row)": details, "scroll fps": fps,
            "worst frame ms": worst}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if lab_missing():
        return 2
    facts = machine_facts()
    with bench_server("batchgen-tab-", args.keep) as server:
        server.stop()
        t0 = time.perf_counter()
        big_id = seed(server.db_path)
        err(f"seeded {TOTAL} jobs in {BATCHES} batches in {time.perf_counter() - t0:.1f} s")
        server.start()
        api = api_figures(server, big_id, args.requests)
        ui = browser_figures(server, big_id, args.runs)
    facts["load_avg_end"] = __import__("os").getloadavg()
    if args.json:
        out(json.dumps({"api": api, "browser": ui, "facts": facts}))
        return 0
    for label, values in api.items():
        out(f"{label}: p50 {percentile(values, 0.5) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms "
            f"over {len(values)} requests")
    print_summary([(k, v) for k, v in ui.items() if k.endswith(")")], unit="s")
    print_summary([("scroll", ui["scroll fps"], "frames per second while the job table scrolls 200 px a frame")], unit="fps",
                  digits=1)
    p95 = max(percentile(v, 0.95) for v in api.values())
    targets = [Target("slowest API p95", p95 * 1000, 50, at_least=False, unit="ms", digits=1),
               Target("tab open median", sorted(ui["tab open (click to first card)"])[len(ui["tab open (click to first card)"]) // 2], 1,
                      at_least=False, unit="s"),
               Target("10k batch open median", sorted(ui["10k batch open (click to first row)"])[args.runs // 2], 1, at_least=False,
                      unit="s"),
               Target("scroll fps median", sorted(ui["scroll fps"])[args.runs // 2], 58, unit="fps", digits=1)]
    print_summary([], targets)
    print_footer(facts, command_line(), setup=f"{BATCHES} batches, {TOTAL} jobs (one batch of {BIG}), all succeeded, "
                                              "files not on disk (the gallery is not measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
