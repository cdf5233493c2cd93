"""The console frame: top bar with the merchant's name, navigation and sign-out."""

from __future__ import annotations

import reflex as rx

from portal_app import routes

NAV = [
    ("Dashboard", routes.CONSOLE_HOME),
]


def _sign_out() -> rx.Component:
    return rx.el.form(
        rx.button("Sign out", type="submit", variant="soft", color_scheme="gray", size="2"),
        method="post",
        action="/api/console/logout",
    )


def console_frame(*children, merchant_name, user_email, test_mode) -> rx.Component:
    return rx.box(
        rx.cond(
            test_mode,
            rx.box(rx.text("Test mode — simulated gateway", size="2", weight="medium"),
                   background="var(--amber-4)", color="var(--amber-12)", text_align="center", padding="6px",
                   role="status"),
        ),
        rx.el.header(
            rx.flex(
                rx.heading(merchant_name, size="4", as_="p"),
                rx.el.nav(
                    rx.flex(
                        *[rx.link(label, href=href, size="2", padding="10px 6px") for label, href in NAV],
                        spacing="2",
                        wrap="wrap",
                    ),
                    aria_label="Console",
                ),
                rx.flex(rx.text(user_email, size="1", color_scheme="gray"), _sign_out(), align="center", spacing="2",
                        wrap="wrap"),
                justify="between",
                align="center",
                wrap="wrap",
                spacing="2",
                padding="8px 16px",
            ),
            background="var(--color-panel-solid)",
            border_bottom="1px solid var(--gray-5)",
        ),
        rx.el.main(rx.vstack(*children, spacing="4", width="100%"), max_width="1200px", margin="0 auto",
                   padding=["12px", "16px", "24px"]),
        min_height="100vh",
        background="var(--gray-2)",
    )
