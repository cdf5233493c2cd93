"""Stripe Elements as Reflex components (the React side is assets/stripe_card.jsx).

Card entry happens in Stripe's iframe; the browser confirms the SetupIntent (3DS in Stripe's own
modal) and hands our event handler only the seti_ id, so no card number reaches our server.
Client-rendered only (NoSSRComponent): Stripe.js needs `window`.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.components.component import NoSSRComponent, field
from reflex_base.event import EventHandler, passthrough_event_spec

# The JS module lives in assets/, which Reflex copies to .web/public; "$/" is the .web root for imports.
STRIPE_CARD_MODULE = "$/public/stripe_card.jsx"
STRIPE_JS_PACKAGES = ["@stripe/react-stripe-js@7.0.1", "@stripe/stripe-js@10.2.1"]


class StripeCardSetup(NoSSRComponent):
    """An Elements provider for one SetupIntent with a PaymentElement and a submit button."""

    library: str | None = STRIPE_CARD_MODULE
    tag: str | None = "StripeCardSetup"
    lib_dependencies: list[str] = STRIPE_JS_PACKAGES

    publishable_key: rx.Var[str] = field(doc="The publishable key (pk_...): meant for browsers.")
    client_secret: rx.Var[str] = field(doc="The SetupIntent's client secret; a new one remounts Elements.")
    locale: rx.Var[str] = field(doc="Elements locale ('auto' by default).")
    submit_label: rx.Var[str] = field(doc="The submit button's text.")
    messages: rx.Var[dict[str, str]] = field(doc="The page's text dict: the stripe_* fallback messages.")

    on_success: EventHandler[passthrough_event_spec(str)] = field(
        doc="Called with the confirmed SetupIntent id (seti_...) only."
    )
    on_error: EventHandler[passthrough_event_spec(str)] = field(
        doc="Called with Stripe's message when confirming fails (also shown under the form)."
    )


class StripePaymentAuthentication(NoSSRComponent):
    """A button that lets the customer approve (3DS) an off-session payment the bank held back."""

    library: str | None = STRIPE_CARD_MODULE
    tag: str | None = "StripePaymentAuthentication"
    lib_dependencies: list[str] = STRIPE_JS_PACKAGES

    publishable_key: rx.Var[str] = field(doc="The publishable key (pk_...).")
    client_secret: rx.Var[str] = field(doc="The PaymentIntent's client secret.")
    payment_method: rx.Var[str] = field(doc="The card (pm_...) to confirm with when the intent needs a card again.")
    label: rx.Var[str] = field(doc="The button's text.")
    messages: rx.Var[dict[str, str]] = field(doc="The page's text dict: the stripe_* fallback messages.")

    on_success: EventHandler[passthrough_event_spec(str)] = field(
        doc="Called with the PaymentIntent id (pi_...) once Stripe reports it succeeded."
    )
    on_error: EventHandler[passthrough_event_spec(str)] = field(doc="Called with Stripe's message on failure.")


stripe_card_setup = StripeCardSetup.create
stripe_payment_authentication = StripePaymentAuthentication.create
