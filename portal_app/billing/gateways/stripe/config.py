"""The Stripe settings check: refuse to start with missing, mixed-mode or misplaced live keys."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from portal_app.billing.gateways.stripe.errors import StripeSettingsError

_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]+$")
_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=_]+$")


def is_secret_key(key: str) -> bool:
    """A secret (sk_) or restricted (rk_) key, test or live."""
    return bool(_SECRET_KEY.fullmatch(key or ""))


def key_mode(key: str) -> str:
    """'test' or 'live' for a Stripe key (sk_/rk_/pk_), '' when it is not a Stripe key."""
    match = re.match(r"^(?:sk|rk|pk)_(test|live)_", key or "")
    return match.group(1) if match else ""


def check_stripe_settings(settings: Any) -> None:
    """Refuse to start with unsafe Stripe settings. A no-op unless settings.gateway is "stripe".

    Live keys need environment=production and an https PUBLIC_URL (Stripe.js refuses plain http in
    live mode, and card pages must not be served over it) and, if STRIPE_API_BASE is set, an https one
    (plain http is allowed for a local test mock only). Messages never echo a key.
    """
    if getattr(settings, "gateway", "") != "stripe":
        return
    secret = (settings.stripe_secret_key or "").strip()
    publishable = (settings.stripe_publishable_key or "").strip()
    webhook_secret = (settings.stripe_webhook_secret or "").strip()
    missing = [
        name
        for name, value in (
            ("STRIPE_SECRET_KEY", secret),
            ("STRIPE_PUBLISHABLE_KEY", publishable),
            ("STRIPE_WEBHOOK_SECRET", webhook_secret),
        )
        if not value
    ]
    if missing:
        raise StripeSettingsError(f"GATEWAY=stripe needs {', '.join(missing)}")
    if not is_secret_key(secret):
        raise StripeSettingsError("STRIPE_SECRET_KEY must be a secret (sk_) or restricted (rk_) key")
    if not _PUBLISHABLE_KEY.fullmatch(publishable):
        raise StripeSettingsError("STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_)")
    if not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        raise StripeSettingsError("STRIPE_WEBHOOK_SECRET must be an endpoint signing secret (whsec_)")
    if key_mode(secret) != key_mode(publishable):
        raise StripeSettingsError(
            f"Stripe key modes differ: the secret key is {key_mode(secret)} mode, "
            f"the publishable key {key_mode(publishable)} mode"
        )
    if key_mode(secret) == "live":
        if settings.environment != "production":
            raise StripeSettingsError("A live Stripe key is only allowed with ENVIRONMENT=production")
        url = urlsplit(settings.public_url or "")
        if url.scheme != "https" or not url.hostname:
            raise StripeSettingsError("A live Stripe key needs an https PUBLIC_URL")
        if urlsplit(settings.stripe_api_base or "").scheme == "http":
            raise StripeSettingsError("A live Stripe key is never sent to a plain-http STRIPE_API_BASE")
