"""Thin shared states: who is calling. Every handler of a page state asks these first.

Sessions are HttpOnly cookies set by plain HTTP routes (api/); Reflex sees them in the
websocket handshake headers, so no session secret is ever a frontend var. The check itself is
billing/sessions.py, the same one the HTTP routes use.
"""

from __future__ import annotations

import reflex as rx

from portal_app.billing import sessions


class PortalSessionState(rx.State):
    """The subscriber behind this browser, re-checked against the database on every call."""

    def _portal_identity(self) -> sessions.PortalIdentity | None:
        """(merchant_id, subscriber_id) of a live portal session, or None."""
        return sessions.portal_identity(self.router.headers.cookie)


class ConsoleAuthState(rx.State):
    """The merchant user behind this browser; every console page state authorizes through it first."""

    def _console_identity(self) -> sessions.ConsoleIdentity | None:
        return sessions.console_identity(self.router.headers.cookie)
