"""Portal section: invoice history grouped by year, newest first (each row downloads its PDF, each
year its ZIP), "Show more" for older ones, and "Pay now" on an open invoice.

Downloads are plain GET routes (api.py) authorized by the portal session cookie, so a PDF never
travels through the websocket and only the session's own invoices can be fetched."""

from __future__ import annotations

import reflex as rx

from portal_app.components.badges import status_badge
from portal_app.pages.portal.pay_now import PortalPayState

S = PortalPayState
TAP = "44px"
PAY_WIDTH = "112px"
_SR_ONLY = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "overflow": "hidden",
    "clip": "rect(0 0 0 0)",
    "white_space": "nowrap",
}
_NUMBERS = {"font_variant_numeric": "tabular-nums", "white_space": "nowrap"}


def _year_head(row) -> rx.Component:
    """A year's heading with its ZIP download, before the year's first row."""
    return rx.cond(
        row["year_head"] == "1",
        rx.flex(
            rx.heading(row["year"], size="3", as_="h3", style=_NUMBERS),
            rx.el.a(
                rx.icon("download", size=16, aria_hidden="true", flex_shrink="0"),
                rx.text(row["year_short"], size="2", style={"white_space": "nowrap"}),
                href=row["year_url"],
                aria_label=row["year_label"],
                download="",
                reload_document=True,
                display="inline-flex",
                align_items="center",
                gap="6px",
                padding="8px 12px",
                min_height=TAP,
                border="1px solid var(--gray-6)",
                border_radius="var(--radius-3)",
                color="var(--accent-11)",
                text_decoration="none",
                data_testid="year-zip",
            ),
            justify="between",
            align="center",
            wrap="wrap",
            gap="2",
            padding_top="12px",
            padding_bottom="4px",
            width="100%",
        ),
    )


def _pay_now(row) -> rx.Component:
    """Pay now on an open invoice; the other rows keep its width free (from 520 px up), so that
    every amount lines up under the others."""
    return rx.cond(
        row["payable"] == "1",
        rx.button(
            S.tx["pay_now"],
            size="2",
            min_height=TAP,
            aria_label=row["pay_aria"],
            loading=S.paying_id == row["id"],
            on_click=S.pay_now(row["id"]),
            width=PAY_WIDTH,
            data_testid="pay-now",
        ),
        rx.cond(
            S.any_payable,
            rx.box(width=PAY_WIDTH, flex_shrink="0", display=rx.breakpoints(initial="none", xs="block")),
        ),
    )


def _invoice_row(row) -> rx.Component:
    return rx.el.li(
        _year_head(row),
        rx.flex(
            rx.el.a(
                rx.flex(
                    rx.vstack(
                        rx.text(row["number"], size="2", weight="medium", style=_NUMBERS),
                        rx.text(row["date"], size="2", color_scheme="gray", style={"white_space": "nowrap"}),
                        spacing="0",
                        min_width="0",
                        align="start",  # a long number (a credit note's) may only run right, into the gap
                    ),
                    rx.flex(
                        rx.vstack(
                            rx.text(row["amount"], size="2", weight="medium", text_align="right", style=_NUMBERS),
                            status_badge(row["status"], row["status_label"]),
                            spacing="1",
                            align="end",
                        ),
                        rx.icon("download", size=16, aria_hidden="true", color="var(--gray-10)", flex_shrink="0"),
                        rx.el.span(" PDF", class_name="rt-sr-only", style=_SR_ONLY),
                        spacing="3",
                        align="center",
                        justify="end",
                    ),
                    justify="between",
                    align="center",
                    spacing=rx.breakpoints(initial="2", xs="3"),
                    width="100%",
                ),
                href=row["url"],
                download="",
                reload_document=True,  # a plain download, not client-side routing
                title=row["aria"],
                display="block",
                flex="1 1 260px",
                padding="10px 8px",
                min_height=TAP,
                color="inherit",
                text_decoration="none",
                border_radius="8px",
                _hover={"background": "var(--gray-3)"},
                data_testid="invoice-row",
            ),
            _pay_now(row),
            align="center",
            justify="end",
            wrap="wrap",
            gap="2",
            border_bottom="1px solid var(--gray-4)",
            padding_bottom=rx.cond(row["payable"] == "1", "8px", "0"),
        ),
        list_style="none",
        data_testid="invoice-item",
        data_status=row["status"],
    )


def _pay_result() -> rx.Component:
    """The last Pay now's outcome, beside the list (the card form shows its own)."""
    return rx.cond(
        S.pay_message != "",
        rx.callout(
            S.pay_message,
            icon=rx.cond(S.pay_ok, "circle_check", "triangle_alert"),
            color_scheme=rx.cond(S.pay_ok, "green", "red"),
            role="status",
            width="100%",
            data_testid="pay-result",
        ),
    )


def invoices_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(S.tx["invoices"], size="4", as_="h2"),
            _pay_result(),
            rx.cond(
                S.invoices.length() > 0,
                rx.el.ul(rx.foreach(S.invoices, _invoice_row), padding="0", margin="0", width="100%"),
                rx.text(S.tx["no_invoices"], color_scheme="gray"),
            ),
            rx.cond(
                S.more_invoices,
                rx.button(
                    S.tx["show_more"],
                    variant="soft",
                    color_scheme="gray",
                    size="3",
                    min_height=TAP,
                    width="100%",
                    on_click=S.show_more_invoices,
                    data_testid="show-more-invoices",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )
