"""The console settings page's "Your account" section: change password and sign out everywhere.

Both are plain HTML forms the browser posts to our HTTP routes (api/console.py), so passwords and
session cookies never pass through Reflex state or events."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.components.console_layout import TAP, labelled, native_form, section
from portal_app.components.layout import error_callout


def _password_input(label: str, name: str, autocomplete: str) -> rx.Component:
    field_id = f"account-{name.replace('_', '-')}"
    control = rx.input(
        id=field_id,
        name=name,
        type="password",
        required=True,
        max_length=256,
        auto_complete=autocomplete,
        size="3",
        width="100%",
    )
    return rx.box(labelled(label, field_id, control), flex="1 1 220px")


def account_section(*, user_email, password_error) -> rx.Component:
    """The signed-in user's own account: change password, sign out everywhere (both plain form posts)."""
    return section(
        rx.text("Signed in as ", rx.text.strong(user_email), size="2"),
        rx.heading("Change password", size="3", as_="h3"),
        native_form(
            rx.vstack(
                rx.flex(
                    _password_input("Current password", "current_password", "current-password"),
                    _password_input("New password (at least 12 characters)", "new_password", "new-password"),
                    _password_input("Repeat the new password", "repeat_password", "new-password"),
                    spacing="3",
                    width="100%",
                    wrap="wrap",
                ),
                error_callout(password_error),
                rx.text("Changing it signs out every other browser signed in to your account.", size="2"),
                rx.button("Change password", type="submit", size="3", min_height=TAP),
                spacing="3",
                width="100%",
            ),
            method="post",
            action=routes.API_CONSOLE_PASSWORD,
            width="100%",
        ),
        rx.heading("Sessions", size="3", as_="h3"),
        native_form(
            rx.flex(
                rx.text("Ends your console sessions on every browser and device, this one included.", size="2"),
                rx.button(
                    "Sign out everywhere", type="submit", size="3", variant="soft", color_scheme="red", min_height=TAP
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            method="post",
            action=routes.API_CONSOLE_SIGN_OUT_EVERYWHERE,
        ),
        title="Your account",
    )
