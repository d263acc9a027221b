"""Every bundled template is an editor workflow: ComfyUI's template browser lists it, and it loads onto the canvas, not empty.

Loaded the way the template browser does it: the file as ComfyUI serves it from
/api/workflow_templates/<pack>/<name>.json, passed to app.loadGraphData. The graph the canvas then
holds is turned back into an API prompt by the frontend (app.graphToPrompt), which must be the
template's own embedded API graph: the editor part and the template the API runs are the same graph.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ARTIFACTS

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
PACK = "comfyui-batchgen"


def load(page, url: str) -> dict:
    return page.evaluate("""async (url) => {
        const doc = await (await fetch(url)).json();
        await window.app.loadGraphData(doc);
        const prompt = await window.app.graphToPrompt();
        return {nodes: window.app.graph.nodes.length, types: window.app.graph.nodes.map(n => n.type), output: prompt.output};
    }""", url)


def test_each_bundled_template_loads_from_the_template_browser_as_a_full_graph(comfy, page):
    names = sorted(p.stem for p in WORKFLOWS.glob("*.json"))
    listed = comfy.get("/workflow_templates")
    assert sorted(listed[PACK]) == names, listed
    info = comfy.get("/object_info")
    page.goto(comfy.url + "/", wait_until="domcontentloaded")
    page.wait_for_function("() => window.app?.graph && window.app.extensionManager", timeout=90_000)
    page.wait_for_timeout(1000)
    for name in names:
        doc = json.loads((WORKFLOWS / f"{name}.json").read_text(encoding="utf-8"))
        api = doc["extra"]["batchgen"]["workflow"]
        got = load(page, f"/api/workflow_templates/{PACK}/{name}.json")
        assert got["nodes"] == len(doc["nodes"]) == len(api) > 0, (name, got["nodes"])
        assert sorted(got["types"]) == sorted(n["class_type"] for n in api.values()), name
        present = {nid: n for nid, n in api.items() if n["class_type"] in info}
        for node_id, node in present.items():
            if any(isinstance(v, list) and api[v[0]]["class_type"] not in info for v in node["inputs"].values()):
                continue  # fed by a node this ComfyUI lacks: the frontend leaves that link out
            assert got["output"][node_id]["class_type"] == node["class_type"], (name, node_id)
            inputs = got["output"][node_id]["inputs"]
            assert {k: inputs.get(k) for k in node["inputs"]} == node["inputs"], (name, node_id, inputs)
            optional = info[node["class_type"]]["input"].get("optional", {})
            for extra in set(inputs) - set(node["inputs"]):  # an optional widget the template leaves out: the frontend sends its default
                assert extra in optional and inputs[extra] == optional[extra][1].get("default"), (name, node_id, extra)
    page.keyboard.press("Escape")  # the missing-models dialog the last load opened
    load(page, f"/api/workflow_templates/{PACK}/qwen-image-edit.json")
    page.wait_for_timeout(800)
    page.keyboard.press("Escape")
    # Close enough to read titles and widget values (a fitted 14-node graph renders in low detail).
    page.evaluate("() => { const c = window.app.canvas; c.ds.scale = 0.75; c.ds.offset = [-40, -80]; c.setDirty(true, true); }")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "workflow-template-qwen-image-edit.png"))
