"""Thin shared states: who is calling. Every handler of a page state asks these first.

Sessions are HttpOnly cookies set by plain HTTP routes (api.py); Reflex sees them in the
websocket handshake headers, so no session secret is ever a frontend var.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import reflex as rx

from portal_app import accounts, routes
from portal_app.billing import portal_links
from portal_app.db import session_scope


def _cookie(header: str, name: str) -> str:
    jar = SimpleCookie()
    try:
        jar.load(header or "")
    except Exception:  # noqa: BLE001 - a malformed Cookie header means no session
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


class PortalSessionState(rx.State):
    """The subscriber behind this browser, re-checked against the database on every call."""

    def _portal_identity(self) -> tuple[int, int] | None:
        """(merchant_id, subscriber_id) of a live portal session, or None."""
        secret = _cookie(self.router.headers.cookie, routes.PORTAL_SESSION_COOKIE)
        if not secret:
            return None
        with session_scope() as session:
            found = portal_links.resolve_portal_session(session, secret)
            return (found.merchant_id, found.subscriber_id) if found else None


class ConsoleAuthState(rx.State):
    """The merchant user behind this browser; console handlers call _require_console() first."""

    def _console_identity(self) -> accounts.ConsoleIdentity | None:
        secret = _cookie(self.router.headers.cookie, routes.CONSOLE_SESSION_COOKIE)
        if not secret:
            return None
        with session_scope() as session:
            return accounts.resolve_console_session(session, secret)
