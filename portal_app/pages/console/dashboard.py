"""/console/dashboard: the merchant's home."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.components.console_layout import console_frame
from portal_app.db import session_scope
from portal_app.models import Merchant
from portal_app.settings import get_settings
from portal_app.state import ConsoleAuthState


class ConsoleState(ConsoleAuthState):
    """Header data every console page shows; page states inherit it."""

    merchant_name: str = ""
    user_email: str = ""
    test_mode: bool = False
    signed_in: bool = False

    def _load_console_header(self):
        """Authorize and fill the header; returns the identity, or a redirect to sign in."""
        identity = self._console_identity()
        if identity is None:
            self.signed_in = False
            return None
        with session_scope() as session:
            merchant = session.get(Merchant, identity.merchant_id)
            self.merchant_name = merchant.name if merchant else ""
        self.user_email = identity.email
        self.test_mode = get_settings().gateway == "simulated"
        self.signed_in = True
        return identity


class ConsoleDashboardState(ConsoleState):
    @rx.event
    def load(self):
        if self._load_console_header() is None:
            return rx.redirect(routes.CONSOLE, replace=True)


def dashboard_page() -> rx.Component:
    return rx.cond(
        ConsoleDashboardState.signed_in,
        console_frame(
            rx.heading("Dashboard", size="6", as_="h1"),
            merchant_name=ConsoleDashboardState.merchant_name,
            user_email=ConsoleDashboardState.user_email,
            test_mode=ConsoleDashboardState.test_mode,
        ),
        rx.center(rx.spinner(size="3"), min_height="100vh"),
    )
