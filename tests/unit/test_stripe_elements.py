"""The Stripe Elements components build, import the pinned Stripe libraries and our local module, and
hand our handlers nothing but Stripe ids.

What this cannot check: Stripe.js itself. It loads from js.stripe.com, which tests (and this build
machine) cannot reach, so card entry, confirmSetup and the 3DS modal are not exercised in a browser
here; they need a manual run against a Stripe test account (see README "Switching to Stripe").
"""

from __future__ import annotations

import re
from pathlib import Path

import reflex as rx

from portal_app import i18n
from portal_app.components.stripe_elements import (
    STRIPE_CARD_MODULE,
    StripeCardSetup,
    StripePaymentAuthentication,
    stripe_card_setup,
    stripe_payment_authentication,
)
from portal_app.i18n.card_form_text import CARD_FORM_TEXT
from portal_app.pages.portal.payment_method import PortalCardState, payment_method_section
from tests.language_leaks import english_leaks, informal_spanish

ROOT = Path(__file__).resolve().parents[2]
ASSET = ROOT / "assets" / "stripe_card.jsx"


class _ElementsTestState(rx.State):
    client_secret: str = "seti_1Qx_secret_abc"

    @rx.event
    def saved(self, setup_intent_id: str):
        pass


def test_the_card_setup_component_renders_with_its_props_and_handler():
    component = stripe_card_setup(
        publishable_key="pk_test_51Tst",
        client_secret=_ElementsTestState.client_secret,
        submit_label="Save card",
        on_success=_ElementsTestState.saved,
    )
    js = str(component)

    assert js.startswith("jsx(StripeCardSetup,")
    assert 'publishableKey:"pk_test_51Tst"' in js and "clientSecret:" in js and 'submitLabel:"Save card"' in js
    # onSuccess forwards exactly one value, the id, to the handler's only argument.
    assert re.search(
        r'onSuccess:\(\(_ev_0\) => \(addEvents\(\[\(ReflexEvent\("[^"]+\.saved", '
        r'\(\{ \["setup_intent_id"\] : _ev_0 \}\)',
        js,
    ), js


def test_the_components_import_the_local_module_and_the_pinned_stripe_packages():
    for component in (
        stripe_card_setup(publishable_key="pk_test_x", client_secret="c"),
        stripe_payment_authentication(publishable_key="pk_test_x", client_secret="c"),
    ):
        imports = component._get_all_imports()
        assert STRIPE_CARD_MODULE == "$/public/stripe_card.jsx" and STRIPE_CARD_MODULE in imports
        assert "@stripe/react-stripe-js@7.0.1" in imports and "@stripe/stripe-js@10.2.1" in imports
        # Client-side only (Stripe.js needs window): a lazy import, never a static one.
        (dynamic,) = component._get_all_dynamic_imports()
        assert f"import('{STRIPE_CARD_MODULE}')" in dynamic and f"mod.{component.tag}" in dynamic


def test_the_event_triggers_are_declared():
    for cls in (StripeCardSetup, StripePaymentAuthentication):
        triggers = cls.get_event_triggers()
        assert {"on_success", "on_error"} <= set(triggers)


def test_the_js_module_confirms_with_stripe_and_reports_only_ids():
    source = ASSET.read_text()
    assert "export function StripeCardSetup(" in source and "export function StripePaymentAuthentication(" in source
    assert 'from "@stripe/react-stripe-js"' in source and 'from "@stripe/stripe-js"' in source
    assert "<PaymentElement" in source and "<Elements" in source
    assert "stripe.confirmSetup({" in source and 'redirect: "if_required"' in source
    assert "onSuccess(setupIntent.id)" in source and "onSuccess(result.paymentIntent.id)" in source
    assert "handleNextAction" in source and "confirmCardPayment" in source
    assert not re.search(r"\b(sk|rk)_(test|live)_", source)


def test_the_portal_section_holds_both_card_forms_and_no_secret_key():
    js = str(payment_method_section())
    assert "StripeCardSetup" in js and "StripePaymentAuthentication" in js
    assert "SimulatedCardForm" in js and "SimulatedCardFields" in js  # the simulated gateway's card component stays
    assert 'name:"number"' not in js and 'name:"cvc"' not in js  # no card input Reflex would serialise
    assert STRIPE_CARD_MODULE in payment_method_section()._get_all_imports()
    client_vars = set(PortalCardState.get_fields()) - {n for n in PortalCardState.get_fields() if n.startswith("_")}
    assert not {name for name in client_vars if "secret_key" in name or name == "stripe_secret"}
    assert "_pending_setup_ref" not in PortalCardState.vars  # backend-only stays backend-only


def test_the_stripe_card_forms_fallbacks_come_from_the_catalogue_in_the_pages_language():
    """Every message assets/stripe_card.jsx words itself is a card-form text with the same English,
    and both pages hand the component those texts (in Spanish for a Spanish page)."""
    jsx = (ROOT / "assets" / "stripe_card.jsx").read_text()
    used = dict(re.findall(r'say\(messages, "([a-z_]+)", "([^"]+)"\)', jsx))
    assert used == CARD_FORM_TEXT
    assert not re.findall(r'fail\("', jsx)  # no message bypasses say()
    for texts in (i18n.all_text("es"), i18n.signup_text("es")):
        spanish = {key: texts[key] for key in CARD_FORM_TEXT}
        assert all(spanish[key] != english for key, english in CARD_FORM_TEXT.items())
        assert (
            english_leaks(" | ".join(spanish.values())) == [] and informal_spanish(" | ".join(spanish.values())) == []
        )
