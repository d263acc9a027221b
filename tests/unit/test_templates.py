"""Templates: binding precedence, auto-detection on real graph shapes, validation, materialise()."""

from __future__ import annotations

import copy

import pytest
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.templates import (
    Binding,
    Slot,
    Template,
    autodetect_bindings,
    build_template,
    coerce_value,
    materialise,
    output_prefixes,
)

from tests.unit.graphs import flux_graph, img2img_graph, is_link, sd_graph


def slots_of(template: Template, name: str) -> list[str]:
    return [str(s) for s in template.bindings[name].slots]


# -- auto-detection ---------------------------------------------------------------------------


def test_autodetect_classic_sd_graph_binds_each_parameter_to_the_right_slot():
    wf = sd_graph()
    t = build_template(wf)
    expected = {
        "prompt": ["7.text"],  # the encoder feeding KSampler.positive, not simply the first one
        "negative": ["6.text"],
        "seed": ["3.seed"],
        "steps": ["3.steps"],
        "cfg": ["3.cfg"],
        "width": ["5.width"],
        "height": ["5.height"],
        "batch_size": ["5.batch_size"],
    }
    assert {n: slots_of(t, n) for n in t.bindings} == expected
    # defaults are the workflow's own values, types follow the inputs
    assert t.bindings["prompt"].default == wf["7"]["inputs"]["text"]
    assert t.bindings["negative"].default == wf["6"]["inputs"]["text"]
    assert t.bindings["seed"].default == wf["3"]["inputs"]["seed"]
    assert (t.bindings["seed"].type, t.bindings["cfg"].type, t.bindings["prompt"].type) == ("int", "float", "text")
    assert {b.source for b in t.bindings.values()} == {"auto"}


def test_autodetect_flux_graph_follows_guidance_and_guider_to_the_text():
    t = build_template(flux_graph())
    assert slots_of(t, "prompt") == ["6.text"]
    assert slots_of(t, "seed") == ["25.noise_seed"]
    assert slots_of(t, "steps") == ["17.steps"]
    assert slots_of(t, "width") == ["27.width"] and slots_of(t, "height") == ["27.height"]
    # FLUX has no negative prompt and no cfg input: nothing may be invented for them
    assert "negative" not in t.bindings
    assert "cfg" not in t.bindings


def test_autodetect_load_image_gives_an_image_parameter():
    t = build_template(img2img_graph())
    b = t.bindings["image"]
    assert (slots_of(t, "image"), b.type, b.default) == (["1.image"], "image", "example.png")


@pytest.mark.parametrize("graph", [sd_graph, flux_graph, img2img_graph])
def test_autodetect_never_binds_a_linked_input(graph):
    wf = graph()
    for binding in autodetect_bindings(wf).values():
        for slot in binding.slots:
            assert not is_link(wf[slot.node_id]["inputs"].get(slot.input)), f"{binding.name} bound to link {slot}"


def test_linked_sampler_inputs_are_not_bound_but_their_literal_source_is():
    wf = sd_graph()
    wf["30"] = {"class_type": "PrimitiveSeed", "inputs": {"seed": 7}}
    wf["3"]["inputs"]["seed"] = ["30", 0]
    wf["3"]["inputs"]["steps"] = ["31", 0]
    wf["31"] = {"class_type": "PrimitiveInt", "inputs": {"value": 30}}
    t = build_template(wf)
    assert slots_of(t, "seed") == ["30.seed"]  # the literal upstream, never the link in the KSampler
    assert "steps" not in t.bindings
    materialised = materialise(t, {"seed": 99})
    assert materialised["3"]["inputs"]["seed"] == ["30", 0], "the link must survive materialise()"
    assert materialised["30"]["inputs"]["seed"] == 99


def test_autodetect_never_binds_prompt_to_the_negative_text():
    # Positive text comes from a string primitive (common in UI workflows); the only literal
    # CLIPTextEncode left is the negative one. Binding "prompt" to it would write every
    # prompt of a batch into the negative conditioning.
    wf = sd_graph()
    wf["40"] = {"class_type": "PrimitiveString", "inputs": {"value": "a red fox"}}
    wf["7"]["inputs"]["text"] = ["40", 0]
    t = build_template(wf)
    assert slots_of(t, "negative") == ["6.text"]
    assert "prompt" not in t.bindings or slots_of(t, "prompt") != ["6.text"], (
        f"prompt bound to the negative encoder: {t.bindings['prompt'].as_dict()}")


def test_single_text_encoder_without_sampler_is_the_prompt():
    wf = {
        "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "hello", "clip": ["2", 0]}},
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": "x"}},
    }
    assert slots_of(build_template(wf), "prompt") == ["1.text"]


def test_autodetect_can_be_switched_off():
    assert build_template(sd_graph(), autodetect=False).bindings == {}


# -- precedence --------------------------------------------------------------------------------


def _graph_with_input_node():
    wf = sd_graph()
    wf["20"] = {"class_type": "BatchGenInputText", "inputs": {"name": "prompt", "value": "from the input node"}}
    wf["7"]["inputs"]["text"] = ["20", 0]
    return wf


def test_input_nodes_beat_explicit_map_which_beats_autodetection():
    wf = _graph_with_input_node()
    explicit = {
        "prompt": "6.text",  # loses to the BatchGen Input node named "prompt"
        "cfg": {"slots": ["3.denoise"], "type": "float", "default": 0.5},  # wins over auto's 3.cfg
    }
    t = build_template(wf, explicit)
    prompt = t.bindings["prompt"]
    assert (slots_of(t, "prompt"), prompt.source, prompt.type, prompt.default) == (["20.value"], "input_node", "text", "from the input node")
    cfg = t.bindings["cfg"]
    assert (slots_of(t, "cfg"), cfg.source, cfg.default) == (["3.denoise"], "explicit", 0.5)
    # names no earlier source bound still come from auto-detection
    assert (slots_of(t, "seed"), t.bindings["seed"].source) == (["3.seed"], "auto")
    assert (slots_of(t, "negative"), t.bindings["negative"].source) == (["6.text"], "auto")


def test_a_name_bound_earlier_keeps_its_slots_only():
    # The later sources' slots must not be merged into the earlier binding either.
    wf = sd_graph()
    t = build_template(wf, {"seed": "3.steps"})
    assert slots_of(t, "seed") == ["3.steps"]
    prompt = materialise(t, {"seed": 5})
    assert prompt["3"]["inputs"]["steps"] == 5
    assert prompt["3"]["inputs"]["seed"] == wf["3"]["inputs"]["seed"]


def test_several_input_nodes_with_one_name_fill_every_slot():
    wf = {
        "1": {"class_type": "BatchGenInputInt", "inputs": {"name": "size", "value": 64}},
        "2": {"class_type": "BatchGenInputInt", "inputs": {"name": "size", "value": 64}},
        "3": {"class_type": "EmptyImage", "inputs": {"width": ["1", 0], "height": ["2", 0], "batch_size": 1, "color": 0}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    }
    t = build_template(wf)
    assert sorted(slots_of(t, "size")) == ["1.value", "2.value"]
    out = materialise(t, {"size": 128})
    assert out["1"]["inputs"]["value"] == out["2"]["inputs"]["value"] == 128


def test_input_node_declared_with_two_types_is_rejected():
    wf = {
        "1": {"class_type": "BatchGenInputInt", "inputs": {"name": "x", "value": 1}},
        "2": {"class_type": "BatchGenInputText", "inputs": {"name": "x", "value": "a"}},
    }
    with pytest.raises(ApiError) as err:
        build_template(wf)
    assert err.value.status == 400 and "'x'" in err.value.message


def test_input_node_without_a_name_is_rejected_naming_the_node():
    wf = {"17": {"class_type": "BatchGenInputText", "inputs": {"name": "", "value": "a"}}}
    with pytest.raises(ApiError) as err:
        build_template(wf)
    assert err.value.status == 400 and "17" in err.value.message


# -- explicit bindings: validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [
        ({"prompt": "99.text"}, "99"),  # node not in the workflow
        ({"prompt": "3.positive"}, "3.positive"),  # a link, not a value
        ({"prompt": ["7.text", "3.model"]}, "3.model"),  # any slot of several
        ({"prompt": "7text"}, "7text"),  # not node.input
        ({"prompt": []}, "prompt"),  # no slot
        ({"pr ompt": "7.text"}, "pr ompt"),  # bad name
        ({"prompt": {"slots": ["7.text"], "type": "colour"}}, "colour"),  # unknown type
    ],
)
def test_bad_explicit_binding_is_a_400_saying_what_is_wrong(mapping, needle):
    with pytest.raises(ApiError) as err:
        build_template(sd_graph(), mapping)
    assert err.value.status == 400
    assert err.value.code == "invalid_binding"
    assert needle in err.value.message


def test_explicit_binding_infers_type_and_default_from_the_slot():
    t = build_template(sd_graph(), {"guidance": "3.cfg", "pic": "9.filename_prefix"}, autodetect=False)
    assert (t.bindings["guidance"].type, t.bindings["guidance"].default) == ("float", 8.0)
    assert (t.bindings["pic"].type, t.bindings["pic"].default) == ("text", "ComfyUI")


# -- workflow shape ----------------------------------------------------------------------------


def test_ui_format_workflow_is_rejected_with_a_hint_to_export_the_api_format():
    ui = {"last_node_id": 9, "last_link_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": [[1, 4, 0, 3, 0, "MODEL"]], "version": 0.4}
    with pytest.raises(ApiError) as err:
        build_template(ui)
    assert err.value.status == 400
    assert "UI" in err.value.message and "API" in err.value.message


@pytest.mark.parametrize("workflow", [None, {}, [], "x", {"1": {"inputs": {}}}, {"1": {"class_type": "A", "inputs": [1]}}])
def test_non_api_workflows_are_400(workflow):
    with pytest.raises(ApiError) as err:
        build_template(workflow)
    assert err.value.status == 400 and err.value.code == "invalid_workflow"


# -- materialise -------------------------------------------------------------------------------


def test_materialise_writes_values_and_rewrites_the_prefix_without_touching_the_template():
    t = build_template(sd_graph())
    before = copy.deepcopy(t.workflow)
    prompt = materialise(t, {"prompt": "a cat", "seed": 5, "width": 640}, "batchgen/b-1/00003")
    assert prompt["7"]["inputs"]["text"] == "a cat"
    assert prompt["3"]["inputs"]["seed"] == 5
    assert prompt["5"]["inputs"]["width"] == 640
    assert prompt["9"]["inputs"]["filename_prefix"] == "batchgen/b-1/00003"
    # unbound values and links are as in the template
    assert prompt["6"]["inputs"]["text"] == before["6"]["inputs"]["text"]
    assert prompt["3"]["inputs"]["positive"] == ["7", 0]
    assert t.workflow == before, "materialise() mutated the template's workflow"
    # a second job starts again from the template, not from the previous job
    second = materialise(t, {"seed": 6}, "batchgen/b-1/00004")
    assert second["7"]["inputs"]["text"] == before["7"]["inputs"]["text"]


def test_materialise_gives_each_of_several_savers_its_own_prefix():
    wf = sd_graph()
    wf["12"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "other", "images": ["8", 0]}}
    wf["13"] = {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}}
    t = build_template(wf)
    prompt = materialise(t, {}, "batchgen/b/00001")
    prefixes = {nid: n["inputs"]["filename_prefix"] for nid, n in prompt.items() if "filename_prefix" in n["inputs"]}
    assert set(prefixes) == {"9", "12"}
    assert len(set(prefixes.values())) == 2, f"two savers would overwrite each other: {prefixes}"
    assert all(p.startswith("batchgen/b/00001") for p in prefixes.values())
    # crash recovery looks for files under output_prefixes(): it must agree with what was written
    assert output_prefixes(t, "batchgen/b/00001") == prefixes


def test_materialise_single_saver_gets_the_prefix_verbatim_and_recovery_agrees():
    t = build_template(sd_graph())
    assert output_prefixes(t, "batchgen/x/00009") == {"9": "batchgen/x/00009"}


def test_materialise_fills_every_slot_of_a_parameter():
    t = build_template(sd_graph(), {"text": ["6.text", "7.text"]}, autodetect=False)
    prompt = materialise(t, {"text": "same"})
    assert prompt["6"]["inputs"]["text"] == prompt["7"]["inputs"]["text"] == "same"


def test_snapshot_roundtrip_keeps_bindings_and_materialises_identically():
    t = build_template(_graph_with_input_node(), {"cfg": "3.denoise"})
    back = Template.from_snapshot(t.snapshot())
    assert {n: (b.type, b.default, b.slots) for n, b in back.bindings.items()} == {
        n: (b.type, b.default, b.slots) for n, b in t.bindings.items()}
    values = {"prompt": "p", "seed": 1, "cfg": 0.3}
    assert materialise(back, values, "a/b") == materialise(t, values, "a/b")


# -- coerce_value ------------------------------------------------------------------------------


def _b(name: str, ptype: str) -> Binding:
    return Binding(name, ptype, None, (Slot("1", "x"),))


@pytest.mark.parametrize(
    ("ptype", "value", "expected"),
    [("int", 3, 3), ("int", "42", 42), ("int", 7.0, 7), ("float", 2, 2.0), ("float", "0.5", 0.5),
     ("bool", True, True), ("text", "hé 你好", "hé 你好"), ("text", 12, "12"), ("image", "a.png", "a.png")],
)
def test_coerce_value_accepts_convertible_values(ptype, value, expected):
    out = coerce_value(_b("p", ptype), value)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    ("ptype", "value"),
    [("int", "many"), ("int", 2.5), ("int", True), ("int", None), ("int", [1]), ("float", "fast"), ("float", False),
     ("bool", "yes"), ("bool", 1), ("text", None), ("text", {"a": 1}), ("text", ["a"]),
     ("float", float("nan")), ("float", float("inf")), ("float", "1e400"), ("float", "-inf"), ("float", 10**400), ("int", "9" * 5000)],
)
def test_coerce_value_error_names_the_parameter(ptype, value):
    with pytest.raises(ApiError) as err:
        coerce_value(_b("my_param", ptype), value)
    assert err.value.status == 400
    assert "my_param" in err.value.message and ptype in err.value.message
    assert err.value.details.get("param") == "my_param"


def test_unknown_key_in_a_binding_spec_is_an_error_with_a_suggestion():
    with pytest.raises(ApiError) as err:
        build_template(sd_graph(), {"prompt": {"slots": ["6.text"], "defualt": "x"}}, autodetect=False)
    assert err.value.code == "unknown_field" and "`bindings.prompt.defualt`" in err.value.message
    assert "did you mean `default`?" in err.value.message
