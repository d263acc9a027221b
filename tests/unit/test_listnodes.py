"""List nodes submitted as a batch: one row per item, the node rewritten into a BatchGen Input constant."""

from __future__ import annotations

import pytest
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.listnodes import apply_list_nodes, prompt_items, seed_items, with_list_nodes
from batchgen_ext.batchgen.templates import build_template, materialise


def card_graph(list_node: dict, seed_node: dict | None = None) -> dict:
    graph = {
        "1": list_node,
        "5": {"class_type": "BatchGenTextCard", "inputs": {"text": ["1", 0], "width": 128, "height": 96, "seed": 7, "font_size": 0}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}},
    }
    if seed_node is not None:
        graph["2"] = seed_node
        graph["5"]["inputs"]["seed"] = ["2", 0]
    return graph


PROMPTS = {"class_type": "BatchGenPromptList", "inputs": {"name": "prompt", "text": "  a red fox \n\n你好 🦊\n  \nthird"}}


def test_prompt_lines_are_trimmed_and_empty_lines_skipped():
    assert prompt_items(PROMPTS["inputs"]["text"]) == ["a red fox", "你好 🦊", "third"]
    assert prompt_items("\n \n") == [] and prompt_items(None) == []


def test_seeds_wrap_into_the_ksampler_range():
    assert seed_items(5, 3, 10) == [5, 15, 25]
    assert seed_items(2**64 - 1, 2, 1) == [2**64 - 1, 0]
    assert seed_items(0, 0, 1) == [] and seed_items(True, 2, 1) == []


def test_a_prompt_list_becomes_one_row_per_line_and_a_text_input_constant():
    template, rows = apply_list_nodes(build_template(card_graph(PROMPTS), autodetect=False))
    assert rows == [{"prompt": "a red fox"}, {"prompt": "你好 🦊"}, {"prompt": "third"}]
    assert template.workflow["1"] == {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "a red fox"}}
    assert [str(s) for s in template.bindings["prompt"].slots] == ["1.value"]
    prompt = materialise(template, rows[1])
    assert prompt["1"]["inputs"]["value"] == "你好 🦊" and prompt["5"]["inputs"]["text"] == ["1", 0]


def test_two_lists_pair_by_position_and_the_shorter_repeats_its_last_item_like_comfyui():
    seeds = {"class_type": "BatchGenSeedList", "inputs": {"name": "seed", "start": 100, "count": 2, "step": 1}}
    template, rows = apply_list_nodes(build_template(card_graph(PROMPTS, seeds), autodetect=False))
    assert rows == [{"prompt": "a red fox", "seed": 100}, {"prompt": "你好 🦊", "seed": 101}, {"prompt": "third", "seed": 101}]
    assert template.workflow["2"]["class_type"] == "BatchGenInputInt" and template.bindings["seed"].type == "int"


def test_a_workflow_without_list_nodes_is_left_alone():
    original = build_template(card_graph({"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "x"}}))
    assert apply_list_nodes(original) == (original, [])
    assert with_list_nodes(original, ["prompts"]) == (original, None)


@pytest.mark.parametrize(("node", "words"), [
    ({"class_type": "BatchGenPromptList", "inputs": {"name": "prompt", "text": " \n"}}, "no non-empty line"),
    ({"class_type": "BatchGenPromptList", "inputs": {"name": "prompt", "text": ["9", 0]}}, "not linked"),
    ({"class_type": "BatchGenSeedList", "inputs": {"name": "seed", "start": 0, "count": 0, "step": 1}}, "count at least 1"),
    ({"class_type": "BatchGenPromptList", "inputs": {"name": "", "text": "a"}}, "needs a parameter name"),
])
def test_a_list_node_that_makes_no_jobs_is_a_400_naming_it(node, words):
    with pytest.raises(ApiError) as err:
        apply_list_nodes(build_template(card_graph(node), autodetect=False))
    assert err.value.status == 400 and err.value.code == "invalid_list_node" and words in err.value.message
    assert "list node 1" in err.value.message


def test_prompts_sent_beside_list_nodes_conflict():
    with pytest.raises(ApiError) as err:
        with_list_nodes(build_template(card_graph(PROMPTS), autodetect=False), ["prompts"])
    assert err.value.code == "list_nodes_conflict" and "`prompts`" in err.value.message

