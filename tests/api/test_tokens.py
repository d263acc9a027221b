"""The token store: only hashes on disk, mode 0600, scopes, revoke, reload when another process changes the file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from batchgen_ext.batchgen import tokens as tokens_mod
from batchgen_ext.batchgen.tokens import TokenError, TokenStore, hash_token, scope_allows

from tests.api.conftest import ROOT


def test_token_is_shown_once_and_only_its_hash_is_stored(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    record, token = store.create("laptop", "submit")
    assert token.startswith("bg_") and len(token) >= 40
    text = (tmp_path / "tokens.json").read_text()
    assert token not in text and token[3:] not in text
    assert hash_token(token) in text
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600
    assert "hash" not in record.public() and "token" not in record.public()
    assert store.verify(token).id == record.id
    assert store.verify(token + "x") is None
    assert store.verify("") is None


def test_mode_stays_0600_under_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        store = TokenStore(tmp_path / "tokens.json")
        store.create("a", "read")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600


def test_scopes_are_ordered():
    assert scope_allows("admin", "submit") and scope_allows("admin", "read") and scope_allows("submit", "read")
    assert not scope_allows("read", "submit") and not scope_allows("submit", "admin")


def test_revoked_token_no_longer_verifies_and_revocation_persists(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    record, token = store.create("ci", "admin")
    assert store.revoke(record.id).revoked
    assert store.verify(token) is None
    assert TokenStore(tmp_path / "tokens.json").verify(token) is None
    assert store.revoke("nope") is None
    assert not store.any_active()


def test_a_token_added_by_another_process_is_seen_without_restart(tmp_path):
    server_side = TokenStore(tmp_path / "tokens.json")
    assert not server_side.any_active()
    time.sleep(0.01)  # a different mtime_ns
    _, token = TokenStore(tmp_path / "tokens.json").create("from the cli", "read")
    assert server_side.verify(token) is not None


def test_verify_compares_in_constant_time(tmp_path, monkeypatch):
    store = TokenStore(tmp_path / "tokens.json")
    for i in range(3):
        store.create(f"t{i}", "read")
    calls = []
    real = tokens_mod.hmac.compare_digest
    monkeypatch.setattr(tokens_mod.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    store.verify("bg_wrong")
    assert len(calls) == 3  # every stored hash is compared, no early exit and no == on secrets


def test_last_used_is_coarse(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    _, token = store.create("a", "read")
    store.verify(token)
    first = json.loads((tmp_path / "tokens.json").read_text())["tokens"][0]["last_used_at"]
    mtime = (tmp_path / "tokens.json").stat().st_mtime_ns
    store.verify(token)
    assert (tmp_path / "tokens.json").stat().st_mtime_ns == mtime  # not rewritten within the minute
    assert first is not None


def test_bad_name_or_scope(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    with pytest.raises(TokenError):
        store.create("", "read")
    with pytest.raises(TokenError):
        store.create("x", "root")
    assert not (tmp_path / "tokens.json").exists()


def test_a_broken_file_keeps_the_tokens_loaded_before(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    _, token = store.create("a", "read")
    time.sleep(0.01)
    (tmp_path / "tokens.json").write_text("{not json")
    assert store.verify(token) is not None


def test_cli_creates_lists_and_revokes_without_the_token_in_argv(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    cli = [sys.executable, str(ROOT / "cli.py"), "--user-dir", str(user), "token"]
    made = subprocess.run([*cli, "create", "--name", "laptop", "--scope", "submit"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("bg_") and token not in made.stderr
    store = TokenStore(user / "__batchgen" / "tokens.json")
    record = store.verify(token)
    assert record is not None and record.scope == "submit"
    listed = subprocess.run([*cli, "list"], capture_output=True, text=True, timeout=60)
    assert json.loads(listed.stdout)[0]["id"] == record.id and token not in listed.stdout
    assert "hash" not in listed.stdout
    revoked = subprocess.run([*cli, "revoke", record.id], capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0
    assert store.verify(token) is None
    no_dir = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--user-dir", str(tmp_path / "missing"), "token", "list"],
                            capture_output=True, text=True, timeout=60)
    assert no_dir.returncode == 2 and "--user-dir" in no_dir.stderr
