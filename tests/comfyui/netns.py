"""A real non-loopback caller for real-ComfyUI tests: a network namespace joined to the host by a veth pair.

ComfyUI listens on 127.0.0.1 and the host end's address, so requests from inside the namespace arrive with a
non-loopback TCP peer. Tests using it are skipped (with the reason) when namespaces cannot be made here.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .harness import comfy_env, new_server


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
