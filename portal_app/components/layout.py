"""Page frames shared by the portal and the console."""

from __future__ import annotations

import reflex as rx


def test_mode_ribbon(show, text="Test mode — no real money moves") -> rx.Component:
    return rx.cond(
        show,
        rx.box(
            rx.text(text, size="2", weight="medium"),
            background="var(--amber-4)",
            color="var(--amber-12)",
            text_align="center",
            padding="6px 12px",
            width="100%",
            role="status",
        ),
    )


def brand_header(merchant_name, logo_url) -> rx.Component:
    return rx.hstack(
        rx.cond(
            logo_url != "",
            rx.image(src=logo_url, alt=merchant_name + " logo", height="40px", width="auto", max_width="160px"),
        ),
        rx.heading(merchant_name, size="5", as_="h1"),
        align="center",
        spacing="3",
        padding_y="16px",
    )


def portal_frame(*children, merchant_name, logo_url, test_mode, test_mode_text="Test mode — no real money moves"):
    """Branded portal page: test-mode ribbon, merchant header, centered content column."""
    return rx.box(
        test_mode_ribbon(test_mode, test_mode_text),
        rx.box(
            brand_header(merchant_name, logo_url),
            rx.el.main(*children, width="100%"),
            max_width="960px",
            margin="0 auto",
            padding_x=["16px", "16px", "24px"],
            padding_bottom="48px",
        ),
        min_height="100vh",
        background="var(--gray-2)",
    )


def centered_card(*children, max_width="420px") -> rx.Component:
    return rx.center(
        rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", max_width=max_width, size="3"),
        min_height="100vh",
        padding="16px",
        background="var(--gray-2)",
    )


def error_callout(message, test_id: str = "form-error") -> rx.Component:
    """A form's refusal in red, read out to screen readers; nothing while `message` is empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%", data_testid=test_id),
    )
