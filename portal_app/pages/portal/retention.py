"""Portal: the retention offer on the way to cancelling. "Cancel subscription" first asks the facade
for the plan's offer (shown once per subscription); with one, this dialog shows it ("Before you go:
20% off your next 3 invoices"): accepting keeps the subscription with the discount, "No thanks,
cancel" goes on to the cancel confirmation. Without one, the confirmation opens at once."""

from __future__ import annotations

from decimal import Decimal

import reflex as rx
from babel.numbers import format_percent

from portal_app import i18n
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_retention
from portal_app.pages.portal import toasts
from portal_app.pages.portal.cancel import PortalCancelState, cancel_section

TAP = "44px"


def offer_texts(offer: portal_retention.OfferTerms, lang: str) -> tuple[str, str]:
    """(title, body) of an offer in the subscriber's language."""
    locale = i18n.babel_locale(lang)
    if offer.kind == "percent":
        discount = format_percent(Decimal(offer.value) / 100, locale=locale)
    else:
        discount = i18n.fmt_money(offer.price - offer.discounted, lang)
    plural = "one" if offer.cycles == 1 else "many"
    values = {
        "discount": discount,
        "count": offer.cycles,
        "amount": i18n.fmt_money(offer.discounted, lang),
        "price": i18n.fmt_money(offer.price, lang),
    }
    return i18n.t(lang, f"offer_title_{plural}", **values), i18n.t(lang, f"offer_body_{plural}", **values)


class PortalRetentionState(PortalCancelState):
    offer_open: bool = False
    offer_title: str = ""
    offer_body: str = ""
    offer_error: str = ""

    @rx.event
    def start_cancel(self):
        """ "Cancel subscription": the offer first when the plan has one for this subscription."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if not self.can_cancel:
            return None
        try:
            offer = portal_retention.offer_before_cancel(merchant_id=identity[0], subscriber_id=identity[1])
        except BillingError as err:
            return toasts.fail(portal_facade.error_text(err, self.lang))
        if offer is None:
            self.dialog_open, self.error = True, ""
            return None
        self.offer_title, self.offer_body = offer_texts(offer, self.lang)
        self.offer_open, self.offer_error = True, ""
        return None

    @rx.event
    def accept_offer(self):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            portal_retention.accept_offer(merchant_id=identity[0], subscriber_id=identity[1])
        except BillingError as err:
            self.offer_error = portal_facade.error_text(err, self.lang)
            return None
        self.offer_open = False
        self._refresh(*identity)
        return toasts.ok(self.tx["toast_offer_accepted"])

    @rx.event
    def decline_offer(self):
        """No thanks: on to the cancel confirmation."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            portal_retention.decline_offer(merchant_id=identity[0], subscriber_id=identity[1])
        except BillingError as err:
            self.offer_error = portal_facade.error_text(err, self.lang)
            return None
        self.offer_open = False
        self.dialog_open, self.error = self.can_cancel, ""
        return None

    @rx.event
    def set_offer_open(self, value: bool):
        if self._portal_identity() is None:
            return self._to_invalid()
        if value is not True:
            self.offer_open = False
        return None


def retention_dialog() -> rx.Component:
    s = PortalRetentionState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(s.offer_title, data_testid="offer-title"),
            rx.dialog.description(s.offer_body, data_testid="offer-body"),
            rx.cond(
                s.offer_error != "",
                rx.callout(s.offer_error, color_scheme="red", role="alert", width="100%", margin_top="12px"),
            ),
            rx.flex(
                rx.button(
                    s.tx["offer_accept"],
                    size="3",
                    min_height=TAP,
                    on_click=s.accept_offer,
                    data_testid="offer-accept",
                ),
                rx.button(
                    s.tx["offer_decline"],
                    size="3",
                    min_height=TAP,
                    variant="soft",
                    color_scheme="gray",
                    on_click=s.decline_offer,
                    data_testid="offer-decline",
                ),
                spacing="3",
                wrap="wrap",
                margin_top="16px",
            ),
            max_width="480px",
            data_testid="offer-dialog",
        ),
        open=s.offer_open,
        on_open_change=s.set_offer_open,
    )


def retention_cancel_section() -> rx.Component:
    """The cancel section whose "Cancel subscription" asks for the offer first, with its dialog."""
    return rx.fragment(cancel_section(start_cancel=PortalRetentionState.start_cancel), retention_dialog())
