"""Make every bundled template (workflows/*.json) an editor workflow that also carries our template data.

ComfyUI offers a pack's workflows/ folder in its template browser and loads the files onto the
canvas, which needs the UI (editor) format. Our API-format template is kept inside the file under
``extra.batchgen`` (the registry reads it from there), so one file is both. The editor part is
made by ComfyUI's own frontend: the API graph is loaded with ``app.loadApiJson`` (which lays it out)
and ``graph.serialize()`` is written back, with ``properties.models`` on each loader so the
frontend's missing-models dialog can offer the downloads.

Run after adding or changing a template (a file may be plain API format: it is converted in place):
    eval "$(../shared/tools/comfyui-lab env)"      # ComfyUI v0.33.0: all the templates' nodes exist there
    .venv/bin/python scripts/build_workflows.py    # starts a throw-away ComfyUI, drives /usr/bin/chromium
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.comfyui.harness import new_server  # noqa: E402

log = logging.getLogger("batchgen.scripts")
EMBED_KEY = "batchgen"
CHROMIUM = "/usr/bin/chromium"


def template_data(doc: dict[str, Any]) -> dict[str, Any]:
    """Our template from a bundled file: the embedded data of an editor workflow, or the plain API-format document."""
    if "nodes" in doc and "links" in doc:
        return doc["extra"][EMBED_KEY]
    return doc


def editor_graph(page: Any, workflow: dict[str, Any]) -> dict[str, Any]:
    """The frontend's own serialisation of the API graph, laid out by it."""
    return page.evaluate("""async (api) => {
        await window.app.loadApiJson(structuredClone(api), "template.json");
        return JSON.parse(JSON.stringify(window.app.graph.serialize()));  // as the frontend saves it: no undefined keys
    }""", workflow)


def add_models(graph: dict[str, Any], models: list[dict[str, Any]]) -> None:
    """properties.models [{name, url, directory}] on every node whose widgets name a manifest file (as ComfyUI's templates do)."""
    by_name = {m["name"]: m for m in models}
    for node in graph["nodes"]:
        wanted = [by_name[v] for v in node.get("widgets_values") or [] if isinstance(v, str) and v in by_name]
        if wanted:
            node.setdefault("properties", {})["models"] = [{"name": m["name"], "url": m.get("url"), "directory": m["folder"]}
                                                           for m in wanted]


def build(url: str, paths: list[Path]) -> None:
    """Rewrite each file as editor workflow + embedded template."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url + "/", wait_until="domcontentloaded")
        page.wait_for_function("() => window.app?.graph && window.app.extensionManager", timeout=90_000)
        page.wait_for_timeout(1500)
        for path in paths:
            doc = json.loads(path.read_text(encoding="utf-8"))
            data = template_data(doc)
            graph = editor_graph(page, data["workflow"])
            add_models(graph, data.get("models") or [])
            graph.setdefault("extra", {})[EMBED_KEY] = data
            graph["extra"].pop("ds", None)  # the canvas offset of this run's viewport: noise in the file
            path.write_text(json.dumps(graph, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            log.info("wrote %s: %d nodes, %d links", path.name, len(graph["nodes"]), len(graph["links"]))
        browser.close()


def main() -> None:
    """Start a ComfyUI (or use --url) and rebuild the bundled workflows."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running ComfyUI with this extension (default: start a throw-away one)")
    parser.add_argument("files", nargs="*", type=Path, help="default: every workflows/*.json")
    args = parser.parse_args()
    paths = args.files or sorted((ROOT / "workflows").glob("*.json"))
    if args.url:
        build(args.url.rstrip("/"), paths)
        return
    server = new_server(Path(tempfile.mkdtemp(prefix="batchgen-build-")))
    server.start()
    try:
        server.post("/settings/Comfy.TutorialCompleted", True)
        build(server.url, paths)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
