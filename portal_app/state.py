"""Thin shared states: who is calling. Every handler of a page state asks these first.

Sessions are HttpOnly cookies set by plain HTTP routes (api/). Reflex never sees them: the
websocket handshake's Cookie header is held in process memory by portal_app/connections.py, and
these states read the cookie of the live connection that sent the event. The check itself is
billing/sessions.py, the same one the HTTP routes use. portal_app/owners.py empties a protected
state loaded for someone else before anything of it is sent.
"""

from __future__ import annotations

import reflex as rx

from portal_app import connections
from portal_app.billing import sessions


def owner_key(merchant_id: int, person_id: int) -> str:
    return f"{merchant_id}:{person_id}"


class PortalSessionState(rx.State):
    """The subscriber behind this browser, re-checked against the database on every call."""

    # Whose data the portal states hold (owner_key of merchant and subscriber, "" for nobody): ids only.
    _loaded_for: str = ""

    def _portal_identity(self) -> sessions.PortalIdentity | None:
        """(merchant_id, subscriber_id) of a live portal session, or None."""
        identity = sessions.portal_identity(connections.cookie_of(self.router.headers.raw_headers))
        if identity is not None and not self._loaded_for:
            self._loaded_for = owner_key(identity.merchant_id, identity.subscriber_id)
        return identity

    def _portal_session_id(self) -> int | None:
        """The live portal session's id (step-up verification is bound to it), read from the cookie."""
        return sessions.portal_session_id(connections.cookie_of(self.router.headers.raw_headers))

    def _portal_return_url(self) -> str:
        """Where "Return to <merchant>" leads for this session ("" = nowhere): from the server-side
        session a portal grant opened, never from the query string."""
        return sessions.portal_return_url(connections.cookie_of(self.router.headers.raw_headers))


class ConsoleAuthState(rx.State):
    """The merchant user behind this browser; every console page state authorizes through it first."""

    # Whose data the console states hold (owner_key of merchant and user, "" for nobody): ids only.
    _loaded_for: str = ""

    def _console_identity(self) -> sessions.ConsoleIdentity | None:
        identity = sessions.console_identity(connections.cookie_of(self.router.headers.raw_headers))
        if identity is not None and not self._loaded_for:
            self._loaded_for = owner_key(identity.merchant_id, identity.user_id)
        return identity
