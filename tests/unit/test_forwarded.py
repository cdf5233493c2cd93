"""The client behind trusted reverse proxies (portal_app/forwarded.py), TRUSTED_PROXIES parsing and
the same-origin check against PUBLIC_URL (api/headers.py)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from portal_app import forwarded
from portal_app.api import headers
from portal_app.forwarded import ForwardedClientMiddleware, client_address, forwarded_scope, parse_address
from portal_app.settings import Settings, parse_trusted_proxies

LOOPBACK_AND_LAN = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8, ::1")


@pytest.mark.parametrize(
    "text,networks",
    [
        ("", ()),
        (" ", ()),
        ("127.0.0.1", ("127.0.0.1/32",)),
        ("10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8", ("10.0.0.0/8", "192.168.1.7/32", "::1/128", "fd00::/8")),
        ("10.1.2.3/8", ("10.0.0.0/8",)),  # host bits set: the network they name
        ("127.0.0.1,,", ("127.0.0.1/32",)),
    ],
)
def test_trusted_proxies_parse(text, networks):
    assert tuple(str(n) for n in parse_trusted_proxies(text)) == networks


@pytest.mark.parametrize("entry", ["nginx", "10.0.0.0/33", "1.2.3", "127.0.0.1:80", "*", "::1/129"])
def test_a_bad_trusted_proxy_entry_stops_start_up_naming_it(entry):
    with pytest.raises(ValueError) as err:
        Settings(secret_key="k" * 40, trusted_proxies=f"127.0.0.1, {entry}", _env_file=None)
    assert f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network" in str(err.value)


def test_trusted_proxies_empty_by_default():
    assert Settings(secret_key="k" * 40, _env_file=None).trusted_proxy_networks == ()


@pytest.mark.parametrize(
    "text,address",
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:4711", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
    ],
)
def test_addresses_as_proxies_write_them(text, address):
    parsed = parse_address(text)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(
    "peer,xff,client",
    [
        # A visitor's spoofed header, one trusted proxy: the proxy appended the real peer.
        ("127.0.0.1", ["6.6.6.6", "203.0.113.7"], "203.0.113.7"),
        # Two trusted hops (a load balancer in 10/8 in front of the local proxy).
        ("127.0.0.1", ["6.6.6.6", "203.0.113.7", "10.0.0.5"], "203.0.113.7"),
        # An untrusted peer's header is never read.
        ("198.51.100.20", ["203.0.113.7"], "198.51.100.20"),
        ("198.51.100.20", ["10.0.0.5"], "198.51.100.20"),
        # Only trusted hops: the leftmost one is the client (a request from inside).
        ("127.0.0.1", ["10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", [], "127.0.0.1"),
        # A garbled entry ends the walk at the trusted hop that wrote it.
        ("127.0.0.1", ["203.0.113.7", "unknown"], "127.0.0.1"),
        ("127.0.0.1", ["unknown", "10.0.0.5"], "10.0.0.5"),
        # IPv6, with and without brackets and ports.
        ("::1", ["[2001:db8::7]:5000"], "2001:db8::7"),
        ("::ffff:127.0.0.1", ["2001:db8::7"], "2001:db8::7"),
    ],
)
def test_the_first_untrusted_hop_from_the_right_is_the_client(peer, xff, client):
    assert client_address(peer, xff, LOOPBACK_AND_LAN) == client


def test_no_proxy_trusted_means_the_peer_whatever_the_header_says():
    assert client_address("127.0.0.1", ["198.51.100.9"], ()) == "127.0.0.1"


def _scope(peer=("127.0.0.1", 5000), kind="http", **header_values) -> dict:
    scheme = "http" if kind == "http" else "ws"
    raw = [(name.replace("_", "-").encode(), value.encode()) for name, value in header_values.items()]
    return {"type": kind, "scheme": scheme, "client": peer, "headers": [(b"host", b"127.0.0.1:8000"), *raw]}


def test_repeated_forwarded_headers_join_in_order():
    scope = _scope()
    scope["headers"] += [(b"x-forwarded-for", b"6.6.6.6"), (b"X-Forwarded-For", b"203.0.113.7, 10.0.0.5")]
    assert forwarded_scope(scope, LOOPBACK_AND_LAN)["client"] == ("203.0.113.7", 0)


@pytest.mark.parametrize("kind,secure", [("http", "https"), ("websocket", "wss")])
def test_a_trusted_hop_says_the_scheme(kind, secure):
    rewritten = forwarded_scope(
        _scope(kind=kind, x_forwarded_for="203.0.113.7", x_forwarded_proto="https"), LOOPBACK_AND_LAN
    )
    assert rewritten["scheme"] == secure and rewritten["client"] == ("203.0.113.7", 0)


def test_an_untrusted_peer_changes_nothing():
    scope = _scope(peer=("198.51.100.20", 5000), x_forwarded_for="203.0.113.7", x_forwarded_proto="https")
    assert forwarded_scope(scope, LOOPBACK_AND_LAN) is scope
    assert forwarded_scope(_scope(x_forwarded_for="203.0.113.7"), ()) == _scope(x_forwarded_for="203.0.113.7")


def test_a_trusted_peer_without_forwarded_for_keeps_its_port():
    assert forwarded_scope(_scope(), LOOPBACK_AND_LAN)["client"] == ("127.0.0.1", 5000)


def _seen_by_app(scope: dict, trusted) -> dict:
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    asyncio.run(ForwardedClientMiddleware(app, trusted=trusted)(scope, None, None))
    return seen


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_the_middleware_rewrites_http_and_websocket_scopes(kind):
    seen = _seen_by_app(_scope(kind=kind, x_forwarded_for="6.6.6.6, 203.0.113.7"), LOOPBACK_AND_LAN)
    assert seen["client"] == ("203.0.113.7", 0)
    assert Request({**seen, "type": "http"}).client.host == "203.0.113.7"


def test_the_middleware_reads_trusted_proxies_from_settings(monkeypatch):
    settings = Settings(secret_key="k" * 40, trusted_proxies="127.0.0.0/8", _env_file=None)
    monkeypatch.setattr(forwarded, "get_settings", lambda: settings)
    assert _seen_by_app(_scope(x_forwarded_for="203.0.113.7"), None)["client"] == ("203.0.113.7", 0)
    assert _seen_by_app({"type": "lifespan"}, None) == {"type": "lifespan"}


# --- same origin: PUBLIC_URL's scheme, host and port, never the (proxy-rewritten) Host header ------


def _request(origin: str | None, host: str = "127.0.0.1:8000", **extra) -> Request:
    raw = [(b"host", host.encode())]
    if origin is not None:
        raw.append((b"origin", origin.encode()))
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in extra.items()]
    return Request({"type": "http", "method": "POST", "headers": raw, "path": "/"})


@pytest.mark.parametrize(
    "public_url,origin,host,allowed",
    [
        # nginx's default: Host becomes the upstream's address; the browser's Origin is the public one.
        ("https://billing.example.com", "https://billing.example.com", "127.0.0.1:8000", True),
        ("https://billing.example.com/", "https://Billing.Example.com:443", "127.0.0.1:8000", True),
        ("http://localhost:3000", "http://localhost:3000", "localhost:3000", True),
        # A page on another origin, even one that names our Host.
        ("https://billing.example.com", "https://evil.example", "billing.example.com", False),
        ("https://billing.example.com", "http://billing.example.com", "billing.example.com", False),
        ("https://billing.example.com", "https://billing.example.com:8443", "billing.example.com:8443", False),
        ("https://billing.example.com", "https://billing.example.com.evil.example", "127.0.0.1:8000", False),
        ("https://billing.example.com", "https://billing.example.com:x", "127.0.0.1:8000", False),
        ("https://billing.example.com", "127.0.0.1:8000", "127.0.0.1:8000", False),
    ],
)
def test_same_origin_compares_with_public_url(monkeypatch, public_url, origin, host, allowed):
    settings = Settings(secret_key="k" * 40, public_url=public_url, _env_file=None)
    monkeypatch.setattr(headers, "get_settings", lambda: settings)
    assert headers.same_origin(_request(origin, host)) is allowed


def test_same_origin_without_origin_or_with_null(monkeypatch):
    settings = Settings(secret_key="k" * 40, public_url="https://billing.example.com", _env_file=None)
    monkeypatch.setattr(headers, "get_settings", lambda: settings)
    assert headers.same_origin(_request(None))
    assert headers.same_origin(_request("null", sec_fetch_site="same-origin"))
    assert not headers.same_origin(_request("null", sec_fetch_site="cross-site"))
