"""Source nodes (Wildcard Expand, Image Set, file columns): their items, their rewrite as a batch; Contact Sheet page; Save record."""

from __future__ import annotations

import json

import pytest
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.expansion import Limits, expand
from batchgen_ext.batchgen.listitems import column_specs, image_set_items, wildcard_items
from batchgen_ext.batchgen.listnodes import ListContext, apply_list_nodes
from batchgen_ext.batchgen.nodegrid import grid_page, labels
from batchgen_ext.batchgen.savemeta import job_record, text_chunks
from batchgen_ext.batchgen.templates import build_template, materialise
from batchgen_ext.batchgen.wildcards import folder_loader
from PIL import Image

from tests.unit.graphs import sd_graph
from tests.unit.test_listnodes import card_graph

WILD = {"class_type": "BatchGenWildcardExpand",
        "inputs": {"name": "prompt", "text": "{红|blue} {cat|dog 🐕}", "mode": "combinatorial", "count": 1, "seed": 0}}


def test_wildcard_items_combine_first_group_slowest_and_random_picks_match_the_api():
    assert wildcard_items("{红|blue} {cat|dog 🐕}", "combinatorial", 1, 0, None) == ["红 cat", "红 dog 🐕", "blue cat", "blue dog 🐕"]
    picks = wildcard_items("{a|b|c|d} {e|f|g}", "random", 5, 42, None)
    assert picks == wildcard_items("{a|b|c|d} {e|f|g}", "random", 5, 42, None) != wildcard_items("{a|b|c|d} {e|f|g}", "random", 5, 43, None)
    body = {"prompts": ["{a|b|c|d} {e|f|g}"], "wildcards": {"mode": "random", "count": 5, "seed": 42}}
    assert picks == [s.params["prompt"] for s in expand(body, build_template(sd_graph()), Limits())]  # the node = the API
    with pytest.raises(ApiError, match="combinations; the limit is 10"):
        wildcard_items("{a|b|c|d} {e|f|g}", "combinatorial", 1, 0, None, limit=10)


def test_a_wildcard_node_as_a_batch_is_one_job_per_combination_with_files_from_the_folder(tmp_path):
    (tmp_path / "animal.txt").write_text("猫\n# comment\nowl\n", encoding="utf-8")
    node = {"class_type": "BatchGenWildcardExpand",
            "inputs": {"name": "prompt", "text": "a {red|blue} __animal__", "mode": "combinatorial", "count": 1, "seed": 0}}
    ctx = ListContext(wildcard_loader=folder_loader(tmp_path))
    template, rows = apply_list_nodes(build_template(card_graph(node), autodetect=False), ctx)
    assert [r["prompt"] for r in rows] == ["a red 猫", "a red owl", "a blue 猫", "a blue owl"]
    assert template.workflow["1"] == {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "a red 猫"}}
    with pytest.raises(ApiError) as err:
        apply_list_nodes(build_template(card_graph(node), autodetect=False), ListContext(wildcard_loader=folder_loader(None)))
    assert err.value.code == "invalid_list_node" and "list node 1" in err.value.message and "__animal__" in err.value.message


def test_an_image_set_is_naturally_ordered_contained_and_fills_image_and_file_name(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    for name in ("img10.png", "img2.png", "IMG1.jpg", ".hidden.png", "notes.txt"):
        Image.new("RGB", (4, 4)).save(folder / name) if name.endswith(("png", "jpg")) else (folder / name).write_text("x")
    assert image_set_items(tmp_path, "set") == [("IMG1.jpg", "set/IMG1.jpg"), ("img2.png", "set/img2.png"), ("img10.png", "set/img10.png")]
    for bad in ("../set", "/etc", "nope"):
        with pytest.raises(ApiError) as err:
            image_set_items(tmp_path, bad)
        assert "images.folder" not in err.value.message  # the node's input is called folder
    graph = card_graph({"class_type": "BatchGenImageSet", "inputs": {"name": "image", "folder": "set"}})
    graph["5"] = {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}
    graph["7"] = {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 2], "width": 64, "height": 64, "seed": 1, "font_size": 0}}
    template, rows = apply_list_nodes(build_template(graph, autodetect=False), ListContext(input_dir=tmp_path))
    assert rows[0] == {"image": "set/IMG1.jpg", "image_file": "IMG1.jpg"} and len(rows) == 3
    assert template.workflow["1"]["class_type"] == "BatchGenInputImage" and template.workflow["5"]["inputs"]["image"] == ["1", 0]
    assert template.workflow["7"]["inputs"]["text"] == ["1_1", 0]  # the file-name output moved to its own text constant
    assert materialise(template, rows[2])["1_1"]["inputs"]["value"] == "img10.png"


def test_prompts_from_file_columns_become_parameters_named_by_header_or_by_mapping():
    assert column_specs("价格:price, color\nsize", "prompt") == [("价格", "price"), ("color", "color"), ("size", "size")]
    assert column_specs("颜色", "prompt") == [("颜色", "prompt_1")]  # a header that is no parameter name
    with pytest.raises(ApiError, match="at most 4"):
        column_specs("a,b,c,d,e", "prompt")
    data = "商品名,价格,颜色\r\n保温杯,39,红\r\n,5,蓝\r\n水杯,12,\r\n".encode("gbk")
    node = {"class_type": "BatchGenPromptsFromFile",
            "inputs": {"name": "prompt", "file": "商品.csv", "column": "商品名", "columns": "价格:price, 颜色"}}
    graph = card_graph(node)
    graph["5"]["inputs"]["text"] = ["1", 2]  # the card shows column_2
    template, rows = apply_list_nodes(build_template(graph, autodetect=False), ListContext(read_file=lambda name: data))
    assert rows == [{"prompt": "保温杯", "price": "39", "prompt_2": "红"}, {"prompt": "水杯", "price": "12", "prompt_2": ""}]
    assert template.workflow["5"]["inputs"]["text"] == ["1_2", 0]
    graph["5"]["inputs"]["text"] = ["1", 3]  # column_3: `columns` names only two
    with pytest.raises(ApiError, match="output 3 of list node 1, which fills no parameter"):
        apply_list_nodes(build_template(graph, autodetect=False), ListContext(read_file=lambda name: data))
    node["inputs"]["columns"] = "重量"
    with pytest.raises(ApiError, match="no column '重量'"):
        apply_list_nodes(build_template(card_graph(node), autodetect=False), ListContext(read_file=lambda name: data))


def test_contact_sheet_page_fills_rows_and_numbers_missing_labels():
    assert labels(["a\n\nb "]) == ["a", "b"] and labels(["x", "y z"]) == ["x", "y z"]
    page = grid_page(list(range(5)), ["左", "右"], ["第一行"], 0, "t")
    assert (page.x_labels, page.y_labels) == (["左", "右"], ["第一行", "2", "3"])
    assert page.cells[(0, 2)].image == 4 and (1, 2) not in page.cells
    assert len(grid_page(list(range(9)), [], [], 0, "").x_labels) == 3  # near-square without labels


def test_save_record_holds_batch_job_row_params_and_seed_and_nothing_outside_batchgen():
    prompt = {"3": {"class_type": "KSampler", "inputs": {"seed": 99, "steps": 2}}}
    extra = {"workflow": {"nodes": []}, "batchgen": {"batch_id": "b1", "job_id": 7, "idx": 2, "params": {"prompt": "猫"}}}
    assert job_record(extra, prompt) == {"batch_id": "b1", "job_id": 7, "row": 2, "params": {"prompt": "猫"}, "seed": 99}
    chunks = text_chunks(prompt, extra)
    assert set(chunks) == {"prompt", "workflow", "batchgen"} and chunks["batchgen"].isascii()
    assert json.loads(chunks["batchgen"])["params"] == {"prompt": "猫"}
    assert set(text_chunks(prompt, {"workflow": {}})) == {"prompt", "workflow"} and job_record(None, prompt) is None


def test_wildcard_expand_items_carry_their_number_and_a_shorter_list_repeats_its_last():
    node = {"class_type": "BatchGenWildcardExpand", "inputs": {"name": "prompt", "text": "{a|b}", "mode": "random", "count": 2, "seed": 1}}
    graph = card_graph(node)
    graph["2"] = {"class_type": "BatchGenPromptList", "inputs": {"name": "negative", "text": "x\ny\nz"}}
    graph["5"]["inputs"]["negative"] = ["2", 0]
    template, rows = apply_list_nodes(build_template(graph, autodetect=False))
    specs = expand({"jobs": rows}, template, Limits())
    assert [s.coords for s in specs] == [{"source": "jobs", "index": 0, "wildcard": 0}, {"source": "jobs", "index": 1, "wildcard": 1},
                                         {"source": "jobs", "index": 2, "wildcard": 1}]  # 3 jobs: the 2 picks, the last repeated
    assert [s.params["negative"] for s in specs] == ["x", "y", "z"] and specs[2].params["prompt"] == specs[1].params["prompt"]
    plain_template, plain_rows = apply_list_nodes(build_template(card_graph(graph["2"]), autodetect=False))
    plain = expand({"jobs": plain_rows}, plain_template, Limits())
    assert all("wildcard" not in s.coords for s in plain)  # other list nodes add no coordinate
