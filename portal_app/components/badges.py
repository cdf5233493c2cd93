"""Small display pieces: status badges."""

from __future__ import annotations

import reflex as rx

_STATUS_COLORS = {
    "active": "green",
    "trialing": "blue",
    "paused": "gray",
    "past_due": "orange",
    "unpaid": "red",
    "canceled": "gray",
    "incomplete": "orange",
    "canceling": "amber",
    "paid": "green",
    "open": "orange",
    "void": "gray",
    "uncollectible": "red",
    "credit_note": "blue",
}


def status_badge(status, label) -> rx.Component:
    """A colored badge for a subscription or invoice status (label is the translated text)."""
    return rx.match(
        status,
        *[(key, rx.badge(label, color_scheme=color, size="2")) for key, color in _STATUS_COLORS.items()],
        rx.badge(label, size="2"),
    )
