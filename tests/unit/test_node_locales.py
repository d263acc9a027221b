"""locales/{en,zh}/nodeDefs.json: every BatchGen node, the same inputs and outputs in both, and text the frontend's i18n can compile."""

from __future__ import annotations

import json
import re
from pathlib import Path

from batchgen_ext.batchgen import ids

ROOT = Path(__file__).resolve().parents[2]
NODES = {*ids.INPUT_NODE_TYPES, ids.NODE_TEXT_CARD, ids.NODE_PROMPT_LIST, ids.NODE_SEED_LIST, ids.NODE_PROMPTS_FROM_FILE,
         ids.NODE_WILDCARD_EXPAND, ids.NODE_IMAGE_SET, ids.NODE_CONTACT_SHEET, ids.NODE_SAVE_IMAGE}
# vue-i18n reads { } | @ as message syntax (ComfyUI frontend 1.35.9 fails to start on a bare one): only {'x'} literals.
_BARE = re.compile(r"[{}|@]")


def load(lang: str) -> dict:
    return json.loads((ROOT / "locales" / lang / "nodeDefs.json").read_text(encoding="utf-8"))


def strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def test_both_languages_name_every_node_with_the_same_inputs_and_outputs():
    en, zh = load("en"), load("zh")
    assert set(en) == set(zh) == NODES
    for node in NODES:
        assert en[node]["display_name"] and zh[node]["display_name"] != en[node]["display_name"], node
        assert set(en[node]["inputs"]) == set(zh[node]["inputs"]), node
        assert set(en[node].get("outputs", {})) == set(zh[node].get("outputs", {})), node
        assert all(e.get("tooltip") for e in zh[node]["inputs"].values()), node
        assert re.search(r"[\u4e00-\u9fff]", zh[node]["display_name"] + zh[node]["description"]), node


def test_no_text_has_bare_i18n_syntax():
    for lang in ("en", "zh"):
        for text in strings(load(lang)):
            assert not _BARE.search(re.sub(r"\{'[{}|@]'\}", "", text)), (lang, text[:80])
