"""The real client address behind trusted reverse proxies, for HTTP routes and Reflex's socket alike.

Behind a proxy every connection comes from the proxy, so every visitor would share one rate-limit
bucket. `ForwardedClientMiddleware` (pure ASGI, mounted outermost by api/) rewrites the ASGI scope's
`client` before anything reads it: Starlette's `request.client` in the routes and Reflex's
`router.session.client_ip` (Reflex takes it from the socket handshake's `scope["client"]`, once per
connection, in `App._build_static_router_data`).

X-Forwarded-For is believed only through the hops in TRUSTED_PROXIES: starting from the socket's
peer, walk the list from the right while the hop is trusted; the first untrusted address is the
client. A peer that is not trusted is the client whatever its X-Forwarded-For says, so a spoofed
header from the internet changes nothing. Reflex's own `trusted_proxy_hops` must stay 0 (its
default), or Reflex would apply X-Forwarded-For a second time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from portal_app.settings import TrustedNetworks, get_settings

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_SECURE_SCHEMES = {"http": "https", "websocket": "wss"}


def parse_address(text: str) -> _Address | None:
    """An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`, `1.2.3.4:80`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 peer seen on a dual-stack socket (::ffff:127.0.0.1) is that IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: _Address | None, trusted: TrustedNetworks) -> bool:
    return address is not None and any(address.version == net.version and address in net for net in trusted)


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every X-Forwarded-For entry, leftmost (the farthest hop) first; repeated headers join in order."""
    entries: list[str] = []
    for name, value in headers:
        if name.lower() == b"x-forwarded-for":
            entries.extend(part.strip() for part in value.decode("latin-1").split(",") if part.strip())
    return entries


def client_address(peer: str, forwarded: list[str], trusted: TrustedNetworks) -> str:
    """The client: the peer if it is not a trusted proxy, else the first untrusted hop from the right.

    When every hop is trusted the leftmost one is the client (a request from inside the proxies'
    network). An entry that is not an address ends the walk at the trusted hop that wrote it, so
    a garbled chain is counted against that proxy, never against an address a client chose.
    """
    peer_address = parse_address(peer)
    if not is_trusted(peer_address, trusted):
        return peer
    client = str(peer_address)
    for entry in reversed(forwarded):
        address = parse_address(entry)
        if address is None:
            return client
        client = str(address)
        if not is_trusted(address, trusted):
            return client
    return client


def forwarded_scope(scope: Scope, trusted: TrustedNetworks) -> Scope:
    """The scope as the client made it: `client` (port 0 when it came from X-Forwarded-For) and,
    from a trusted peer, the scheme its X-Forwarded-Proto names."""
    peer = scope.get("client")
    if not trusted or not peer or not is_trusted(parse_address(peer[0]), trusted):
        return scope
    headers = scope.get("headers", [])
    client = client_address(peer[0], forwarded_for(headers), trusted)
    rewritten = {**scope, "client": (client, peer[1] if client == peer[0] else 0)}
    proto = next((value for name, value in headers if name.lower() == b"x-forwarded-proto"), b"")
    first_proto = proto.decode("latin-1").split(",")[0].strip().lower()
    if first_proto == "https":
        rewritten["scheme"] = _SECURE_SCHEMES.get(scope["type"], scope.get("scheme", "http"))
    elif first_proto == "http":
        rewritten["scheme"] = "ws" if scope["type"] == "websocket" else "http"
    return rewritten


class ForwardedClientMiddleware:
    """Pure ASGI: `scope["client"]` is the real client for everything behind it (HTTP and websocket)."""

    def __init__(self, app: ASGIApp, trusted: TrustedNetworks | None = None) -> None:
        self.app = app
        self.trusted = get_settings().trusted_proxy_networks if trusted is None else trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = forwarded_scope(scope, self.trusted)
        await self.app(scope, receive, send)
