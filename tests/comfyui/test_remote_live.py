"""Remote access on a real ComfyUI with default flags: a real non-loopback caller (network namespace + veth) and tokens.

The namespace ``bgremote`` gets 10.200.7.2 on one end of a veth pair, the host side 10.200.7.1;
ComfyUI listens on 127.0.0.1 and 10.200.7.1, so requests from the namespace arrive with a
non-loopback TCP peer. Skipped (with the reason) when namespaces cannot be made here.
"""

from __future__ import annotations

import json

from .netns import Veth, make_token, remote_fixtures

VETH = Veth("bgremote", "bgr0", "bgr1", "10.200.7.1", "10.200.7.2")
HOST_IP = VETH.host_ip
BATCH = {"template": "text-card", "prompts": ["remote"], "params": {"width": 64, "height": 64}}

netns, comfy = remote_fixtures(VETH)


def remote(comfy, method: str, path: str, headers: dict | None = None, body: dict | None = None) -> tuple[int, str, dict]:
    """One request from inside the namespace (TCP peer 10.200.7.2)."""
    hdrs = {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
    return VETH.request(f"http://{HOST_IP}:{comfy.port}{path}", method, hdrs, json.dumps(body) if body is not None else None)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_real_non_loopback_caller_matrix(comfy):
    api = "/batchgen/v1"
    # No token exists yet: refused, told how to make one; the log says it once.
    for _ in range(2):
        status, text, hdrs = remote(comfy, "GET", api + "/batches")
        assert status == 401 and "token_required" in text and "cli.py token create" in text
        assert hdrs["WWW-Authenticate"].startswith("Bearer")
    assert comfy.log_tail(400).count("no token exists; create one with") == 1
    # The same route from this machine needs none.
    assert comfy.request("GET", api + "/batches")[0] == 200

    read, submit, admin = (make_token(comfy, n, s) for n, s in (("r", "read"), ("s", "submit"), ("a", "admin")))
    before = comfy.get(api + "/batches")["total"]
    cases = [({}, 401, "token_required"), (bearer("bg_wrong"), 401, "token_invalid"), (bearer(read), 403, "insufficient_scope")]
    for headers, want, code in cases:
        status, text, _ = remote(comfy, "POST", api + "/batches", headers, BATCH)
        assert (status, json.loads(text)["error"]) == (want, code)
    status, text, _ = remote(comfy, "POST", f"{api}/batches?token={submit}", {}, BATCH)
    assert status == 400 and "token_in_query" in text and submit not in text
    # DNS-rebinding shape: a name that is not loopback in Host, even from this machine.
    status, _, _ = comfy.request("GET", api + "/batches", headers={"Host": f"rebind.evil.example:{comfy.port}"})
    assert status == 401
    assert comfy.get(api + "/batches")["total"] == before  # nothing was created

    status, text, _ = remote(comfy, "POST", api + "/batches", bearer(submit), BATCH)
    assert status == 201, text
    batch = json.loads(text)["id"]
    assert remote(comfy, "GET", f"{api}/batches/{batch}", bearer(read))[0] == 200
    comfy.wait_batch(batch, timeout=120)

    # Admin over the network: list (no values), revoke.
    status, text, _ = remote(comfy, "GET", api + "/tokens", bearer(admin))
    assert status == 200 and all(t not in text for t in (read, submit, admin))
    token_id = next(t["id"] for t in json.loads(text)["tokens"] if t["name"] == "s")
    assert remote(comfy, "DELETE", f"{api}/tokens/{token_id}", bearer(admin))[0] == 200
    status, text, _ = remote(comfy, "POST", api + "/batches", bearer(submit), BATCH)
    assert status == 401 and "token_invalid" in text

    # No token value anywhere ComfyUI or we keep things.
    haystacks = [comfy.log_path.read_text(errors="replace"), comfy.db_path.read_bytes().decode("latin-1"),
                 json.dumps(comfy.get("/system_stats")), json.dumps(comfy.get("/history")),
                 json.dumps(comfy.request("GET", "/internal/logs")[1])]
    tokens_file = comfy.user_dir / "__batchgen" / "tokens.json"
    haystacks.append(tokens_file.read_text())
    assert oct(tokens_file.stat().st_mode & 0o777) == "0o600"
    for value in (read, submit, admin):
        assert not any(value in h or value[3:] in h for h in haystacks)
