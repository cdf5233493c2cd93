"""/console: merchant sign-in."""

from __future__ import annotations

import reflex as rx

from portal_app.components.layout import centered_card


def login_page() -> rx.Component:
    return centered_card(
        rx.heading("Merchant console", size="6", as_="h1"),
        rx.text("Sign in to manage plans, subscribers and payments.", color_scheme="gray"),
        rx.el.form(
            rx.vstack(
                rx.el.label("Email", html_for="login-email"),
                rx.input(id="login-email", name="email", type="email", required=True, auto_complete="username",
                         width="100%", size="3"),
                rx.el.label("Password", html_for="login-password"),
                rx.input(id="login-password", name="password", type="password", required=True,
                         auto_complete="current-password", width="100%", size="3"),
                rx.button("Sign in", type="submit", size="3", width="100%"),
                spacing="2",
                width="100%",
            ),
            method="post",
            action="/api/console/login",
            width="100%",
        ),
    )
