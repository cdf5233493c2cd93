"""The one generic answer for every unusable portal link (malformed, unknown, revoked, deleted)."""

from __future__ import annotations

import reflex as rx

from portal_app.components.layout import centered_card


def invalid_link_page() -> rx.Component:
    return centered_card(
        rx.heading("This link is no longer valid", size="6", as_="h1"),
        rx.text(
            "The link you used has expired or was replaced by a newer one. "
            "Please use the most recent link from your emails, or contact the company that sent it.",
            color_scheme="gray",
        ),
    )
