"""Pieces of the console's subscriber profile: facts, the confirm dialog, invoice and timeline rows."""

from __future__ import annotations

import reflex as rx

from portal_app.components.badges import status_badge
from portal_app.components.console_layout import TAP

CATEGORY_ICONS = {
    "email": "mail",
    "visit": "log_in",
    "card": "credit_card",
    "payment": "receipt",
    "subscription": "repeat",
    "link": "link",
    "other": "circle_dot",
}


def fact(label: str, value, testid: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(value, size="3", weight="bold", data_testid=testid),
        spacing="1",
        min_width="140px",
    )


def confirm_dialog(title: str, body: str, action: str, handler, *, open_, on_open_change) -> rx.Component:
    """A destructive action's "are you sure" dialog (red action button, "Keep it" to back out)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(body),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button("Keep it", variant="soft", color_scheme="gray", size="3", min_height=TAP)
                ),
                rx.alert_dialog.action(
                    rx.button(action, color_scheme="red", size="3", min_height=TAP, on_click=handler)
                ),
                spacing="3",
                justify="end",
                wrap="wrap",
                margin_top="16px",
            ),
            max_width="460px",
        ),
        open=open_,
        on_open_change=on_open_change,
    )


def invoice_row(inv, on_download, *extra: rx.Component) -> rx.Component:
    """One invoice of the profile's list; on_download(invoice id) fetches its PDF; extra parts (refunds)
    sit beside its status."""
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.text(inv["number"], weight="medium", size="2"),
                rx.text(inv["date"], size="2", color_scheme="gray"),
                spacing="0",
            ),
            rx.flex(
                rx.text(inv["amount"], size="2", weight="medium"),
                status_badge(inv["status"], inv["status_label"]),
                *extra,
                rx.cond(
                    inv["downloadable"] != "",
                    rx.button(
                        rx.icon("download", size=16, aria_hidden="true"),
                        "PDF",
                        size="3",
                        variant="ghost",
                        min_height=TAP,
                        aria_label="Download " + inv["number"] + " PDF",
                        on_click=on_download(inv["id"]),
                    ),
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="2",
            width="100%",
        ),
        padding="6px 0",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="profile-invoice",
    )


def timeline_row(entry) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.match(
                entry["icon"],
                *[(k, rx.icon(v, size=16, aria_hidden="true")) for k, v in CATEGORY_ICONS.items()],
                rx.icon("circle_dot", size=16, aria_hidden="true"),
            ),
            rx.vstack(
                rx.text(entry["title"], size="2", weight="medium"),
                rx.cond(entry["detail"] != "", rx.text(entry["detail"], size="2", color_scheme="gray")),
                rx.text(entry["at"], size="1", color_scheme="gray"),
                spacing="0",
            ),
            spacing="3",
            align="start",
        ),
        padding="8px 0",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="timeline-entry",
        data_kind=entry["icon"],
    )
