"""The console frame: the left-hand navigation (components/console_nav.py) beside the page, and small
building blocks the console pages share (section cards, labelled fields, stat tiles)."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML

from portal_app import routes
from portal_app.components.console_nav import phone_bar, sidebar


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


def _sign_out() -> rx.Component:
    return native_form(
        rx.button(
            rx.icon("log_out", size=16, aria_hidden="true"),
            "Sign out",
            type="submit",
            variant="soft",
            color_scheme="gray",
            size="2",
            min_height=TAP,
            width="100%",
        ),
        method="post",
        action=routes.API_CONSOLE_LOGOUT,
        width="100%",
    )


def console_frame(*children, merchant_name, user_email, test_mode, current: str = "") -> rx.Component:
    """The left-hand navigation (a menu button on phones) beside the page's main content; `current` is
    the navigation entry of this page (marked aria-current)."""
    who = {"current": current, "merchant_name": merchant_name, "user_email": user_email, "test_mode": test_mode}
    return rx.flex(
        sidebar(**who, sign_out=_sign_out()),
        rx.box(
            phone_bar(**who, sign_out=_sign_out()),
            rx.el.main(
                rx.vstack(*children, spacing="4", width="100%"),
                max_width="1200px",
                margin="0 auto",
                padding=["12px", "16px", "24px"],
            ),
            flex="1",
            min_width="0",
        ),
        min_height="100vh",
        background="var(--gray-2)",
        align="start",
    )


_BADGE_COLORS = {
    "active": "green",
    "trialing": "blue",
    "paused": "gray",
    "canceling": "amber",
    "past_due": "orange",
    "unpaid": "red",
    "incomplete": "orange",
    "canceled": "gray",
    "deleted": "gray",
}


def console_status_badge(key, label) -> rx.Component:
    """A subscription's status as the console shows it everywhere: `key` from
    subscription_views.status_key picks the colour, `label` (status_label) says it in words."""
    return rx.match(
        key,
        *[
            (k, rx.badge(label, color_scheme=color, size="2", high_contrast=True, white_space="normal"))
            for k, color in _BADGE_COLORS.items()
        ],
        rx.badge(label, size="2", color_scheme="gray", white_space="normal"),
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


def once_loaded(key, form: rx.Component, height: str = "120px") -> rx.Component:
    """`form` once the page's data has filled it in (`key`, bumped by the load handler, is > 0); a
    skeleton before, so nothing a merchant types is wiped when the form is filled in and re-keyed."""
    return rx.cond(key > 0, form, rx.skeleton(rx.box(height=height, width="100%"), loading=True, width="100%"))
