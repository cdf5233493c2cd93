"""/signup/<merchant_slug>/<plan_id>: SignupState. Public (no session): every handler re-reads the
plan through the facade, which also rate-limits and checks every field. The page never holds a
token: a new subscriber is sent to a single-use grant URL straight from the handler (never a var).
The bank's pending 3DS answer is kept in an underscore var (server-side only)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import reflex as rx

from portal_app import i18n, routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import card_entry
from portal_app.billing.facades import signup as signup_facade

_ERROR_VARS = {
    "name": "name_error",
    "email": "email_error",
    "language": "language_error",
    "number": "number_error",
    "expiry": "expiry_error",
    "cvc": "cvc_error",
}


class SignupState(rx.State):
    loaded: bool = False
    available: bool = False
    lang: str = "en"
    tx: dict[str, str] = i18n.signup_text("en")
    merchant_name: str = ""
    logo_url: str = ""
    brand_color: str = signup_facade.DEFAULT_BRAND_COLOR
    test_mode: bool = False
    stripe_mode: bool = False
    plan_name: str = ""
    title: str = ""
    price: str = ""
    charged_today: str = ""
    saving: bool = False
    challenge_open: bool = False
    done_message: str = ""  # "check your email" / "opening your portal"
    name_error: str = ""
    email_error: str = ""
    language_error: str = ""
    number_error: str = ""
    expiry_error: str = ""
    cvc_error: str = ""
    form_error: str = ""
    _pending: signup_facade.PendingSignup | None = None
    # Stripe mode: the details step's result. The publishable key and the SetupIntent's client secret
    # are designed for the browser (Stripe.js confirms that one intent); cleared once used.
    stripe_publishable_key: str = ""
    setup_client_secret: str = ""
    _stripe_details: signup_facade.PendingSignup | None = None

    def _params(self) -> tuple[str, str]:
        params = self.router.page.params
        return str(params.get("merchant_slug", "")), str(params.get("plan_id", ""))

    def _clear_errors(self) -> None:
        for var in (*_ERROR_VARS.values(), "form_error"):
            setattr(self, var, "")

    def _show_offer(self) -> bool:
        """Read the plan's offer (the one authorization of a public page); False when not available."""
        try:
            offer = signup_facade.signup_offer(*self._params())
        except BillingError:
            self.available, self.loaded = False, True
            self.tx = i18n.signup_text(self.lang)
            return False
        self.available = True
        self.merchant_name = offer.merchant_name
        self.logo_url = routes.merchant_logo_url(offer.merchant_slug, offer.logo_version) if offer.logo_version else ""
        self.test_mode, self.stripe_mode = offer.test_mode, offer.stripe_mode
        self.brand_color = offer.brand_color
        self.plan_name = offer.plan_name
        lang = self.lang
        self.tx = i18n.signup_text(lang)
        self.title = i18n.signup_t(lang, "title", plan=offer.plan_name)
        self.price = signup_facade.price_text(offer, lang)
        amount = i18n.fmt_money(offer.price, lang)
        self.charged_today = (
            i18n.signup_t(lang, "trial_charged", days=offer.trial_days, amount=amount)
            if offer.trial_days
            else i18n.signup_t(lang, "charged_today", amount=amount)
        )
        self.loaded = True
        return True

    @rx.event
    def load(self):
        """on_load: the offer in the merchant's language (or ?lang=en|es)."""
        self._clear_errors()
        self.done_message, self.saving, self.challenge_open, self._pending = "", False, False, None
        self.setup_client_secret, self._stripe_details = "", None
        wanted = self.router.page.params.get("lang", "")
        try:
            offer = signup_facade.signup_offer(*self._params())
            self.lang = wanted if wanted in i18n.SUPPORTED_LANGUAGES else offer.default_language
        except BillingError:
            self.lang = wanted if wanted in i18n.SUPPORTED_LANGUAGES else "en"
        self._show_offer()

    @rx.event
    def set_language(self, language: str):
        if not isinstance(language, str) or language not in i18n.SUPPORTED_LANGUAGES:
            return
        self.lang = language
        self._clear_errors()
        self._show_offer()

    @rx.event
    def card_refused(self, error: dict):
        """The tokenizer refused the card in the browser (only its code and param reach us)."""
        self._clear_errors()
        field, text = card_entry.card_refusal(error, self.lang)
        setattr(self, _ERROR_VARS.get(field, "form_error"), text)

    def _refused(self, err: BillingError) -> None:
        text = signup_facade.refusal_text(err, self.lang)
        setattr(self, _ERROR_VARS.get(getattr(err, "field", None) or "", "form_error"), text)

    def _answer(self, result: signup_facade.SignupResult):
        outcome = result.outcome
        if outcome is signup_facade.SignupOutcome.REQUIRES_ACTION:
            self._pending = result.pending
            self.challenge_open = True
            return None
        self._pending = None
        if outcome is signup_facade.SignupOutcome.CHECK_EMAIL:
            self.done_message = i18n.signup_t(self.lang, "check_email_body", email=result.email)
            return None
        self.done_message = i18n.signup_t(self.lang, "opening_portal")
        # A full page load of the grant's path (same origin): the HTTP exchange sets the cookie and 303s
        # to /portal. rx.redirect would stay inside the single-page app's router and never reach it.
        path = urlsplit(result.landing_url).path
        return rx.call_script(f"window.location.replace({json.dumps(path)})")

    @rx.event
    def submit(self, form_data: dict):
        """The form: name, email, language and the card component's pm_ id (never card data)."""
        self._clear_errors()
        if not self._show_offer() or self.done_message:
            return
        self.saving = True
        yield
        try:
            result = signup_facade.start_signup(
                merchant_slug=self._params()[0],
                plan_id=self._params()[1],
                form=form_data,
                client_ip=self.router.session.client_ip or "unknown",
                lang=self.lang,
            )
        except BillingError as err:
            self._refused(err)
            if isinstance(err, signup_facade.NotAvailable):
                self.available = False
            return
        finally:
            self.saving = False
        yield self._answer(result)

    @rx.event
    def begin_stripe_card(self, form_data: dict):
        """Stripe mode, step 1: the details {name, email, language}; then Elements for a SetupIntent."""
        self._clear_errors()
        if not self._show_offer() or self.done_message:
            return
        self.saving = True
        yield
        try:
            step = signup_facade.begin_stripe_card_step(
                merchant_slug=self._params()[0],
                plan_id=self._params()[1],
                form=form_data,
                client_ip=self.router.session.client_ip or "unknown",
                lang=self.lang,
            )
        except BillingError as err:
            self._refused(err)
            return
        finally:
            self.saving = False
        self._stripe_details = step.details
        self.stripe_publishable_key = step.publishable_key
        self.setup_client_secret = step.client_secret

    @rx.event
    def stripe_setup_confirmed(self, setup_intent_id: str):
        """Stripe mode, step 2: Elements confirmed the SetupIntent (3DS with the bank included); the
        server re-reads it for this browser's own pending customer. Only the seti_ id comes in."""
        details, self._stripe_details = self._stripe_details, None
        self._clear_errors()
        if details is None:
            return
        self.setup_client_secret = ""
        try:
            result = signup_facade.finish_stripe_signup(
                details=details, setup_intent_id=setup_intent_id, lang=self.lang
            )
        except BillingError as err:
            self._refused(err)
            self.form_error = self.form_error or self.number_error
            return
        return self._answer(result)

    @rx.event
    def stripe_card_error(self, message: str):
        """Stripe.js could not confirm the card: its message stays in the form (Elements shows it too)."""
        return

    @rx.event
    def finish_challenge(self, approved: bool):
        """The simulated bank's answer for the card this browser's signup is waiting on."""
        self.challenge_open = False
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            result = signup_facade.confirm_signup_card(pending=pending, approved=approved is True, lang=self.lang)
        except BillingError as err:
            self._refused(err)
            return
        return self._answer(result)
