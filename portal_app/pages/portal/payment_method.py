"""Portal section: the card on file, "Edit payment method" with inline errors, the bank's 3DS
challenge, and the outcome of retrying open invoices with the new card.

The card number goes from the form straight to the billing call: it is never assigned to a
state var (state is persisted and synced to the browser) and never logged.
"""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing import portal_actions
from portal_app.billing.payments import CardUpdateOutcome, CardUpdateResult, PaymentOutcome
from portal_app.billing.services import BillingError
from portal_app.pages.portal.overview import PortalState

TAP = "44px"
_ERROR_VARS = {"number": "number_error", "expiry": "expiry_error", "cvc": "cvc_error"}


class PortalCardState(PortalState):
    form_open: bool = False
    saving: bool = False
    number_error: str = ""
    expiry_error: str = ""
    cvc_error: str = ""
    form_error: str = ""
    challenge_open: bool = False
    result_message: str = ""
    result_ok: bool = False
    # The gateway's pending 3DS setup for this browser: never sent to the client.
    _pending_setup_ref: str = ""

    def _clear_errors(self) -> None:
        self.number_error = self.expiry_error = self.cvc_error = self.form_error = ""

    @rx.event
    def open_form(self):
        if self._portal_identity() is None:
            return
        self._clear_errors()
        self.result_message = ""
        self.form_open = True

    @rx.event
    def close_form(self):
        self.form_open = False
        self._clear_errors()

    def _show_result(self, result: CardUpdateResult) -> None:
        lang = self.lang
        if result.outcome is CardUpdateOutcome.UPDATED:
            paid = [c for c in result.charges if c.outcome is PaymentOutcome.SUCCEEDED]
            failed = [c for c in result.charges if not c.paid]
            if failed:
                self.result_ok = False
                self.result_message = f"{result.message} {failed[0].message}"
            elif paid:
                total = sum(c.amount.amount_minor for c in paid if c.amount)
                amount = i18n.fmt_money(paid[0].amount.__class__(total, paid[0].amount.currency), lang)
                self.result_ok = True
                self.result_message = i18n.t(lang, "card_saved_paid", amount=amount)
            else:
                self.result_ok = True
                self.result_message = i18n.t(lang, "card_saved")
            self.form_open = False
        else:
            self.result_ok = False
            self.form_error = result.message

    @rx.event
    def save_card(self, form_data: dict):
        """Validate, attach the card (3DS when asked), retry open invoices, show the outcome."""
        identity = self._portal_identity()
        if identity is None:
            yield rx.redirect("/invalid-link", replace=True)
            return
        self._clear_errors()
        self.result_message = ""
        self.saving = True
        yield
        try:
            result = portal_actions.save_card(merchant_id=identity[0], subscriber_id=identity[1], form=form_data)
        except BillingError as err:
            setattr(self, _ERROR_VARS.get(getattr(err, "field", None) or "", "form_error"), err.message)
            return
        finally:
            self.saving = False
        if result.outcome is CardUpdateOutcome.REQUIRES_ACTION:
            self._pending_setup_ref = result.setup_ref
            self.challenge_open = True
            return
        self._show_result(result)
        self._refresh(*identity)

    @rx.event
    def finish_challenge(self, approved: bool):
        """The simulated bank page's answer; the setup it confirms is the one this session started."""
        identity = self._portal_identity()
        self.challenge_open = False
        setup_ref, self._pending_setup_ref = self._pending_setup_ref, ""
        if identity is None or not setup_ref:
            return
        try:
            result = portal_actions.confirm_card(
                merchant_id=identity[0], subscriber_id=identity[1], setup_ref=setup_ref, approved=approved is True
            )
        except BillingError as err:
            self.form_error = err.message
            return
        self._show_result(result)
        self._refresh(*identity)


def _field(label_key: str, name: str, error, *, autocomplete: str, placeholder: str, inputmode: str = "numeric",
           max_length: int = 23) -> rx.Component:
    field_id = f"card-{name}"
    return rx.vstack(
        rx.el.label(PortalCardState.tx[label_key], html_for=field_id, font_weight="500", font_size="14px"),
        rx.input(
            id=field_id, name=name, auto_complete=autocomplete, placeholder=placeholder, input_mode=inputmode,
            max_length=max_length, size="3", width="100%", required=True,
            aria_invalid=rx.cond(error != "", "true", "false"), aria_describedby=f"{field_id}-error",
        ),
        rx.cond(error != "", rx.text(error, id=f"{field_id}-error", color_scheme="red", size="2", role="alert")),
        spacing="1",
        width="100%",
    )


def card_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _field("card_number", "number", PortalCardState.number_error, autocomplete="cc-number",
                   placeholder="1234 1234 1234 1234"),
            rx.flex(
                rx.box(_field("expiry", "expiry", PortalCardState.expiry_error, autocomplete="cc-exp",
                              placeholder="MM/YY", max_length=7), flex="1", min_width="120px"),
                rx.box(_field("cvc", "cvc", PortalCardState.cvc_error, autocomplete="cc-csc", placeholder="123",
                              max_length=4), flex="1", min_width="120px"),
                spacing="3",
                width="100%",
                wrap="wrap",
            ),
            rx.cond(PortalCardState.test_mode, rx.text(PortalCardState.tx["test_cards_hint"], size="2",
                                                       color_scheme="gray")),
            rx.cond(PortalCardState.form_error != "",
                    rx.callout(PortalCardState.form_error, icon="triangle_alert", color_scheme="red", role="alert",
                               width="100%", data_testid="card-error")),
            rx.flex(
                rx.button(PortalCardState.tx["save_card"], type="submit", size="3", min_height=TAP,
                          loading=PortalCardState.saving),
                rx.button(PortalCardState.tx["cancel"], type="button", variant="soft", color_scheme="gray", size="3",
                          min_height=TAP, on_click=PortalCardState.close_form),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=PortalCardState.save_card,
        reset_on_submit=False,
        width="100%",
        aria_label=PortalCardState.tx["edit_payment_method"],
    )


def challenge_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(PortalCardState.tx["threeds_title"]),
            rx.dialog.description(PortalCardState.tx["threeds_body"]),
            rx.flex(
                rx.button(PortalCardState.tx["threeds_complete"], size="3", min_height=TAP,
                          on_click=PortalCardState.finish_challenge(True)),
                rx.button(PortalCardState.tx["threeds_fail"], size="3", min_height=TAP, color_scheme="red",
                          variant="soft", on_click=PortalCardState.finish_challenge(False)),
                spacing="3",
                margin_top="16px",
                wrap="wrap",
            ),
            max_width="440px",
        ),
        open=PortalCardState.challenge_open,
    )


def payment_method_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(PortalCardState.tx["payment_method"], size="4", as_="h2"),
            rx.cond(
                PortalCardState.has_card,
                rx.flex(
                    rx.icon("credit_card", size=20, aria_hidden="true"),
                    rx.text(PortalCardState.card_label, weight="medium", data_testid="card-label"),
                    rx.text(PortalCardState.card_expiry, color=rx.cond(PortalCardState.card_expired, "var(--red-11)",
                                                                        "var(--gray-11)"),
                            data_testid="card-expiry"),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(PortalCardState.tx["no_card"], color_scheme="gray"),
            ),
            rx.cond(
                PortalCardState.result_message != "",
                rx.callout(PortalCardState.result_message, icon=rx.cond(PortalCardState.result_ok, "circle_check",
                                                                         "triangle_alert"),
                           color_scheme=rx.cond(PortalCardState.result_ok, "green", "red"), role="status",
                           width="100%", data_testid="card-result"),
            ),
            rx.cond(
                PortalCardState.form_open,
                card_form(),
                rx.button(PortalCardState.tx["edit_payment_method"], size="3", min_height=TAP, variant="outline",
                          on_click=PortalCardState.open_form),
            ),
            challenge_dialog(),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )
