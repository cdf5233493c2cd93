"""The session cookie of each live Reflex connection, kept in this process's memory only.

Reflex copies the websocket handshake headers into every event's router data, stores them on the
root state (`router_data`, `router.headers`) and pickles that state into `.states/` or Redis. So
the Cookie header never reaches Reflex: `HandshakeCookieMiddleware` (mounted in front of Reflex by
api/) takes it out of the handshake, keeps it here under a random connection key for exactly as
long as the socket is open, and gives Reflex that key instead, in the `x-portal-connection` header.
`cookie_of(headers)` turns the key of the live connection back into its cookie. The key is no
secret: the middleware replaces any key a client sends, so knowing one opens nothing.

A socket and the events it sends are handled by the same worker process, so with the Redis state
manager the state may move between workers but the cookie never leaves the worker holding the socket.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from portal_app import routes

CONNECTION_HEADER = "x-portal-connection"
_CONNECTION_HEADER = CONNECTION_HEADER.encode()
_STRIPPED = {b"cookie", _CONNECTION_HEADER}

_live: dict[str, str] = {}  # connection key -> the Cookie header of its handshake


@contextlib.contextmanager
def live_connection(cookie_header: str) -> Iterator[str]:
    """Remember a connection's cookie while the block runs; yields the connection's key."""
    key = secrets.token_urlsafe(32)
    _live[key] = cookie_header
    try:
        yield key
    finally:
        _live.pop(key, None)


def cookie_of(headers: Mapping[str, str]) -> str:
    """The Cookie header of the live connection these (Reflex router) headers came from; "" if none."""
    return _live.get(headers.get(CONNECTION_HEADER, ""), "")


def live_connection_count() -> int:
    return len(_live)


def _is_reflex_socket(scope: Scope) -> bool:
    if scope["type"] == "websocket":  # the event socket is the app's only websocket
        return True
    return scope["type"] == "http" and scope.get("path", "").startswith(routes.REFLEX_EVENT)


class HandshakeCookieMiddleware:
    """Pure ASGI: Reflex's socket sees a connection key where the handshake had its Cookie header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_reflex_socket(scope):
            await self.app(scope, receive, send)
            return
        cookie = "; ".join(value.decode("latin-1") for name, value in scope["headers"] if name.lower() == b"cookie")
        headers = [(name, value) for name, value in scope["headers"] if name.lower() not in _STRIPPED]
        with live_connection(cookie) as key:
            await self.app({**scope, "headers": [*headers, (_CONNECTION_HEADER, key.encode())]}, receive, send)
