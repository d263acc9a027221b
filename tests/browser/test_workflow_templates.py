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


def test_with_comfy_locale_zh_our_nodes_show_their_chinese_names(comfy, page):
    zh = json.loads((WORKFLOWS.parent / "locales" / "zh" / "nodeDefs.json").read_text(encoding="utf-8"))
    assert comfy.post("/settings/Comfy.Locale", "zh")[0] == 200
    try:
        page.goto(comfy.url + "/", wait_until="domcontentloaded")
        page.wait_for_function("() => window.app?.graph && window.app.extensionManager", timeout=90_000)
        page.wait_for_timeout(1000)
        load(page, f"/api/workflow_templates/{PACK}/contact-sheet.json")
        titles = page.evaluate("""() => {
            const names = ["BatchGenWildcardExpand", "BatchGenImageSet", "BatchGenContactSheet", "BatchGenSaveImage", "BatchGenPromptList"];
            const made = Object.fromEntries(names.map(n => [n, window.LiteGraph.createNode(n)?.title]));
            const canvas = Object.fromEntries(window.app.graph.nodes.map(n => [n.type, n.title]));
            return {made, canvas};
        }""")
        for node_type, title in titles["made"].items():
            assert title == zh[node_type]["display_name"], (node_type, title)  # e.g. BatchGen 通配符展开
        assert titles["canvas"]["BatchGenContactSheet"] == "BatchGen 联系表（网格图）", titles["canvas"]
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "nodes-locale-zh.png"))
    finally:
        comfy.post("/settings/Comfy.Locale", "en")
