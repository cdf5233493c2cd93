"""/portal: the page assembled from its sections."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.components.badges import status_badge
from portal_app.components.layout import brand_style, portal_frame
from portal_app.pages.portal.billing_details import billing_details_section
from portal_app.pages.portal.invoices import invoices_section
from portal_app.pages.portal.overview import PortalState
from portal_app.pages.portal.pause import lifecycle_lines, pause_section
from portal_app.pages.portal.payment_method import PAYMENT_ID, PortalCardState, payment_method_section
from portal_app.pages.portal.plan_change import PortalPlanChangeState, plan_change_section
from portal_app.pages.portal.retention import PortalRetentionState, retention_cancel_section
from portal_app.pages.portal.step_up import step_up_dialog

INVOICES_ID = "portal-invoices"


class PortalFlowState(PortalState):
    """Opens the step a portal grant asked for (PortalState.flow, whitelisted on load), once."""

    @rx.event
    def open_flow(self):
        if self._portal_identity() is None:
            return self._to_invalid()
        flow, self.flow = self.flow, ""
        if flow == "payment_method_update":
            return [PortalCardState.open_form, rx.scroll_to(PAYMENT_ID)]
        if flow == "subscription_cancel":
            return PortalRetentionState.start_cancel
        if flow == "invoices":
            return rx.scroll_to(INVOICES_ID)
        if flow == "subscription_update":
            return PortalPlanChangeState.set_pc_open(True)
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


TAP = "44px"
S = PortalState


def _fact(label, value, testid: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(value, size="4", weight="bold", data_testid=testid, style={"font_variant_numeric": "tabular-nums"}),
        spacing="1",
        min_width="140px",
    )


def fix_alert() -> rx.Component:
    """Past due, unpaid or incomplete: what is owed and why, and the one thing to do about it."""
    return rx.cond(
        S.fix_status != "",
        rx.box(
            rx.flex(
                rx.icon("circle_alert", size=22, color="var(--red-11)", aria_hidden="true", flex_shrink="0"),
                rx.vstack(
                    rx.text(S.fix_title, size="4", weight="bold", as_="p", data_testid="fix-title"),
                    rx.text(S.fix_body, size="3", as_="p", data_testid="fix-body"),
                    rx.button(
                        S.fix_action,
                        size="3",
                        min_height=TAP,
                        on_click=[PortalCardState.open_form, rx.scroll_to(PAYMENT_ID)],
                        style={**brand_style(S.brand_color), "height": "auto", "white_space": "normal"},
                        padding_y="10px",
                        data_testid="fix-action",
                    ),
                    spacing="2",
                    align="start",
                ),
                gap="3",
                align="start",
            ),
            role="alert",
            padding="16px",
            border="1px solid var(--red-6)",
            border_left="4px solid var(--red-9)",
            border_radius="var(--radius-4)",
            background="var(--red-2)",
            width="100%",
            data_testid="fix-alert",
            data_status=S.fix_status,
        ),
    )


def overview_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(S.greeting, size="3", data_testid="subscriber-name"),
            rx.flex(
                rx.heading(S.plan_name, size="6", as_="h2", data_testid="plan-name"),
                rx.box(
                    status_badge(S.status, S.status_label),
                    data_testid="subscription-status",
                    data_status=S.status,
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                S.next_date != "",
                rx.flex(
                    _fact(S.tx["next_review_date"], S.next_date, "next-date"),
                    _fact(S.tx["next_amount"], S.next_amount, "next-amount"),
                    spacing="5",
                    wrap="wrap",
                ),
            ),
            rx.cond(S.next_line != "", rx.text(S.next_line, data_testid="next-line")),
            lifecycle_lines(),
            plan_change_section(),
            rx.flex(pause_section(), retention_cancel_section(), spacing="3", wrap="wrap", align="center"),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def contact_line() -> rx.Component:
    """ "Questions? Contact <merchant>": the merchant's support email, when the merchant set one."""
    return rx.cond(
        S.support_email != "",
        rx.text(
            S.contact_before,
            rx.link(
                S.merchant_name,
                href="mailto:" + S.support_email,
                rel="noreferrer",
                display="inline-flex",
                align_items="center",
                min_height=TAP,
                data_testid="contact-link",
            ),
            S.contact_after,
            size="2",
            color_scheme="gray",
            as_="p",
            data_testid="contact-line",
        ),
    )


def language_switch() -> rx.Component:
    return rx.flex(
        rx.el.label(S.tx["language"], html_for="portal-language", font_size="14px"),
        rx.select.root(
            rx.select.trigger(id="portal-language", aria_label=S.tx["language"], min_height=TAP),
            rx.select.content(*[rx.select.item(label, value=code) for code, label in i18n.LANGUAGES.items()]),
            value=S.lang,
            on_change=S.set_language,
        ),
        spacing="2",
        align="center",
        justify="end",
    )


def _two_panes(summary: list[rx.Component], details: list[rx.Component]) -> rx.Component:
    """Summary and actions in one column, details beside it on desktop; one column on phones."""
    return rx.grid(
        rx.vstack(*summary, spacing="4", width="100%", min_width="0"),
        rx.vstack(*details, spacing="4", width="100%", min_width="0"),
        columns=rx.breakpoints(initial="1", md="minmax(0, 2fr) minmax(0, 3fr)"),
        column_gap="24px",
        row_gap="16px",
        width="100%",
        align_items="start",
    )


def _loaded_page() -> rx.Component:
    return portal_frame(
        rx.vstack(
            return_link(),
            fix_alert(),
            _two_panes(
                [rx.cond(S.has_subscription, overview_card()), contact_line()],
                [
                    rx.box(payment_method_section(), id=PAYMENT_ID, width="100%"),
                    rx.box(invoices_section(), id=INVOICES_ID, width="100%"),
                    billing_details_section(),
                ],
            ),
            step_up_dialog(),
            spacing="4",
            width="100%",
            on_mount=PortalFlowState.open_flow,
        ),
        merchant_name=S.merchant_name,
        logo_url=S.logo_url,
        test_mode=S.test_mode,
        test_mode_text=S.tx["test_mode"],
        brand_color=S.brand_color,
        header_end=language_switch(),
    )


def _block(height: str) -> rx.Component:
    return rx.skeleton(rx.box(height=height, width="100%"), loading=True, width="100%")


def _skeleton_page() -> rx.Component:
    """While the page loads: grey blocks where the sections will be, in the final layout."""
    return rx.box(
        rx.box(
            rx.flex(_block("40px"), padding_y="16px", max_width="200px"),
            rx.el.main(
                rx.text(S.tx["loading"], class_name="rt-sr-only", role="status"),
                _two_panes([_block("260px"), _block("24px")], [_block("140px"), _block("320px"), _block("220px")]),
                aria_busy="true",
                width="100%",
            ),
            max_width="1080px",
            margin="0 auto",
            padding_x=["16px", "16px", "24px"],
            padding_bottom="48px",
        ),
        min_height="100vh",
        background="var(--color-background)",
        data_testid="portal-skeleton",
    )


def portal_page() -> rx.Component:
    return rx.cond(S.loaded, _loaded_page(), _skeleton_page())
