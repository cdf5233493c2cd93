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


def brand_style(color) -> dict:
    """The merchant's colour as the accent of everything inside (solid buttons, links, focus rings):
    Radix reads --accent-*; components with their own color_scheme (gray, red, badges) keep theirs.
    brand.validated_brand_color guarantees white text on it at 4.5:1 or more."""
    return {
        "--brand": color,
        "--accent-9": color,
        "--accent-10": color,
        "--accent-11": color,
        "--accent-a11": color,
        "--accent-12": color,
        "--accent-contrast": "white",
        "--focus-8": color,
    }


def brand_header(merchant_name, logo_url) -> rx.Component:
    """The merchant as the page's h1: its logo (alt = the name, so the h1 still reads the name) or,
    without a logo, the name in text. A logo usually carries the name already; saying it twice is noise."""
    return rx.heading(
        rx.cond(
            logo_url != "",
            rx.image(src=logo_url, alt=merchant_name, height="40px", width="auto", max_width="200px"),
            merchant_name,
        ),
        size="5",
        as_="h1",
        display="flex",
        align_items="center",
        min_height="40px",
        data_testid="merchant-heading",
    )


def portal_frame(
    *children,
    merchant_name,
    logo_url,
    test_mode,
    test_mode_text="Test mode — no real money moves",
    brand_color=None,
    header_end=None,
    footer=None,
    busy=False,
):
    """Branded portal page: test-mode ribbon, merchant header (with header_end beside it), the main
    content column, an optional footer; the brand colour is the accent of everything inside."""
    return rx.box(
        test_mode_ribbon(test_mode, test_mode_text),
        rx.box(
            rx.el.header(
                rx.flex(
                    brand_header(merchant_name, logo_url),
                    header_end if header_end is not None else rx.fragment(),
                    justify="between",
                    align="center",
                    wrap="wrap",
                    gap="3",
                    padding_y="16px",
                ),
            ),
            rx.el.main(*children, width="100%", aria_busy=busy),
            footer if footer is not None else rx.fragment(),
            max_width="1080px",
            margin="0 auto",
            padding_x=["16px", "16px", "24px"],
            padding_bottom="48px",
        ),
        min_height="100vh",
        background="var(--color-background)",
        style=brand_style(brand_color) if brand_color is not None else {},
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


def dismiss_button(label) -> rx.Component:
    """A dialog's quiet way out ("Keep my subscription", "Cancel"): closes the dialog, changes nothing."""
    return rx.dialog.close(
        rx.button(label, type="button", variant="soft", color_scheme="gray", size="3", min_height="44px")
    )
