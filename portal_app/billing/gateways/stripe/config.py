"""The Stripe settings check: refuse to start with missing, mixed-mode or misplaced live keys.

The rules live in portal_app/config_rules.py, where the settings check them at start-up (rxconfig.py,
the billing CLI); the gateway checks them again when it is built from a settings-like object.
"""

from __future__ import annotations

from typing import Any

from portal_app.billing.gateways.stripe.errors import StripeSettingsError
from portal_app.config_rules import ConfigProblem, check_stripe_gateway, is_secret_key, key_mode

__all__ = ["check_stripe_settings", "is_secret_key", "key_mode"]


def check_stripe_settings(settings: Any) -> None:
    """Refuse to start with unsafe Stripe settings. A no-op unless settings.gateway is "stripe".

    Live keys need environment=production and an https PUBLIC_URL (Stripe.js refuses plain http in
    live mode, and card pages must not be served over it) and, if STRIPE_API_BASE is set, an https one
    (plain http is allowed for a local test mock only). Messages never echo a key.
    """
    if getattr(settings, "gateway", "") != "stripe":
        return
    try:
        check_stripe_gateway(
            gateway="stripe",
            secret=(settings.stripe_secret_key or "").strip(),
            publishable=(settings.stripe_publishable_key or "").strip(),
            webhook_secret=(settings.stripe_webhook_secret or "").strip(),
            environment=settings.environment,
            public_url=settings.public_url or "",
            api_base=getattr(settings, "stripe_api_base", "") or "",
        )
    except ConfigProblem as problem:
        raise StripeSettingsError(str(problem)) from None
