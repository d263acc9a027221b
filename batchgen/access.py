"""Who may call a route: the loopback exemption and bearer tokens of sufficient scope (pure; no aiohttp).

The one access decision of the API. ``decide`` gets the TCP peer, the headers and the
scope the route table gives the route, and either returns who the caller is or raises
the ApiError to answer (401 token_required / token_invalid, 403 insufficient_scope,
400 token_in_query).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ApiError
from .tokens import TokenRecord, TokenStore, scope_allows

log = logging.getLogger("batchgen.access")

QUERY_TOKEN_NAMES = ("token", "access_token", "api_key", "apikey", "key", "bearer")
LOOPBACK_NAMES = ("localhost", "localhost.")
CLI_HINT = "python custom_nodes/<this extension's folder>/cli.py token create --name <who> --scope submit"


def is_loopback_ip(value: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ::ffff:127.x (an IPv4 loopback peer on a dual-stack socket)."""
    if not value:
        return False
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def host_name(host: str | None) -> str:
    """The name or IP of a Host header, lowercase, without port and brackets."""
    if not host:
        return ""
    parts = urlsplit("//" + host.strip())
    try:
        return (parts.hostname or "").lower()
    except ValueError:
        return ""


def is_loopback_host(host: str | None) -> bool:
    """True if a Host header names this machine's loopback (by literal, never by DNS: a rebinding name must not qualify)."""
    name = host_name(host)
    return name in LOOPBACK_NAMES or is_loopback_ip(name)


def origin_netloc(origin: str | None) -> str | None:
    """``host[:port]`` of an Origin header, lowercase (None when absent, ``null`` or unparsable)."""
    if not origin or origin.strip().lower() == "null":
        return None
    try:
        return urlsplit(origin.strip()).netloc.lower() or None
    except ValueError:
        return None


def is_cross_origin_browser(headers: Mapping[str, str]) -> bool:
    """True for a request a browser sent on behalf of a page of another origin (or Origin: null)."""
    origin = headers.get("Origin")
    if origin is not None and origin_netloc(origin) != (headers.get("Host") or "").strip().lower():
        return True
    return headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a token's record, or the loopback exemption (token None)."""

    token: TokenRecord | None = None

    @property
    def label(self) -> str:
        """For logs: the token id or 'loopback' (never the token)."""
        return self.token.id if self.token else "loopback"


@dataclass
class AccessPolicy:
    """The loopback rule and the token store, from the configuration."""

    tokens: TokenStore
    require_token: bool = False
    trusted_proxies: tuple[str, ...] = ()
    _hinted: bool = field(default=False, repr=False)

    def loopback_exempt(self, peer: str | None, headers: Mapping[str, str]) -> bool:
        """True if the caller may go without a token: loopback peer and Host, no untrusted proxy hop, not a cross-origin page."""
        if self.require_token or not is_loopback_ip(peer) or not is_loopback_host(headers.get("Host")):
            return False
        forwarded = headers.get("X-Forwarded-For") or headers.get("Forwarded")
        if forwarded is not None:
            if peer not in self.trusted_proxies:
                return False  # a proxy on this machine relays someone else: not a local caller
            first = forwarded.split(",")[0].strip()
            if headers.get("X-Forwarded-For") is None or not is_loopback_ip(first):
                return False
        # A page of another origin runs in a browser on this machine: it is loopback at the TCP level, but not the admin.
        return not is_cross_origin_browser(headers)

    def decide(self, peer: str | None, headers: Mapping[str, str], query_names: set[str], needed: str) -> Caller:
        """The caller of a route needing scope ``needed``; raises the 400/401/403 to answer otherwise."""
        given = {n.lower() for n in query_names} & set(QUERY_TOKEN_NAMES)
        if given:
            # The value is not echoed or logged: query strings end up in proxy logs and browser history.
            raise ApiError(400, "token_in_query", f"do not put a token in the URL (?{sorted(given)[0]}=); send it as the header "
                           "Authorization: Bearer <token>")
        auth = headers.get("Authorization")
        if auth is None:
            if self.loopback_exempt(peer, headers):
                return Caller()
            if not self.tokens.any_active():
                self._hint()
                raise ApiError(401, "token_required", "this route needs a token and none exists yet; the ComfyUI admin creates one "
                               f"with: {CLI_HINT}", headers={"WWW-Authenticate": 'Bearer realm="batchgen"'})
            raise ApiError(401, "token_required", f"send Authorization: Bearer <token> (a token with scope {needed} or higher)",
                           headers={"WWW-Authenticate": 'Bearer realm="batchgen"'})
        scheme, _, value = auth.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise ApiError(401, "token_invalid", "the Authorization header must be: Bearer <token>",
                           headers={"WWW-Authenticate": 'Bearer realm="batchgen", error="invalid_request"'})
        record = self.tokens.verify(value)
        if record is None:
            raise ApiError(401, "token_invalid", "the token is unknown or revoked",
                           headers={"WWW-Authenticate": 'Bearer realm="batchgen", error="invalid_token"'})
        if not scope_allows(record.scope, needed):
            raise ApiError(403, "insufficient_scope", f"this route needs a token with scope {needed}; this one has {record.scope}",
                           {"needed": needed, "scope": record.scope},
                           headers={"WWW-Authenticate": f'Bearer realm="batchgen", error="insufficient_scope", scope="{needed}"'})
        return Caller(record)

    def _hint(self) -> None:
        if not self._hinted:
            self._hinted = True
            log.warning("[batchgen] a remote client called the API but no token exists; create one with: %s "
                        "(run it with ComfyUI's python; the token is printed once)", CLI_HINT)
