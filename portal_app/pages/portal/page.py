"""/portal: the page assembled from its sections."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.components.badges import status_badge
from portal_app.components.layout import portal_frame
from portal_app.pages.portal.billing_details import billing_details_section
from portal_app.pages.portal.cancel import PortalCancelState, cancel_section
from portal_app.pages.portal.invoices import invoices_section
from portal_app.pages.portal.overview import PortalState
from portal_app.pages.portal.payment_method import PortalCardState, payment_method_section

INVOICES_ID = "portal-invoices"


class PortalFlowState(PortalState):
    """Opens the step a portal grant asked for (PortalState.flow, whitelisted on load), once."""

    @rx.event
    def open_flow(self):
        if self._portal_identity() is None:
            return None
        flow, self.flow = self.flow, ""
        if flow == "payment_method_update":
            return PortalCardState.open_form
        if flow == "subscription_cancel":
            return PortalCancelState.set_dialog_open(True)
        if flow == "invoices":
            return rx.scroll_to(INVOICES_ID)
        return None


def return_link() -> rx.Component:
    """ "Return to <merchant>": the return URL of the grant that opened this session (server side)."""
    return rx.cond(
        PortalState.return_url != "",
        rx.link(
            rx.icon("arrow_left", size=16, aria_hidden="true"),
            PortalState.return_label,
            href=PortalState.return_url,
            rel="noreferrer",
            display="inline-flex",
            align_items="center",
            gap="6px",
            min_height="44px",
            data_testid="return-link",
        ),
    )


def _fact(label, value, testid: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(value, size="4", weight="bold", data_testid=testid),
        spacing="1",
        min_width="140px",
    )


def overview_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(PortalState.greeting, size="3", data_testid="subscriber-name"),
            rx.flex(
                rx.heading(PortalState.plan_name, size="6", as_="h2", data_testid="plan-name"),
                rx.box(
                    status_badge(PortalState.status, PortalState.status_label),
                    data_testid="subscription-status",
                    data_status=PortalState.status,
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                PortalState.next_date != "",
                rx.flex(
                    _fact(PortalState.tx["next_review_date"], PortalState.next_date, "next-date"),
                    _fact(PortalState.tx["next_amount"], PortalState.next_amount, "next-amount"),
                    spacing="5",
                    wrap="wrap",
                ),
            ),
            rx.cond(PortalState.next_line != "", rx.text(PortalState.next_line, data_testid="next-line")),
            rx.flex(cancel_section(), spacing="3", wrap="wrap", align="center"),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def language_switch() -> rx.Component:
    return rx.flex(
        rx.el.label(PortalState.tx["language"], html_for="portal-language", font_size="14px"),
        rx.select.root(
            rx.select.trigger(id="portal-language", aria_label=PortalState.tx["language"], min_height="44px"),
            rx.select.content(*[rx.select.item(label, value=code) for code, label in i18n.LANGUAGES.items()]),
            value=PortalState.lang,
            on_change=PortalState.set_language,
        ),
        spacing="2",
        align="center",
        justify="end",
    )


def portal_page() -> rx.Component:
    return rx.cond(
        PortalState.loaded,
        portal_frame(
            rx.vstack(
                rx.flex(return_link(), language_switch(), justify="between", align="center", wrap="wrap", width="100%"),
                rx.cond(PortalState.has_subscription, overview_card()),
                payment_method_section(),
                rx.box(invoices_section(), id=INVOICES_ID, width="100%"),
                billing_details_section(),
                spacing="4",
                width="100%",
                on_mount=PortalFlowState.open_flow,
            ),
            merchant_name=PortalState.merchant_name,
            logo_url=PortalState.logo_url,
            test_mode=PortalState.test_mode,
            test_mode_text=PortalState.tx["test_mode"],
        ),
        rx.center(rx.spinner(size="3"), min_height="100vh", aria_label="Loading"),
    )
