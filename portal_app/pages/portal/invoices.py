"""Portal section: invoice history (each row downloads its PDF) and one ZIP per year.

Downloads are plain GET routes (api.py) authorized by the portal session cookie, so a PDF never
travels through the websocket and only the session's own invoices can be fetched."""

from __future__ import annotations

import reflex as rx

from portal_app.components.badges import status_badge
from portal_app.pages.portal.overview import PortalState

_SR_ONLY = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "overflow": "hidden",
    "clip": "rect(0 0 0 0)",
    "white_space": "nowrap",
}


def _invoice_row(row) -> rx.Component:
    return rx.el.li(
        rx.el.a(
            rx.flex(
                rx.vstack(
                    rx.text(row["number"], size="2", weight="medium"),
                    rx.text(row["date"], size="2", color_scheme="gray"),
                    spacing="0",
                ),
                rx.flex(
                    rx.text(row["amount"], size="2", weight="medium"),
                    status_badge(row["status"], row["status_label"]),
                    rx.icon("download", size=16, aria_hidden="true", color="var(--gray-10)"),
                    rx.el.span(" PDF", class_name="rt-sr-only", style=_SR_ONLY),
                    spacing="3",
                    align="center",
                ),
                justify="between",
                align="center",
                spacing="3",
                width="100%",
            ),
            href=row["url"],
            download="",
            reload_document=True,  # a plain download, not client-side routing
            title=row["aria"],
            display="block",
            padding="10px 8px",
            min_height="44px",
            color="inherit",
            text_decoration="none",
            border_radius="8px",
            _hover={"background": "var(--gray-3)"},
            data_testid="invoice-row",
        ),
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
    )


def invoices_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(PortalState.tx["invoices"], size="4", as_="h2"),
            rx.cond(
                PortalState.invoices.length() > 0,
                rx.el.ul(rx.foreach(PortalState.invoices, _invoice_row), padding="0", margin="0", width="100%"),
                rx.text(PortalState.tx["no_invoices"], color_scheme="gray"),
            ),
            rx.flex(
                rx.foreach(
                    PortalState.years,
                    lambda year: rx.el.a(
                        rx.flex(
                            rx.icon("download", size=16, aria_hidden="true"),
                            rx.text(year["label"]),
                            spacing="2",
                            align="center",
                        ),
                        href=year["url"],
                        download="",
                        reload_document=True,
                        padding="10px 14px",
                        min_height="44px",
                        display="inline-flex",
                        align_items="center",
                        border="1px solid var(--accent-7)",
                        border_radius="var(--radius-3)",
                        color="var(--accent-11)",
                        text_decoration="none",
                        data_testid="year-zip",
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )
