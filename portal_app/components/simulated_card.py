"""The simulated gateway's card entry as Reflex components (the React side is assets/simulated_card.jsx),
the same shape as Stripe Elements (stripe_elements.py): the browser posts the card to the simulated
gateway's tokenizer (routes.API_SIMULATED_PAYMENT_METHODS) and our handlers receive only its pm_ id.

    simulated_card_form(*children, label=..., on_submit=State.save, on_card_error=State.refused)
        a form: on submit it tokenizes the card of the simulated_card_fields inside it, then calls
        on_submit with the form's other named fields plus {"payment_method": "pm_..."}; a refusal calls
        on_card_error with {"code", "param"} (Stripe's names: no card data).
    simulated_card_fields(number_label=..., number_error=..., ...)
        the card number, expiry and CVC inputs (no `name`: no form serialisation ever carries them).
"""

from __future__ import annotations

import reflex as rx
from reflex_base.components.component import Component, field
from reflex_base.event import EventHandler, passthrough_event_spec

from portal_app import routes

SIMULATED_CARD_MODULE = "$/public/simulated_card.jsx"


class SimulatedCardForm(Component):
    """A form that tokenizes its card before calling on_submit (see the module docstring)."""

    library: str | None = SIMULATED_CARD_MODULE
    tag: str | None = "SimulatedCardForm"

    endpoint: rx.Var[str] = field(doc="The tokenizer's URL (same origin).")
    label: rx.Var[str] = field(doc="The form's accessible name.")

    on_submit: EventHandler[passthrough_event_spec(dict)] = field(
        doc="Called with the other named fields and payment_method (the pm_ id)."
    )
    on_card_error: EventHandler[passthrough_event_spec(dict)] = field(
        doc="Called with {code, param} when the tokenizer refuses the card or cannot be reached."
    )

    @classmethod
    def create(cls, *children, **props) -> Component:
        props.setdefault("endpoint", routes.API_SIMULATED_PAYMENT_METHODS)
        return super().create(*children, **props)


class SimulatedCardFields(Component):
    """Card number, expiry and CVC with their labels and inline errors."""

    library: str | None = SIMULATED_CARD_MODULE
    tag: str | None = "SimulatedCardFields"

    number_label: rx.Var[str]
    expiry_label: rx.Var[str]
    cvc_label: rx.Var[str]
    number_error: rx.Var[str]
    expiry_error: rx.Var[str]
    cvc_error: rx.Var[str]


simulated_card_form = SimulatedCardForm.create
simulated_card_fields = SimulatedCardFields.create
