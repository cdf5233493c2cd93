"""Portal section: the card on file, "Edit payment method" with inline errors, the bank's 3DS
challenge, and the outcome of retrying open invoices with the new card.

Simulated gateway: its card component (components/simulated_card.py) posts the card from the
browser to the simulated gateway's tokenizer and sends us only the pm_ id it answers.
Stripe gateway: Stripe Elements; the browser confirms a SetupIntent with Stripe (3DS included) and
sends us only its seti_ id. Either way no card number reaches Reflex (events, state or logs), and the
handlers refuse anything but such an id. An open invoice whose off-session charge needs 3DS gets an "approve"
button that runs the bank's challenge with Stripe.js.
"""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import card_entry
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.payments.attempts import PaymentOutcome
from portal_app.billing.payments.card_updates import CardUpdateOutcome, CardUpdateResult
from portal_app.components.card_fields import bank_challenge_dialog
from portal_app.components.layout import error_callout
from portal_app.components.simulated_card import simulated_card_fields, simulated_card_form
from portal_app.components.stripe_elements import stripe_card_setup, stripe_payment_authentication
from portal_app.pages.portal import step_up, toasts
from portal_app.pages.portal.overview import PortalState

TAP = "44px"
PAYMENT_ID = "portal-payment-method"
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
    # Stripe mode. The publishable key and the client secrets are designed for the browser (they
    # only let Stripe.js confirm that one intent); they are cleared once used. Never the secret key.
    stripe_mode: bool = False
    stripe_publishable_key: str = ""
    setup_client_secret: str = ""
    payment_client_secret: str = ""
    payment_method_ref: str = ""
    payment_prompt: str = ""
    payment_button_label: str = ""
    _payment_amount: str = ""

    def _clear_errors(self) -> None:
        self.number_error = self.expiry_error = self.cvc_error = self.form_error = ""

    @rx.event
    def open_form(self):
        """Simulated: show our form. Stripe: create a SetupIntent first and show Elements for it."""
        identity = self._portal_identity()
        if identity is None:
            # A tab whose session ended (link revoked, subscriber deleted): say so, never do nothing.
            yield self._to_invalid()
            return
        if (ask := step_up.ask_first(self, "card")) is not None:  # the emailed code first, then this form
            yield ask
            return
        self._clear_errors()
        self.result_message = ""
        self.stripe_mode = portal_facade.stripe_mode()
        self.form_open = True
        if not self.stripe_mode:
            return
        self.saving = True
        yield
        try:
            self.stripe_publishable_key = portal_facade.publishable_key()
            self.setup_client_secret = portal_facade.start_card_setup(**step_up.change_ids(self, identity))
        except BillingError as err:
            self.form_error = portal_facade.error_text(err, self.lang)
        except Exception:  # noqa: BLE001 - Stripe unreachable or refusing: nothing was saved, the customer may retry
            self.form_error = i18n.t(self.lang, "processor_unavailable")
        finally:
            self.saving = False

    @rx.event
    def close_form(self):
        if self._portal_identity() is None:
            return self._to_invalid()
        self.form_open = False
        self.setup_client_secret = ""
        self._clear_errors()

    def _show_result(self, result: CardUpdateResult):
        """Show the outcome on the page; returns the toast that says it too."""
        lang = self.lang
        if result.outcome is CardUpdateOutcome.UPDATED:
            paid = [c for c in result.charges if c.outcome is PaymentOutcome.SUCCEEDED]
            failed = [c for c in result.charges if not c.paid]
            if failed:
                self.result_ok = False
                self.result_message = (
                    f"{portal_facade.card_update_text(result, lang)} {portal_facade.charge_text(failed[0], lang)}"
                )
            elif paid:
                amounts = [c.amount for c in paid if c.amount]
                amount = i18n.fmt_money(sum(amounts[1:], amounts[0]) if amounts else None, lang)
                self.result_ok = True
                self.result_message = i18n.t(lang, "card_saved_paid", amount=amount)
            else:
                self.result_ok = True
                self.result_message = i18n.t(lang, "card_saved")
            self.form_open = False
            return toasts.ok(self.result_message) if self.result_ok else toasts.fail(self.result_message)
        self.result_ok = False
        self.form_error = portal_facade.card_update_text(result, lang)
        return None

    @rx.event
    def card_refused(self, error: dict):
        """The tokenizer refused the card in the browser: show Stripe's words inline (only its code and
        param reach us, never card data)."""
        if self._portal_identity() is None:
            return self._to_invalid()
        self._clear_errors()
        field, text = card_entry.card_refusal(error, self.lang)
        setattr(self, _ERROR_VARS.get(field, "form_error"), text)

    @rx.event
    def save_card(self, form_data: dict):
        """Attach the tokenized card ({"payment_method": "pm_..."} from the card component; anything
        else is refused), with 3DS when asked, retry open invoices, show the outcome."""
        identity = self._portal_identity()
        if identity is None:
            yield self._to_invalid()
            return
        self._clear_errors()
        self.result_message = ""
        self.saving = True
        yield
        try:
            result = portal_facade.save_card(**step_up.change_ids(self, identity), form=form_data)
        except BillingError as err:
            setattr(
                self,
                _ERROR_VARS.get(getattr(err, "field", None) or "", "form_error"),
                portal_facade.error_text(err, self.lang),
            )
            yield step_up.ask_again(err, "card")
            return
        finally:
            self.saving = False
        if result.outcome is CardUpdateOutcome.REQUIRES_ACTION:
            self._pending_setup_ref = result.setup_ref
            self.challenge_open = True
            return
        toast = self._show_result(result)
        self._refresh(*identity)
        yield toast

    @rx.event
    def stripe_setup_confirmed(self, setup_intent_id: str):
        """Stripe.js confirmed the SetupIntent: save that card (re-read from Stripe, scoped to this
        subscriber's customer) and retry open invoices. The browser sends nothing but the seti_ id."""
        identity = self._portal_identity()
        if identity is None:
            yield self._to_invalid()
            return
        self._clear_errors()
        self.saving = True
        yield
        try:
            result = portal_facade.save_card(**step_up.change_ids(self, identity), form={"stripe_id": setup_intent_id})
        except BillingError as err:
            self.form_error = portal_facade.error_text(err, self.lang)
            yield step_up.ask_again(err, "card")
            return
        finally:
            self.saving = False
        if result.outcome is CardUpdateOutcome.UPDATED:
            self.setup_client_secret = ""
        toast = self._show_result(result)
        self._refresh(*identity)
        self._load_payment_to_authenticate(*identity)
        yield toast

    def _load_payment_to_authenticate(self, merchant_id: int, subscriber_id: int) -> None:
        self.payment_client_secret = self.payment_method_ref = self.payment_prompt = self._payment_amount = ""
        try:
            pending = portal_facade.payment_to_authenticate(merchant_id=merchant_id, subscriber_id=subscriber_id)
        except Exception:  # noqa: BLE001 - Stripe unreachable: the customer can still update the card
            return
        if pending is None:
            return
        self.stripe_mode = True
        self.stripe_publishable_key = portal_facade.publishable_key()
        self.payment_client_secret = pending.client_secret
        self.payment_method_ref = pending.payment_method_ref
        self._payment_amount = i18n.fmt_money(pending.amount, self.lang)
        self.payment_prompt = i18n.t(
            self.lang, "approve_payment_body", amount=self._payment_amount, number=pending.invoice_number
        )
        self.payment_button_label = i18n.t(self.lang, "approve_payment")

    @rx.event
    def check_payment_to_authenticate(self):
        """Stripe mode: offer the bank's challenge for an open invoice whose charge asked for 3DS."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if portal_facade.stripe_mode():
            self._load_payment_to_authenticate(*identity)
        return None

    @rx.event
    def stripe_payment_authenticated(self, payment_intent_id: str):
        """Stripe.js reports the payment approved; the server asks Stripe before settling the invoice."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            paid = portal_facade.finish_payment_authentication(
                merchant_id=identity[0], subscriber_id=identity[1], payment_intent_id=payment_intent_id
            )
        except BillingError as err:
            self.result_ok, self.result_message = False, portal_facade.error_text(err, self.lang)
            return
        except Exception:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
            self.result_ok, self.result_message = False, i18n.t(self.lang, "processor_unavailable")
            return
        self.result_ok = paid
        self.result_message = (
            i18n.t(self.lang, "card_saved_paid", amount=self._payment_amount)
            if paid
            else i18n.t(self.lang, "payment_not_completed")
        )
        self._refresh(*identity)
        self._load_payment_to_authenticate(*identity)

    @rx.event
    def finish_challenge(self, approved: bool):
        """The simulated bank page's answer; the setup it confirms is the one this session started."""
        identity = self._portal_identity()
        self.challenge_open = False
        setup_ref, self._pending_setup_ref = self._pending_setup_ref, ""
        if identity is None:
            return self._to_invalid()
        if not setup_ref:
            return None
        try:
            result = portal_facade.confirm_card(
                **step_up.change_ids(self, identity), setup_ref=setup_ref, approved=approved is True
            )
        except BillingError as err:
            self.form_error = portal_facade.error_text(err, self.lang)
            return None
        toast = self._show_result(result)
        self._refresh(*identity)
        return toast


step_up.on_verified("card", lambda: PortalCardState.open_form)


def _card_error() -> rx.Component:
    """The form's refusal (validation, decline, processor down), read out to screen readers."""
    return error_callout(PortalCardState.form_error, test_id="card-error")


def stripe_card_form() -> rx.Component:
    """Stripe Elements for the SetupIntent open_form created (card fields live in Stripe's iframe)."""
    return rx.vstack(
        rx.cond(
            PortalCardState.setup_client_secret != "",
            stripe_card_setup(
                publishable_key=PortalCardState.stripe_publishable_key,
                client_secret=PortalCardState.setup_client_secret,
                locale=PortalCardState.lang,
                submit_label=PortalCardState.tx["save_card"],
                messages=PortalCardState.tx,
                on_success=PortalCardState.stripe_setup_confirmed,
            ),
            rx.cond(PortalCardState.saving, rx.spinner(size="3")),
        ),
        _card_error(),
        rx.button(
            PortalCardState.tx["cancel"],
            type="button",
            variant="soft",
            color_scheme="gray",
            size="3",
            min_height=TAP,
            on_click=PortalCardState.close_form,
        ),
        spacing="3",
        width="100%",
        aria_label=PortalCardState.tx["edit_payment_method"],
        data_testid="stripe-card-section",
    )


def payment_authentication() -> rx.Component:
    """Stripe mode: approve (3DS) an open invoice's charge that the bank held back."""
    return rx.cond(
        PortalCardState.payment_client_secret != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("shield_check")),
            rx.callout.text(PortalCardState.payment_prompt),
            stripe_payment_authentication(
                publishable_key=PortalCardState.stripe_publishable_key,
                client_secret=PortalCardState.payment_client_secret,
                payment_method=PortalCardState.payment_method_ref,
                label=PortalCardState.payment_button_label,
                messages=PortalCardState.tx,
                on_success=PortalCardState.stripe_payment_authenticated,
            ),
            color_scheme="amber",
            width="100%",
            data_testid="payment-authentication",
        ),
    )


def card_form() -> rx.Component:
    """The simulated gateway's card entry: the card goes to its tokenizer, save_card gets the pm_ id."""
    return simulated_card_form(
        rx.vstack(
            simulated_card_fields(
                number_label=PortalCardState.tx["card_number"],
                expiry_label=PortalCardState.tx["expiry"],
                cvc_label=PortalCardState.tx["cvc"],
                number_error=PortalCardState.number_error,
                expiry_error=PortalCardState.expiry_error,
                cvc_error=PortalCardState.cvc_error,
            ),
            rx.cond(
                PortalCardState.test_mode, rx.text(PortalCardState.tx["test_cards_hint"], size="2", color_scheme="gray")
            ),
            _card_error(),
            rx.flex(
                rx.button(
                    PortalCardState.tx["save_card"],
                    type="submit",
                    size="3",
                    min_height=TAP,
                    loading=PortalCardState.saving,
                ),
                rx.button(
                    PortalCardState.tx["cancel"],
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    size="3",
                    min_height=TAP,
                    on_click=PortalCardState.close_form,
                ),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        label=PortalCardState.tx["edit_payment_method"],
        on_submit=PortalCardState.save_card,
        on_card_error=PortalCardState.card_refused,
    )


def challenge_dialog() -> rx.Component:
    S = PortalCardState
    return bank_challenge_dialog(
        title=S.tx["threeds_title"],
        body=S.tx["threeds_body"],
        approve_label=S.tx["threeds_complete"],
        refuse_label=S.tx["threeds_fail"],
        on_answer=S.finish_challenge,
        open_=S.challenge_open,
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
                    rx.text(
                        PortalCardState.card_expiry,
                        color=rx.cond(PortalCardState.card_expired, "var(--red-11)", "var(--gray-11)"),
                        data_testid="card-expiry",
                    ),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(PortalCardState.tx["no_card"], color_scheme="gray"),
            ),
            rx.cond(
                PortalCardState.result_message != "",
                rx.callout(
                    PortalCardState.result_message,
                    icon=rx.cond(PortalCardState.result_ok, "circle_check", "triangle_alert"),
                    color_scheme=rx.cond(PortalCardState.result_ok, "green", "red"),
                    role="status",
                    width="100%",
                    data_testid="card-result",
                ),
            ),
            payment_authentication(),
            rx.cond(
                PortalCardState.form_open,
                rx.cond(PortalCardState.stripe_mode, stripe_card_form(), card_form()),
                rx.button(
                    PortalCardState.tx["edit_payment_method"],
                    size="3",
                    min_height=TAP,
                    variant="outline",
                    on_click=PortalCardState.open_form,
                    data_testid="edit-card",
                ),
            ),
            challenge_dialog(),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
        on_mount=PortalCardState.check_payment_to_authenticate,
    )
