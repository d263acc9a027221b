"""The JavaScript receiver of docs/api.md § Webhooks really verifies our signatures (and refuses a forged one)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import datetime, timezone

import pytest
from batchgen_ext.batchgen.webhook_secrets import new_secret
from standardwebhooks import Webhook

from tests.api.conftest import ROOT

DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
JS = next(m.group(1) for m in re.finditer(r"```javascript\n(.*?)```", DOC, re.S) if "createHmac" in m.group(1))


def js_verify(secret: str, headers: dict[str, str], body: str) -> bool:
    verify = JS[JS.index("function verify"):JS.index("createServer(")]
    script = (f'const {{createHmac, timingSafeEqual}} = require("node:crypto");\n'
              f'const key = Buffer.from({json.dumps(secret)}.slice(6), "base64");\n{verify}\n'
              f"process.stdout.write(String(verify({json.dumps(headers)}, {json.dumps(body)})));")
    return subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout == "true"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_documented_javascript_receiver_accepts_ours_and_refuses_a_forgery():
    secret = new_secret()
    body = json.dumps({"type": "job.succeeded", "timestamp": "2026-12-01T12:00:00Z", "data": {"seq": 7, "note": "日本"}},
                      ensure_ascii=False, separators=(",", ":"))
    now = int(time.time())
    signature = Webhook(secret).sign("evt_7", datetime.fromtimestamp(now, tz=timezone.utc), body)
    headers = {"webhook-id": "evt_7", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert js_verify(secret, headers, body)
    assert not js_verify(secret, headers, body.replace("7", "8"))
    assert not js_verify(new_secret(), headers, body)
    assert not js_verify(secret, {**headers, "webhook-timestamp": str(now - 3600)}, body)
