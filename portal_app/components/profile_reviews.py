"""The console profile's payments to review: why each is in review, its three resolutions, each behind
a confirm dialog (mark paid, retry, void)."""

from __future__ import annotations

import reflex as rx

from portal_app.components.console_layout import TAP, section
from portal_app.components.profile_parts import confirm_dialog


def review_row(review, on_ask) -> rx.Component:
    """One payment in review: why, and its three resolutions; on_ask(attempt id, resolution) opens a confirm."""
    return rx.el.li(
        rx.vstack(
            rx.text("Invoice ", review["number"], " · ", review["amount"], " · ", review["date"], weight="medium"),
            rx.text(review["reason"], size="2", color_scheme="gray"),
            rx.flex(
                rx.button(
                    "It was charged — mark paid", size="3", min_height=TAP, on_click=on_ask(review["id"], "paid")
                ),
                rx.button(
                    "It was not charged — retry",
                    size="3",
                    min_height=TAP,
                    variant="soft",
                    on_click=on_ask(review["id"], "retry"),
                ),
                rx.button(
                    "Void the invoice",
                    size="3",
                    min_height=TAP,
                    variant="soft",
                    color_scheme="red",
                    on_click=on_ask(review["id"], "void"),
                ),
                spacing="3",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        padding="8px 0",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="profile-review",
    )


def review_section(reviews, *, ask, resolve, attempt, confirm, on_open_change) -> rx.Component:
    """ask(attempt id, resolution) opens a resolution's dialog (confirm becomes "review_<resolution>",
    attempt its attempt id); resolve(attempt id, resolution) does it."""
    return rx.cond(
        reviews.length() > 0,
        section(
            rx.text(
                "These charges are never retried automatically. Check the payment processor, then tell us what "
                "happened.",
                size="2",
                color_scheme="gray",
            ),
            rx.el.ul(rx.foreach(reviews, lambda r: review_row(r, ask)), padding="0", margin="0", width="100%"),
            confirm_dialog(
                "Mark this invoice paid?",
                "Only if the payment processor shows the money arrived. The invoice is paid, the subscription "
                "is restored and the subscriber gets a receipt.",
                "Mark paid",
                resolve(attempt, "paid"),
                open_=confirm == "review_paid",
                on_open_change=on_open_change,
            ),
            confirm_dialog(
                "Charge this invoice again?",
                "Only if the payment processor shows no charge. The next billing run charges the card on file "
                "once more.",
                "Retry the charge",
                resolve(attempt, "retry"),
                open_=confirm == "review_retry",
                on_open_change=on_open_change,
            ),
            confirm_dialog(
                "Void this invoice?",
                "Nothing is owed for it any more and it is never charged. This can't be undone.",
                "Void invoice",
                resolve(attempt, "void"),
                open_=confirm == "review_void",
                on_open_change=on_open_change,
            ),
            title="Payments to review",
        ),
    )
