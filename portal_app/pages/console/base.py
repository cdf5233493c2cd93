"""ConsoleState: who is signed in, re-checked against the database on every call, and the header
every console page shows. Page states inherit it; each handler starts with `_authorize()`."""

from __future__ import annotations

from datetime import datetime

import reflex as rx

from portal_app import i18n, routes
from portal_app.billing import sessions
from portal_app.billing.facades.console import settings as settings_facade
from portal_app.billing.money import Money
from portal_app.components.console_layout import console_frame
from portal_app.state import ConsoleAuthState

STATUS_LABELS = {
    "active": "Active",
    "trialing": "Trial",
    "paused": "Paused",
    "past_due": "Past due",
    "canceled": "Canceled",
    "unpaid": "Unpaid",
    "incomplete": "Incomplete",
    "paid": "Paid",
    "open": "Open",
    "void": "Void",
    "uncollectible": "Uncollectible",
    "draft": "Draft",
    "": "No subscription",
}
POLICY_LABELS = {
    "not_allowed": "Not allowed",
    "at_period_end": "At period end",
    "immediately": "Immediately",
}


def money(value: Money | None) -> str:
    return value.format("en") if value is not None else ""


def day(value: datetime | None) -> str:
    return i18n.fmt_short_date(value, "en") if value else ""


def every(interval: str, count: int) -> str:
    return f"every {interval}" if count == 1 else f"every {count} {interval}s"


class ConsoleState(ConsoleAuthState):
    """Header data every console page shows; page states inherit it."""

    merchant_name: str = ""
    user_email: str = ""
    test_mode: bool = False
    signed_in: bool = False

    def _authorize(self) -> sessions.ConsoleIdentity | None:
        """The live console identity, or None (then the page state says signed out)."""
        identity = self._console_identity()
        if identity is None:
            self.signed_in = False
        return identity

    def _load_console_header(self) -> sessions.ConsoleIdentity | None:
        """Authorize and fill the header; returns the identity, or None."""
        identity = self._authorize()
        if identity is None:
            return None
        header = settings_facade.console_header(merchant_id=identity.merchant_id)
        self.merchant_name, self.test_mode = header.merchant_name, header.test_mode
        self.user_email = identity.email
        self.signed_in = True
        return identity


def to_sign_in():
    return rx.redirect(routes.CONSOLE, replace=True)


def console_page(*children, current: str = "") -> rx.Component:
    """The frame around a console page (`current`: its navigation entry's route); a spinner until the
    session has been checked."""
    return rx.cond(
        ConsoleState.signed_in,
        console_frame(
            *children,
            merchant_name=ConsoleState.merchant_name,
            user_email=ConsoleState.user_email,
            test_mode=ConsoleState.test_mode,
            current=current,
        ),
        rx.center(rx.spinner(size="3"), min_height="100vh", aria_label="Loading"),
    )
