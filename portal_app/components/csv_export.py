"""Export CSV controls: plain links and a plain GET form to the streamed download routes
(api/exports.py), so the file goes from the server to the browser's downloads, never through Reflex."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.export_filters import INVOICE_STATUSES
from portal_app.components.console_layout import TAP, labelled, native_form

_FIELD = {
    "min_height": TAP,
    "padding": "0 10px",
    "border": "1px solid var(--gray-7)",
    "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font_size": "16px",
    "width": "100%",
}


def export_link(href, label: str = "Export CSV", test_id: str = "export-csv") -> rx.Component:
    """A button-looking link to a CSV route (the browser downloads it: Content-Disposition attachment)."""
    return rx.button(
        # rx.el.a is React Router's Link: reload_document makes the click a real request (the
        # route's attachment answer starts a download) instead of a client-side route change.
        rx.el.a(
            rx.icon("download", size=16, aria_hidden="true"),
            label,
            href=href,
            reload_document=True,
            download="",
            data_testid=test_id,
        ),
        as_child=True,
        size="3",
        variant="soft",
        min_height=TAP,
    )


def subscriber_invoices_export(subscriber_id: rx.Var[int]) -> rx.Component:
    """The profile's "Export invoices CSV": every invoice of this subscriber."""
    return rx.box(
        export_link(
            routes.API_CONSOLE_EXPORT_INVOICES + "?subscriber_id=" + subscriber_id.to_string(),
            "Export invoices CSV",
            "export-subscriber-invoices",
        )
    )


def invoice_export_form(plan_id: rx.Var[int]) -> rx.Component:
    """Invoices CSV by status and finalization dates (and the plan, on a plan's page): a GET form the
    browser submits to the download route itself."""
    return native_form(
        rx.flex(
            rx.box(
                labelled(
                    "Status",
                    "export-status",
                    rx.el.select(
                        rx.el.option("All statuses", value=""),
                        *[rx.el.option(s.capitalize(), value=s) for s in INVOICE_STATUSES],
                        id="export-status",
                        name="status",
                        style=_FIELD,
                    ),
                ),
                flex="1 1 160px",
            ),
            rx.box(
                labelled(
                    "Finalized from",
                    "export-from",
                    rx.el.input(id="export-from", name="finalized_from", type="date", style=_FIELD),
                ),
                flex="1 1 160px",
            ),
            rx.box(
                labelled(
                    "to (inclusive)",
                    "export-to",
                    rx.el.input(id="export-to", name="finalized_to", type="date", style=_FIELD),
                ),
                flex="1 1 160px",
            ),
            rx.el.input(type="hidden", name="plan_id", value=rx.cond(plan_id > 0, plan_id.to_string(), "")),
            rx.button(
                rx.icon("download", size=16, aria_hidden="true"),
                "Export invoices CSV",
                type="submit",
                size="3",
                variant="soft",
                min_height=TAP,
                data_testid="export-invoices",
            ),
            spacing="3",
            align="end",
            wrap="wrap",
            width="100%",
        ),
        method="get",
        action=routes.API_CONSOLE_EXPORT_INVOICES,
        width="100%",
    )
