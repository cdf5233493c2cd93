"""The simulated gateway's card form pieces: a labelled card input and the bank's 3DS challenge."""

from __future__ import annotations

import reflex as rx

TAP = "44px"


def card_field(
    label,
    name: str,
    error,
    *,
    autocomplete: str,
    placeholder: str,
    inputmode: str = "numeric",
    max_length: int = 23,
) -> rx.Component:
    """One labelled input of our card form, with its inline error (announced as an alert)."""
    field_id = f"card-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=field_id, font_weight="500", font_size="14px"),
        rx.input(
            id=field_id,
            name=name,
            auto_complete=autocomplete,
            placeholder=placeholder,
            input_mode=inputmode,
            max_length=max_length,
            size="3",
            width="100%",
            required=True,
            aria_invalid=rx.cond(error != "", "true", "false"),
            aria_describedby=f"{field_id}-error",
        ),
        rx.cond(error != "", rx.text(error, id=f"{field_id}-error", color_scheme="red", size="2", role="alert")),
        spacing="1",
        width="100%",
    )


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
