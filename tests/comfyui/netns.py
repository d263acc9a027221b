"""A real non-loopback caller for real-ComfyUI tests: a network namespace joined to the host by a veth pair.

ComfyUI listens on 127.0.0.1 and the host end's address, so requests from inside the namespace arrive with a
non-loopback TCP peer. Tests using it are skipped (with the reason) when namespaces cannot be made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .harness import comfy_env, new_server

# One HTTP request made from inside a namespace: prints [status, body text, headers] as JSON (error statuses too).
_CLIENT = r"""
import json, sys, urllib.request, urllib.error
url, method, headers, body = json.loads(sys.argv[1])
req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method, headers=headers)
try:
    with urllib.request.urlopen(req, timeout=15) as r:
        status, text, hdrs = r.status, r.read().decode(), dict(r.headers)
except urllib.error.HTTPError as e:
    status, text, hdrs = e.code, e.read().decode(), dict(e.headers)
print(json.dumps([status, text, hdrs]))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass(frozen=True)
class Veth:
    """One namespace (``name``) with ``ns_ip`` on its end of a veth pair; ``host_ip`` on the host end."""

    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str

    def down(self) -> None:
        """Remove the pair and the namespace (nothing happens when they do not exist)."""
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)

    def up(self) -> None:
        """Make the namespace and the pair; pytest.skip with the reason when this machine cannot."""
        if os.geteuid() != 0 or not Path("/usr/sbin/ip").exists() and not Path("/sbin/ip").exists():
            pytest.skip("a network namespace needs root and iproute2")
        self.down()
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)
            _ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
            _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except (subprocess.CalledProcessError, OSError) as exc:
            self.down()
            pytest.skip(f"could not make a network namespace here: {exc}")

    def request(self, url: str, method: str = "GET", headers: dict | None = None, body: str | None = None) -> tuple[int, str, dict]:
        """One request from inside the namespace (TCP peer ``ns_ip``): (status, body text, response headers)."""
        arg = json.dumps([url, method, dict(headers or {}), body])
        out = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", _CLIENT, arg], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        status, text, hdrs = json.loads(out.stdout)
        return status, text, hdrs


def make_token(comfy, name: str, scope: str) -> str:
    """A new API token, made with cli.py through the linked custom_nodes folder while ComfyUI runs."""
    script = comfy.data_dir / "custom_nodes" / "comfyui-batchgen" / "cli.py"
    made = subprocess.run([str(comfy.python), str(script), "token", "create", "--name", name, "--scope", scope], capture_output=True,
                          text=True, timeout=60, cwd=comfy.data_dir)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def remote_fixtures(veth: Veth):
    """(netns, comfy) module fixtures: the namespace, and a ComfyUI listening on loopback and the host end."""

    @pytest.fixture(scope="module")
    def netns():
        veth.up()
        yield veth
        veth.down()

    @pytest.fixture(scope="module")
    def comfy(tmp_path_factory, netns):
        assert comfy_env() is not None
        server = new_server(tmp_path_factory.mktemp("comfy"), extra_args=["--listen", f"127.0.0.1,{veth.host_ip}"])
        server.start()
        yield server
        server.stop()

    return netns, comfy
