"""The simulated gateway's bank: its 3D Secure challenge (card entry itself is simulated_card.py)."""

from __future__ import annotations

import reflex as rx

TAP = "44px"


def bank_challenge_dialog(*, title, body, approve_label, refuse_label, on_answer, open_) -> rx.Component:
    """The simulated bank's 3D Secure page: on_answer(True) approves, on_answer(False) refuses."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(body),
            rx.flex(
                rx.button(approve_label, size="3", min_height=TAP, on_click=on_answer(True)),
                rx.button(
                    refuse_label,
                    size="3",
                    min_height=TAP,
                    color_scheme="red",
                    variant="soft",
                    on_click=on_answer(False),
                ),
                spacing="3",
                margin_top="16px",
                wrap="wrap",
            ),
            max_width="440px",
        ),
        open=open_,
    )
