"""Pieces of the client that need no server: SSE parsing, tokens, files to submit, the progress line, the CLI's refusals."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest
from batchgen_client import cli
from batchgen_client.auth import resolve_token
from batchgen_client.errors import TokenError
from batchgen_client.models import Batch, ManifestRow
from batchgen_client.progress import ProgressBar, render
from batchgen_client.sources import from_file
from batchgen_client.sse import SSEParser
from fakes import BATCH, sse_frame


def test_sse_parser_yields_events_and_skips_heartbeats_and_comments():
    parser = SSEParser()
    text = (": batchgen event stream\nretry: 2000\n\n" + sse_frame(7, "batchgen.job", {"id": 1}).decode() + ": heartbeat\n\n"
            + sse_frame(8, "batchgen.batch", {"id": "b", "status": "succeeded"}).decode())
    events = [e for e in (parser.feed(line) for line in text.split("\n")) if e]
    assert [(e.seq, e.type) for e in events] == [(7, "batchgen.job"), (8, "batchgen.batch")]
    assert events[1].payload == {"id": "b", "status": "succeeded"} and parser.retry_ms == 2000


def test_token_comes_from_the_file_then_the_environment(tmp_path):
    f = tmp_path / "token"
    f.write_text("bg_from_file\n")
    os.chmod(f, 0o600)
    assert resolve_token(f, environ={"BATCHGEN_TOKEN": "bg_env"}) == "bg_from_file"
    assert resolve_token(None, environ={"BATCHGEN_TOKEN": " bg_env "}) == "bg_env"
    assert resolve_token(None, environ={}) is None
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(TokenError, match="empty"):
        resolve_token(tmp_path / "empty", environ={})
    with pytest.raises(TokenError, match="cannot read"):
        resolve_token(tmp_path / "missing", environ={})


def test_cli_refuses_a_token_on_the_command_line(capsys):
    assert cli.main(["--token", "bg_secret", "ls"]) == 2
    err = capsys.readouterr().err
    assert "BATCHGEN_TOKEN" in err and "--token-file" in err and "bg_secret" not in err


def test_files_become_prompts_or_an_inline_table(tmp_path):
    (tmp_path / "p.txt").write_text("# comment\nfirst\n\n第二\n", encoding="utf-8")
    assert from_file(tmp_path / "p.txt") == {"prompts": ["first", "第二"]}
    raw = "商品名,宽\n杯子,320\n".encode("gbk")
    (tmp_path / "t.csv").write_bytes(raw)
    table = from_file(tmp_path / "t.csv", columns={"商品名": "prompt"})["table"]
    assert table["format"] == "csv" and base64.b64decode(table["data_base64"]) == raw and table["columns"] == {"商品名": "prompt"}
    (tmp_path / "t.xlsx").write_bytes(b"PK\x03\x04")
    assert from_file(tmp_path / "t.xlsx")["table"]["format"] == "xlsx"
    (tmp_path / "t.bin").write_bytes(b"?")
    with pytest.raises(ValueError, match="--format"):
        from_file(tmp_path / "t.bin")


def test_progress_line_shows_counts_rate_and_eta():
    state = {"status": "running", "total": 10, "counts": {"succeeded": 4, "failed": 1, "running": 1}}
    line = render(state, elapsed=5.0)
    assert "5/10" in line and "50%" in line and "4 ok, 1 failed" in line and "1.0/s" in line and "ETA 0:00:05" in line
    out = io.StringIO()
    bar = ProgressBar(out, every=0)
    bar(state)
    bar({**state, "status": "succeeded", "counts": {"succeeded": 10}})
    assert out.getvalue().count("\n") == 2 and "10/10" in out.getvalue()  # not a terminal: one plain line each, no \r


def test_models_read_server_json_and_ignore_fields_a_newer_server_adds():
    b = Batch.from_dict({**BATCH, "something_new": 1})
    assert b.counts.running == 1 and b.status == "running"
    row = ManifestRow.from_dict(json.loads(json.dumps({
        "job_id": 1, "index": 0, "status": "succeeded", "params": {"prompt": "p"}, "seed": 5, "template": "text-card",
        "template_hash": "0" * 64, "coords": {}, "files": [{"name": "a.png", "subfolder": "s", "type": "output", "url": "http://x/a",
                                                         "sha256": "1" * 64, "bytes": 3}],
        "queued_at": None, "started_at": None, "finished_at": None, "duration_s": None, "cached": None, "error": None})))
    assert row.files[0].bytes == 3 and row.files[0].name == "a.png"
