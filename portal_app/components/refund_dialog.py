"""The console profile's refund parts: an invoice row's refund label and button, and the refund dialog
(amount in the invoice's currency, reason, confirm). They take the page's state (ProfileRefundsMixin)."""

from __future__ import annotations

import reflex as rx

from portal_app.components.console_layout import TAP


def refund_parts(inv, on_refund) -> list[rx.Component]:
    """Extra parts of one invoice row: "Refunded $X" / "Partially refunded · $X", and the Refund button."""
    return [
        rx.cond(
            inv["refund_label"] != "",
            rx.badge(inv["refund_label"], color_scheme="gray", size="2", data_testid="invoice-refund-label"),
        ),
        rx.cond(
            inv["refundable"] != "",
            rx.button(
                rx.icon("undo_2", size=16, aria_hidden="true"),
                "Refund",
                size="3",
                variant="ghost",
                min_height=TAP,
                aria_label="Refund " + inv["number"],
                on_click=on_refund(inv["id"]),
                data_testid="invoice-refund",
            ),
        ),
    ]


def refund_dialog(P) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Refund invoice ", P.refund_number),
            rx.dialog.description(
                "Up to ",
                rx.el.strong(P.refund_left),
                " can be refunded to the card that paid it. A credit note is issued and emailed to the subscriber.",
                size="2",
            ),
            rx.vstack(
                rx.el.label("Amount (", P.refund_currency, ")", html_for="refund-amount", font_size="14px"),
                rx.input(
                    id="refund-amount",
                    value=P.refund_amount,
                    on_change=P.set_refund_amount,
                    input_mode="decimal",
                    size="3",
                    width="100%",
                    data_testid="refund-amount",
                ),
                rx.el.label(
                    "Reason (optional, printed on the credit note)", html_for="refund-reason", font_size="14px"
                ),
                rx.input(
                    id="refund-reason",
                    value=P.refund_reason,
                    on_change=P.set_refund_reason,
                    max_length=500,
                    size="3",
                    width="100%",
                    data_testid="refund-reason",
                ),
                rx.cond(
                    P.refund_error != "",
                    rx.callout(P.refund_error, color_scheme="red", role="alert", data_testid="refund-error"),
                ),
                spacing="2",
                width="100%",
                margin_top="12px",
            ),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", size="3", min_height=TAP)),
                rx.button(
                    "Refund",
                    color_scheme="red",
                    size="3",
                    min_height=TAP,
                    on_click=P.submit_refund,
                    data_testid="refund-confirm",
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
                wrap="wrap",
            ),
            max_width="460px",
        ),
        open=P.refund_invoice_id != "",
        on_open_change=P.close_refund,
    )
