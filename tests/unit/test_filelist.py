"""Prompts From File: the same items from a .txt, a GBK CSV, a TSV, a JSONL and an .xlsx of one column."""

from __future__ import annotations

import json

import pytest
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.filelist import file_items

from tests.unit.xlsxkit import xlsx_bytes

NAMES = ["保温杯 红色", "Thermos blue", "水杯 🥤"]


def test_every_format_gives_the_same_items():
    csv_text = "商品名,宽\r\n" + "".join(f"{n},{i}\r\n" for i, n in enumerate(NAMES)) + ",9\r\n"
    assert file_items("\n".join(NAMES).encode("utf-8") + b"\n\n", "a.txt") == NAMES
    assert file_items(csv_text.encode("gb18030"), "b.csv", "商品名") == NAMES
    assert file_items(csv_text.encode("utf-8-sig"), "b.CSV") == NAMES  # default: the first column
    assert file_items(csv_text.replace(",", "\t").encode("utf-16"), "c.tsv", "商品名") == NAMES
    jsonl = "".join(json.dumps({"prompt": n, "w": 1}, ensure_ascii=False) + "\n" for n in NAMES)
    assert file_items(jsonl.encode("utf-8"), "d.jsonl") == NAMES
    assert file_items(xlsx_bytes([["商品名", "宽"], *[[n, i] for i, n in enumerate(NAMES)]]), "e.xlsx", "商品名") == NAMES


@pytest.mark.parametrize(("data", "name", "column", "words"), [
    (b"a,b\n1,2\n", "x.csv", "c", "has no column 'c'; its columns are: a, b"),
    (b"{\"a\": 1}\n[1]\n", "x.jsonl", "a", "line 2: each line must be a JSON object"),
    (b"hello", "x.pdf", "", "reads .txt, .csv, .tsv, .jsonl or .xlsx"),
    (b"PK\x03\x04 not a zip", "x.xlsx", "", "x.xlsx:"),
])
def test_a_bad_file_or_column_is_a_400_naming_it(data, name, column, words):
    with pytest.raises(ApiError) as err:
        file_items(data, name, column)
    assert err.value.status == 400 and err.value.code == "invalid_list_node" and words in err.value.message, err.value.message
