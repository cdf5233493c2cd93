"""Portal section: billing details (name, address, tax id) used on future invoices."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.pages.portal import toasts
from portal_app.pages.portal.overview import PortalState


class PortalBillingState(PortalState):
    error: str = ""
    saved: bool = False

    @rx.event
    def save_details(self, form_data: dict):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        self.saved = False
        try:
            portal_facade.save_billing_details(merchant_id=identity[0], subscriber_id=identity[1], form=form_data)
        except BillingError as err:
            self.error = portal_facade.error_text(err, self.lang)
            return
        self.error = ""
        self.saved = True
        self._refresh(*identity)
        return toasts.ok(self.tx["saved"])


def _labelled(label, field_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id, font_weight="500", font_size="14px"), control, spacing="1", width="100%"
    )


def billing_details_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(PortalBillingState.tx["billing_details"], size="4", as_="h2"),
            rx.form(
                rx.vstack(
                    _labelled(
                        PortalBillingState.tx["billing_name"],
                        "billing-name",
                        rx.input(
                            id="billing-name",
                            name="billing_name",
                            default_value=PortalBillingState.billing_name,
                            max_length=120,
                            size="3",
                            width="100%",
                            auto_complete="name",
                            key=PortalBillingState.billing_name,
                        ),
                    ),
                    _labelled(
                        PortalBillingState.tx["billing_address"],
                        "billing-address",
                        rx.text_area(
                            id="billing-address",
                            name="billing_address",
                            max_length=500,
                            width="100%",
                            default_value=PortalBillingState.billing_address,
                            rows="3",
                            key=PortalBillingState.billing_address,
                        ),
                    ),
                    _labelled(
                        PortalBillingState.tx["tax_id"],
                        "billing-tax-id",
                        rx.input(
                            id="billing-tax-id",
                            name="tax_id",
                            default_value=PortalBillingState.tax_id,
                            max_length=40,
                            size="3",
                            width="100%",
                            key=PortalBillingState.tax_id,
                        ),
                    ),
                    rx.cond(
                        PortalBillingState.error != "",
                        rx.callout(PortalBillingState.error, color_scheme="red", role="alert", width="100%"),
                    ),
                    rx.cond(
                        PortalBillingState.saved,
                        rx.callout(PortalBillingState.tx["saved"], color_scheme="green", role="status", width="100%"),
                    ),
                    rx.button(
                        PortalBillingState.tx["save"], type="submit", size="3", min_height="44px", variant="outline"
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=PortalBillingState.save_details,
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )
