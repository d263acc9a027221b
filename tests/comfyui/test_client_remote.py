"""The CLI as a real non-loopback caller (network namespace + veth, as in test_remote_live.py): token from the environment.

ComfyUI listens on 127.0.0.1 and 10.200.9.1; the CLI runs in the namespace ``bgclient`` (10.200.9.2), so our routes
see a remote peer: no token is refused, BATCHGEN_TOKEN works for submit, wait (SSE) and a verified download, and
`settings` needs an admin token and changes the allowed browser origins at once.
Skipped (with the reason) when namespaces cannot be made here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from .harness import REPO_ROOT
from .netns import Veth, make_token, remote_fixtures

VETH = Veth("bgclient", "bgc0", "bgc1", "10.200.9.1", "10.200.9.2")
NS, HOST_IP = VETH.name, VETH.host_ip


netns, comfy = remote_fixtures(VETH)


def remote_cli(comfy, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT / "client"), "BATCHGEN_URL": f"http://{HOST_IP}:{comfy.port}"}
    if token is not None:
        env["BATCHGEN_TOKEN"] = token
    return subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-m", "batchgen_client", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_remote_cli_needs_the_token_and_then_submits_waits_and_downloads(comfy, tmp_path):
    token = make_token(comfy, "remote-cli", "submit")
    products = tmp_path / "products.csv"
    products.write_text("prompt\n远程 card one\nremote card two\n", encoding="utf-8")
    refused = remote_cli(comfy, "ls")
    assert refused.returncode == 1 and "401 token_required" in refused.stderr
    done = remote_cli(comfy, "submit", str(products), "--template", "text-card", "--param", "width=128", "--param", "height=64",
                      "--download", str(tmp_path / "out"), token=token)
    assert done.returncode == 0, done.stderr
    batch_id = done.stdout.splitlines()[0].strip()
    assert json.loads(done.stdout.splitlines()[-1])["downloaded"] == 2
    assert any(line.startswith("[") and "2/2" in line for line in done.stderr.splitlines()), done.stderr
    for job in comfy.all_jobs(batch_id):
        (out,) = job["outputs"]
        local = tmp_path / "out" / out["filename"]
        assert hashlib.sha256(local.read_bytes()).hexdigest() == \
            hashlib.sha256((comfy.output_dir / out["subfolder"] / out["filename"]).read_bytes()).hexdigest()
    assert token not in comfy.log_tail(2000)


def test_remote_cli_settings_need_an_admin_token_and_a_saved_origin_is_allowed_at_once(comfy):
    tokens = {scope: make_token(comfy, f"remote-settings-{scope}", scope) for scope in ("submit", "admin")}
    refused = remote_cli(comfy, "settings", token=tokens["submit"])
    assert refused.returncode == 1 and "403 insufficient_scope" in refused.stderr
    origin = "https://dash.remote.example"
    changed = remote_cli(comfy, "settings", "--add-origin", origin, token=tokens["admin"])
    assert changed.returncode == 0, changed.stderr
    assert origin in json.loads(changed.stdout)["cors_origins"]["saved"]
    # A browser page on that origin may call the API now (preflight answered for it), without restarting ComfyUI.
    _, _, answered = VETH.request(f"http://{HOST_IP}:{comfy.port}/batchgen/v1/batches", "OPTIONS",
                                  {"Origin": origin, "Access-Control-Request-Method": "POST",
                                   "Access-Control-Request-Headers": "authorization, content-type"})
    answered = {k.lower(): v for k, v in answered.items()}
    assert answered.get("access-control-allow-origin") == origin, answered
    removed = remote_cli(comfy, "settings", "--remove-origin", origin, token=tokens["admin"])
    assert removed.returncode == 0 and origin not in json.loads(removed.stdout)["cors_origins"]["saved"]
    for token in tokens.values():
        assert token not in comfy.log_tail(2000)
