"""Sources: every row of prompts, jobs and tables with its coordinates; tables in every encoding Chinese Excel writes."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

import pytest
from batchgen_ext.batchgen import xlsx
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.expansion import Limits, expand
from batchgen_ext.batchgen.tables import decode
from batchgen_ext.batchgen.templates import build_template

from tests.unit.graphs import sd_graph
from tests.unit.xlsxkit import xlsx_bytes

LIMITS = Limits()
HEADER = ["prompt", "width", "steps"]
# 200 rows with Chinese, Japanese, emoji, commas, quotes and a line break inside a cell; every 7th width empty.
SHEET = [[f"第{i}张 商品「杯子」, 赤い 🍵 \"{i}\"" + ("\n第二行" if i % 50 == 0 else ""), "" if i % 7 == 0 else str(512 + i), str(10 + i % 5)]
         for i in range(200)]


def as_csv(rows, delimiter=",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows([HEADER, *rows])
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture
def sd():
    return build_template(sd_graph())


def jobs_of(table, sd, **extra):
    return [(s.params, s.coords) for s in expand({"table": table, "params": {"width": 1024}, "seed": 1, **extra}, sd, LIMITS)]


def test_the_same_sheet_in_every_encoding_and_format_gives_identical_jobs(sd):
    text = as_csv(SHEET)
    jsonl = "\n".join(json.dumps({h: c for h, c in zip(HEADER, row, strict=True) if c != ""}, ensure_ascii=False) for row in SHEET)
    variants = {
        "text": {"text": text},
        "utf-8": {"data_base64": b64(text.encode("utf-8"))},
        "utf-8-bom": {"data_base64": b64(text.encode("utf-8-sig"))},
        "utf-16": {"data_base64": b64(text.encode("utf-16"))},
        "utf-16-be": {"data_base64": b64(b"\xfe\xff" + text.encode("utf-16-be"))},
        "gbk": {"data_base64": b64(text.replace("🍵", "茶").encode("gbk"))},
        "gb18030": {"data_base64": b64(text.encode("gb18030"))},
        "tsv": {"format": "tsv", "text": as_csv(SHEET, "\t")},
        "jsonl": {"format": "jsonl", "text": jsonl},
        "xlsx": {"format": "xlsx", "data_base64": b64(xlsx_bytes([HEADER, *[[r[0], int(r[1]) if r[1] else "", int(r[2])] for r in SHEET]]))},
    }
    reference = jobs_of(variants["text"], sd)
    assert len(reference) == 200
    for name, table in variants.items():
        got = jobs_of(table, sd)
        if name == "gbk":  # GBK has no emoji: the sheet was saved with 茶 in its place
            got = [({**p, "prompt": p["prompt"].replace("茶", "🍵")}, c) for p, c in got]
        if name == "jsonl":  # JSONL numbers rows by line; CSV by spreadsheet row (header = row 1)
            got = [(p, {**c, "row": c["row"] + 1}) for p, c in got]
        assert got == reference, name


def test_rows_are_numbered_as_the_spreadsheet_shows_them_and_empty_cells_fall_back_to_params(sd):
    jobs = jobs_of({"text": as_csv(SHEET)}, sd)
    assert jobs[0][1] == {"source": "table", "row": 2}
    assert jobs[0][0]["width"] == 1024 and jobs[1][0]["width"] == 513  # row 0's width cell is empty
    assert jobs[50][0]["prompt"].endswith("\n第二行")
    assert jobs[-1][1]["row"] == 201
    assert isinstance(jobs[1][0]["steps"], int)


def test_a_bad_cell_is_400_naming_the_row_the_column_and_the_problem(sd):
    rows = [list(r) for r in SHEET[:20]]
    rows[15][1] = "wide"
    with pytest.raises(ApiError) as err:
        expand({"table": {"text": as_csv(rows)}}, sd, LIMITS)
    assert err.value.status == 400 and err.value.code == "invalid_table_value"
    assert err.value.message == "row 17, column 'width': expected an integer, got 'wide'"
    assert err.value.details == {"row": 17, "column": "width", "param": "width"}


def test_column_map_renames_and_skips_columns_and_unknown_columns_are_named(sd):
    text = "商品名,宽,备注\n杯子,640,x\n"
    with pytest.raises(ApiError) as err:
        expand({"table": {"text": text}}, sd, LIMITS)
    assert err.value.code == "invalid_table_column" and "'商品名'" in err.value.message and "table.columns" in err.value.message
    specs = expand({"table": {"text": text, "columns": {"商品名": "prompt", "宽": "width", "备注": None}}}, sd, LIMITS)
    assert specs[0].params["prompt"] == "杯子" and specs[0].params["width"] == 640
    with pytest.raises(ApiError) as err:
        expand({"table": {"text": text, "columns": {"名字": "prompt"}}}, sd, LIMITS)
    assert "'名字'" in err.value.message and "not a column" in err.value.message


@pytest.mark.parametrize(("table", "code"), [
    ({"text": ""}, "invalid_table"),
    ({"text": "a,b", "data_base64": "YQ=="}, "invalid_table"),
    ({"data_base64": "not base64!"}, "invalid_table"),
    ({"data_base64": b64(b"prompt\n\xff\xfe\xfa"), "encoding": "utf-8"}, "invalid_table"),
    ({"data_base64": b64(b"prompt\nx"), "encoding": "rot13"}, "invalid_table"),
    ({"text": "prompt,width\nx,1,2\n"}, "invalid_table_value"),
    ({"format": "jsonl", "text": '{"prompt": "a"}\n[1]\n'}, "invalid_table"),
    ({"format": "jsonl", "text": '{"prompt": ["a"]}\n'}, "invalid_table_value"),
    ({"text": "prompt,prompt\na,b\n"}, "invalid_table_column"),
    ({"text": "名,prompt\na,b\n", "columns": {"名": "prompt"}}, "invalid_table_column"),
])
def test_broken_tables_are_400_saying_what_is_wrong(sd, table, code):
    with pytest.raises(ApiError) as err:
        expand({"table": table}, sd, LIMITS)
    assert err.value.status == 400 and err.value.code == code, err.value.message


def test_explicit_encoding_wins_and_detection_prefers_utf8():
    assert decode("中文".encode("gb18030"), "gb18030") == "中文"
    assert decode("中文".encode("utf-8")) == "中文"  # valid UTF-8 is never read as GBK
    assert decode("中文,商品".encode("gbk")) == "中文,商品"


def test_sources_keep_their_order_and_carry_coordinates(sd):
    body = {"prompts": ["p0", "p1"], "jobs": [{"prompt": "j0"}], "table": {"text": "prompt\nt0\n"},
            "matrix": {"steps": [1, 2]}, "repeat": 2, "seed": {"policy": "increment", "base": 0}}
    specs = expand(body, sd, LIMITS)
    assert [(s.params["prompt"], s.params["steps"]) for s in specs[:4]] == [("p0", 1), ("p0", 1), ("p0", 2), ("p0", 2)]
    assert [s.params["prompt"] for s in specs[::4]] == ["p0", "p1", "j0", "t0"]
    assert specs[0].coords == {"source": "prompts", "index": 0, "axes": {"steps": 0}, "repeat": 0}
    assert specs[-1].coords == {"source": "table", "row": 2, "axes": {"steps": 1}, "repeat": 1}
    assert [s.seed for s in specs] == list(range(16))


def test_params_only_batches_have_no_coordinates(sd):
    assert expand({"params": {"prompt": "x"}}, sd, LIMITS)[0].coords == {}


def test_table_rows_count_against_the_job_limit(sd):
    with pytest.raises(ApiError) as err:
        expand({"table": {"text": "prompt\n" + "x\n" * 11}}, sd, Limits(max_jobs=10))
    assert err.value.status == 413


def test_xlsx_cells_are_typed_numbered_like_excel_and_bad_cells_named(sd):
    data = xlsx_bytes([["prompt", "width", "steps"], ["杯子 🍵", 640, 20.0], [], ["碗", "wide", 3], [12345, "", ""]])
    with pytest.raises(ApiError) as err:
        expand({"table": {"format": "xlsx", "data_base64": b64(data)}}, sd, LIMITS)
    assert err.value.message == "row 4, column 'width': expected an integer, got 'wide'"
    good = xlsx_bytes([["prompt", "width", "steps"], ["杯子 🍵", 640, 20.0], [], [12345, "", ""]])
    specs = expand({"table": {"format": "xlsx", "data_base64": b64(good)}, "params": {"width": 300}}, sd, LIMITS)
    assert [(s.params["prompt"], s.params["width"], s.coords["row"]) for s in specs] == [("杯子 🍵", 640, 2), ("12345", 300, 4)]
    assert specs[0].params["steps"] == 20 and isinstance(specs[0].params["steps"], int)


@pytest.mark.parametrize("what", ["html", "bomb", "text"])
def test_things_that_are_not_xlsx_are_refused_without_unpacking(sd, what, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_UNZIPPED", 1024 * 1024)
    if what == "html":
        table = {"format": "xlsx", "data_base64": b64(b"<html><script>alert(1)</script></html>")}
    elif what == "bomb":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("xl/worksheets/sheet1.xml", b"\0" * (2 * 1024 * 1024))
        table = {"format": "xlsx", "data_base64": b64(buf.getvalue())}
    else:
        table = {"format": "xlsx", "text": "prompt\na\n"}
    with pytest.raises(ApiError) as err:
        expand({"table": table}, sd, LIMITS)
    assert err.value.status == (413 if what == "bomb" else 400), err.value.message
