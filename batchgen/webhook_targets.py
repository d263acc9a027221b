"""Where webhooks may be sent: public addresses only, unless the configuration allows more (SSRF guard).

A webhook URL names a host; every address it resolves to must be a public unicast address
(not loopback, private, link-local — which holds the cloud metadata address 169.254.169.254 —,
unique-local fd00::/8, carrier NAT, multicast, reserved or unspecified), unless
BATCHGEN_WEBHOOK_ALLOW_PRIVATE=1 or the address / host name is in BATCHGEN_WEBHOOK_ALLOW.
The check runs at creation and again before every delivery, and the connection is made
through ``CheckedResolver`` to exactly the addresses that passed, so a DNS answer that changes
between the check and the connection (rebinding) cannot reach a refused address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from .errors import ApiError

RESOLVE_TIMEOUT = 5.0
MAX_URL = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(Exception):
    """The webhook's host is not an allowed target (the message says why; no secret in it)."""


@dataclass(frozen=True)
class TargetPolicy:
    """What may be a webhook target beyond public addresses."""

    allow_private: bool = False
    networks: tuple[IPNetwork, ...] = ()
    hosts: tuple[str, ...] = ()  # lowercase names allowed whatever they resolve to

    @classmethod
    def parse(cls, allow_private: bool, items: tuple[str, ...]) -> TargetPolicy:
        """From the configuration: IPs / CIDRs become networks, anything else a host name."""
        networks: list[IPNetwork] = []
        hosts: list[str] = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.append(item.lower().rstrip("."))
        return cls(allow_private, tuple(networks), tuple(hosts))

    def address_allowed(self, ip: IPAddress) -> bool:
        """True if a resolved address may be connected to."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
        if self.allow_private or any(ip in net for net in self.networks):
            return True
        return ip.is_global and not ip.is_multicast and not ip.is_reserved


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL; ApiError 400 invalid_webhook_url if it is not a plain http(s) URL."""
    if len(url) > MAX_URL or not url.isascii() or any(c.isspace() for c in url):
        raise ApiError(400, "invalid_webhook_url", f"url must be an ASCII http(s) URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise ApiError(400, "invalid_webhook_url", "url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ApiError(400, "invalid_webhook_url", "url must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ApiError(400, "invalid_webhook_url", "url must not contain user:password@ or a #fragment")
    return parts.scheme, host.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int, loop: asyncio.AbstractEventLoop | None = None) -> list[IPAddress]:
    """Every address of ``host`` (an IP literal is itself), resolved off the event loop with a timeout."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = loop or asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as exc:
        raise TargetRefused(f"the host {host!r} could not be resolved ({type(exc).__name__})") from None
    found: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise TargetRefused(f"the host {host!r} has no address")
    return found


async def check_target(policy: TargetPolicy, url: str, resolver: Any = None) -> list[IPAddress]:
    """The addresses a delivery to ``url`` may use; TargetRefused if any resolved address is not allowed."""
    _scheme, host, port = parse_url(url)
    addresses = await (resolver or resolve)(host, port)
    if host in policy.hosts:
        return addresses
    refused = [str(ip) for ip in addresses if not policy.address_allowed(ip)]
    if refused:
        raise TargetRefused(f"{host} resolves to {', '.join(refused)}: loopback, private, link-local and metadata addresses "
                            "are refused (BATCHGEN_WEBHOOK_ALLOW_PRIVATE=1 or BATCHGEN_WEBHOOK_ALLOW lifts this)")
    return addresses


class CheckedResolver(AbstractResolver):
    """aiohttp resolver answering only with addresses that passed ``check_target`` (one delivery's pinned answer)."""

    def __init__(self, pinned: dict[str, list[IPAddress]]) -> None:
        self.pinned = pinned

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The pinned addresses of ``host``; any other host is refused (no redirects are followed anyway)."""
        addresses = self.pinned.get(host.lower().rstrip("."))
        if not addresses:
            raise OSError(f"{host} was not checked as a webhook target")
        return [ResolveResult(hostname=host, host=str(ip), port=port,
                              family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST) for ip in addresses]

    async def close(self) -> None:
        """Nothing to release."""
