"""The console frame: top bar with the merchant's name, navigation and sign-out, and small
building blocks the console pages share (section cards, labelled fields, stat tiles)."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML

from portal_app import routes


class NativeForm(BaseHTML):
    """A plain HTML form that the browser itself posts to a server route.

    Reflex's rx.el.form always installs an onSubmit handler that calls preventDefault (it turns the
    submit into a Reflex event), so a form meant for a Starlette route (login, sign-up, sign-out,
    which set or clear the HttpOnly session cookie) would never leave the page.
    """

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]
    enc_type: rx.Var[str]  # "multipart/form-data" for a file


native_form = NativeForm.create

TAP = "44px"

NAV = [
    ("Dashboard", routes.CONSOLE_HOME),
    ("Plans", routes.CONSOLE_PLANS),
    ("Subscribers", routes.CONSOLE_SUBSCRIBERS),
    ("Outbox", routes.CONSOLE_OUTBOX),
    ("Webhooks", routes.CONSOLE_WEBHOOKS),
    ("Settings", routes.CONSOLE_SETTINGS),
]


def _sign_out() -> rx.Component:
    return native_form(
        rx.button("Sign out", type="submit", variant="soft", color_scheme="gray", size="2", min_height=TAP),
        method="post",
        action=routes.API_CONSOLE_LOGOUT,
    )


def console_frame(*children, merchant_name, user_email, test_mode) -> rx.Component:
    return rx.box(
        rx.cond(
            test_mode,
            rx.box(
                rx.text("Test mode — simulated gateway", size="2", weight="medium"),
                background="var(--amber-4)",
                color="var(--amber-12)",
                text_align="center",
                padding="6px",
                role="status",
            ),
        ),
        rx.el.header(
            rx.flex(
                rx.heading(merchant_name, size="4", as_="p"),
                rx.el.nav(
                    rx.flex(
                        *[
                            rx.link(
                                label,
                                href=href,
                                size="2",
                                padding="12px 8px",
                                display="inline-block",
                                min_height=TAP,
                                weight="medium",
                                high_contrast=True,
                                _hover={"color": "var(--accent-12)"},
                            )
                            for label, href in NAV
                        ],
                        spacing="1",
                        wrap="wrap",
                    ),
                    aria_label="Console",
                ),
                rx.flex(
                    rx.text(user_email, size="1", color_scheme="gray"),
                    _sign_out(),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                justify="between",
                align="center",
                wrap="wrap",
                spacing="2",
                padding="8px 16px",
            ),
            background="var(--color-panel-solid)",
            border_bottom="1px solid var(--gray-5)",
        ),
        rx.el.main(
            rx.vstack(*children, spacing="4", width="100%"),
            max_width="1200px",
            margin="0 auto",
            padding=["12px", "16px", "24px"],
        ),
        min_height="100vh",
        background="var(--gray-2)",
    )


def section(*children, title=None, **props) -> rx.Component:
    """A Radix card holding one section of a console page."""
    heading = [rx.heading(title, size="4", as_="h2")] if title is not None else []
    return rx.card(rx.vstack(*heading, *children, spacing="3", width="100%"), size="3", width="100%", **props)


def labelled(label: str, field_id: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id, font_weight="500", font_size="14px"),
        control,
        *([rx.text(hint, size="1", color_scheme="gray")] if hint else []),
        spacing="1",
        width="100%",
    )


def stat(label: str, value, testid: str, note=None) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.text(value, size="6", weight="bold", data_testid=testid),
            *([rx.text(note, size="1", color_scheme="gray")] if note is not None else []),
            spacing="1",
        ),
        size="2",
        flex="1 1 160px",
        min_width="150px",
    )
