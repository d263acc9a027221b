"""Wildcards: {a|b}, nesting, weights, __name__ files; combinatorial counts before building, seeded random picks."""

from __future__ import annotations

import random
import time

import pytest
from batchgen_ext.batchgen import wildcards as wc
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.expansion import Limits, expand
from batchgen_ext.batchgen.templates import build_template
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.graphs import sd_graph

# Plain words (CJK and emoji included) that need no escaping.
WORD = st.text(st.characters(blacklist_characters="{}|\\_", blacklist_categories=("Cs",)), max_size=6)


@st.composite
def templates(draw, depth: int = 0):
    """A wildcard text and the number of combinations it must have."""
    parts, expected = [], 1
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.booleans()):
            alts = [draw(templates(depth + 1)) for _ in range(draw(st.integers(1, 3)))]
            parts.append("{" + "|".join(t for t, _ in alts) + "}")
            expected *= sum(n for _, n in alts)
        else:
            parts.append(draw(WORD))
    return "".join(parts), expected


@given(templates())
@settings(max_examples=200, deadline=None)
def test_combinatorial_count_is_the_product_of_the_alternatives_and_every_output_is_expanded(case):
    text, expected = case
    parsed = wc.parse(text)
    assert wc.count(parsed) == expected
    out = wc.combinations(parsed)
    assert len(out) == expected
    assert not any(ch in t for t in out for ch in "{}|")


@given(templates(), st.integers(0, 2**53 - 1))
@settings(max_examples=100, deadline=None)
def test_random_mode_is_deterministic_under_a_seed_and_picks_a_real_combination(case, seed):
    parsed = wc.parse(case[0])
    a = [wc.sample(parsed, random.Random(seed)) for _ in range(3)]
    b = [wc.sample(parsed, random.Random(seed)) for _ in range(3)]
    assert a == b
    assert set(a) <= set(wc.combinations(parsed))


def test_order_first_group_varies_slowest_and_cjk_emoji_survive():
    assert wc.combinations(wc.parse("{红|蓝} {猫|🐶}")) == ["红 猫", "红 🐶", "蓝 猫", "蓝 🐶"]


def test_nesting_and_empty_alternatives():
    assert wc.combinations(wc.parse("a{b|c{d|e}|}")) == ["ab", "acd", "ace", "a"]


def test_weights_bias_random_picks_and_are_ignored_when_combining():
    parsed = wc.parse("{9::x|1::y}")
    assert wc.combinations(parsed) == ["x", "y"]
    rng = random.Random(1)
    picks = [wc.sample(parsed, rng) for _ in range(2000)]
    assert 0.85 < picks.count("x") / 2000 < 0.95


def test_escaped_characters_are_literal():
    assert wc.combinations(wc.parse(r"\{json\} {a\|b|c}")) == ["{json} a|b", "{json} c"]


@pytest.mark.parametrize(("text", "where"), [("a {b|c", 3), ("a } b", 3), ("x | y", 3)])
def test_unbalanced_text_is_400_naming_the_position(text, where):
    with pytest.raises(ApiError) as err:
        wc.parse(text)
    assert err.value.code == "invalid_wildcard" and err.value.details["position"] == where


def test_wildcard_files_from_the_folder_nest_and_refuse_paths_and_cycles(tmp_path):
    (tmp_path / "colors.txt").write_text("# colours\n红色\n\nblue {light|dark}\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "animal.txt").write_text("cat\n__colors__ dog\n", encoding="utf-8")
    (tmp_path / "loop.txt").write_text("a __loop__\n", encoding="utf-8")
    load = wc.folder_loader(tmp_path)
    assert wc.combinations(wc.parse("__sub/animal__!", load)) == ["cat!", "红色 dog!", "blue light dog!", "blue dark dog!"]
    for text, code in [("__../etc/passwd__", "wildcard_not_found"), ("__missing__", "wildcard_not_found"),
                       ("__loop__", "invalid_wildcard")]:
        with pytest.raises(ApiError) as err:
            wc.parse(text, load)
        assert err.value.code == code, text


def test_a_billion_combinations_is_a_413_without_building_any():
    template = build_template(sd_graph())
    text = " ".join("{" + "|".join(str(i) for i in range(10)) + "}" for _ in range(9))
    started = time.perf_counter()
    with pytest.raises(ApiError) as err:
        expand({"prompts": [text], "wildcards": {"mode": "combinatorial"}}, template, Limits())
    assert err.value.status == 413 and err.value.details["count"] == 10**9
    assert time.perf_counter() - started < 0.5


def test_expansion_applies_wildcards_to_text_params_only_and_records_the_variant():
    template = build_template(sd_graph())
    body = {"prompts": ["{a|b} cat", "plain"], "params": {"negative": "{ugly|blurry}", "steps": 5}, "seed": 7,
            "wildcards": {"mode": "combinatorial"}}
    specs = expand(body, template, Limits())
    assert [(s.params["prompt"], s.params["negative"]) for s in specs] == [
        ("a cat", "ugly"), ("a cat", "blurry"), ("b cat", "ugly"), ("b cat", "blurry"), ("plain", "ugly"), ("plain", "blurry")]
    assert [s.coords for s in specs[:2]] == [{"source": "prompts", "index": 0, "wildcard": 0}, {"source": "prompts", "index": 0, "wildcard": 1}]
    assert [s.seed for s in specs] == [7] * 6


def test_random_mode_gives_count_variants_per_row_reproducibly():
    template = build_template(sd_graph())
    body = {"prompts": ["{a|b|c|d} {e|f|g}", "no wildcard"], "wildcards": {"mode": "random", "count": 5, "seed": 42}}
    first = [s.params["prompt"] for s in expand(body, template, Limits())]
    assert len(first) == 6 and first[-1] == "no wildcard"
    assert first == [s.params["prompt"] for s in expand(body, template, Limits())]
    other = [s.params["prompt"] for s in expand({**body, "wildcards": {**body["wildcards"], "seed": 43}}, template, Limits())]
    assert other != first


def test_without_the_wildcards_option_braces_are_sent_as_written():
    template = build_template(sd_graph())
    assert expand({"prompts": ["{a|b}"]}, template, Limits())[0].params["prompt"] == "{a|b}"


def test_ten_thousand_combinations_expand_quickly():
    template = build_template(sd_graph())
    text = " ".join("{" + "|".join(f"w{i}" for i in range(10)) + "}" for _ in range(4))
    started = time.perf_counter()
    specs = expand({"prompts": [text], "wildcards": {}}, template, Limits())
    assert len(specs) == 10_000 and len({s.params["prompt"] for s in specs}) == 10_000
    assert time.perf_counter() - started < 2.0


def test_impact_pack_and_dynamicprompts_folders_are_read_after_ours(tmp_path):
    ours = tmp_path / "user" / "wildcards"
    ours.mkdir(parents=True)
    (ours / "colour.txt").write_text("ours\n", encoding="utf-8")
    impact = tmp_path / "custom_nodes" / "ComfyUI-Impact-Pack"
    (impact / "wildcards").mkdir(parents=True)
    (impact / "custom_wildcards").mkdir()
    (impact / "wildcards" / "colour.txt").write_text("impact\n", encoding="utf-8")
    (impact / "wildcards" / "animal.txt").write_text("impact cat\n", encoding="utf-8")
    (impact / "custom_wildcards" / "animal.txt").write_text("custom cat\n", encoding="utf-8")
    dyn = tmp_path / "custom_nodes" / "comfyui-dynamicprompts" / "wildcards"
    (dyn / "art").mkdir(parents=True)
    (dyn / "art" / "style.txt").write_text("ukiyo-e\n水墨\n", encoding="utf-8")
    (tmp_path / "custom_nodes" / "other-pack" / "wildcards").mkdir(parents=True)
    folders = [ours, *wc.peer_folders([tmp_path / "custom_nodes", tmp_path / "missing"])]
    assert folders[1:] == [impact / "custom_wildcards", impact / "wildcards", dyn]
    load = wc.folder_loader(folders)
    assert wc.combinations(wc.parse("__colour__ __animal__ __art/style__", load)) == ["ours custom cat ukiyo-e", "ours custom cat 水墨"]


def test_a_broken_wildcard_in_a_table_names_the_parameter_and_the_row():
    template = build_template(sd_graph())
    with pytest.raises(ApiError) as err:
        expand({"table": {"text": "prompt\nok {a|b}\nbad {a|b\n"}, "wildcards": {}}, template, Limits())
    assert err.value.message.startswith("parameter 'prompt' (table row 3): wildcard text: '{' is never closed")
    assert err.value.details["param"] == "prompt"
