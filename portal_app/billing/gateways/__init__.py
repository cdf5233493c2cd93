"""Payment gateways. `get_gateway()` builds the one the settings choose (one per process).

The settings were checked when the process started (portal_app/settings.py: keys, modes, production
rules), so building a gateway here only repeats those checks as a second line of defence.
"""

from __future__ import annotations

import functools

from portal_app.billing.gateways.base import PaymentGateway
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from portal_app.settings import Settings, get_settings


def make_gateway(settings: Settings) -> PaymentGateway:
    """The gateway for these settings: simulated (test mode, offline) or Stripe."""
    if settings.gateway == "stripe":
        # Refuses missing keys, mixed modes, live keys outside production.
        return StripeGateway.from_settings(settings)

    # Refuses to start when a live Stripe key sits beside it.
    return SimulatedGateway(stripe_secret_key=settings.stripe_secret_key)


@functools.cache
def get_gateway() -> PaymentGateway:
    return make_gateway(get_settings())
