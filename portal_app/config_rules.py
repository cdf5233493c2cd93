"""The rules a deployment's settings must follow, as plain functions (no settings object, no imports
from the app), so settings.py checks them at start-up and the Stripe gateway re-checks them.

Each rule raises ConfigProblem with one line that names the variable to set and never echoes a value.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]+$")
_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=_]+$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class ConfigProblem(ValueError):
    """A setting is missing, malformed or unsafe; the message says what to set."""


def is_secret_key(key: str) -> bool:
    """A secret (sk_) or restricted (rk_) key, test or live."""
    return bool(_SECRET_KEY.fullmatch(key or ""))


def key_mode(key: str) -> str:
    """'test' or 'live' for a Stripe key (sk_/rk_/pk_), '' when it is not a Stripe key."""
    match = re.match(r"^(?:sk|rk|pk)_(test|live)_", key or "")
    return match.group(1) if match else ""


def is_local_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


def check_public_url(url: str, *, environment: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigProblem("PUBLIC_URL must be the site's address, e.g. https://billing.example.com")
    if environment == "production" and parts.scheme != "https" and not is_local_url(url):
        raise ConfigProblem("PUBLIC_URL must start with https:// when ENVIRONMENT=production")


def check_stripe_key_formats(secret: str, publishable: str, webhook_secret: str) -> None:
    """Whatever the gateway: a key that is set has the shape of its kind, and the two keys share a mode."""
    if secret and not is_secret_key(secret):
        raise ConfigProblem("STRIPE_SECRET_KEY must be a secret (sk_test_/sk_live_) or restricted (rk_) key")
    if publishable and not _PUBLISHABLE_KEY.fullmatch(publishable):
        raise ConfigProblem("STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_test_/pk_live_)")
    if webhook_secret and not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        raise ConfigProblem("STRIPE_WEBHOOK_SECRET must be an endpoint signing secret (whsec_)")
    if secret and publishable and key_mode(secret) != key_mode(publishable):
        raise ConfigProblem(
            f"Stripe key modes differ: STRIPE_SECRET_KEY is a {key_mode(secret)} key, "
            f"STRIPE_PUBLISHABLE_KEY a {key_mode(publishable)} key; set both from the same mode"
        )


def check_stripe_gateway(
    *,
    gateway: str,
    secret: str,
    publishable: str,
    webhook_secret: str,
    environment: str,
    public_url: str,
    api_base: str = "",
) -> None:
    """Refuse missing, malformed, mixed-mode or misplaced Stripe keys.

    Live keys need ENVIRONMENT=production and an https PUBLIC_URL (Stripe.js refuses plain http in live
    mode, and card pages must not be served over it) and, if STRIPE_API_BASE is set, an https one (plain
    http is for a local test mock only). A live key beside the simulated gateway means
    someone believes real money is moving: refused too.
    """
    check_stripe_key_formats(secret, publishable, webhook_secret)
    if gateway != "stripe":
        if "live" in (key_mode(secret), key_mode(publishable)):
            raise ConfigProblem(
                "A live Stripe key is configured beside the simulated gateway; "
                "set GATEWAY=stripe or remove the live key (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY)"
            )
        return
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
        raise ConfigProblem(f"GATEWAY=stripe needs {', '.join(missing)}")
    if key_mode(secret) == "live":
        if environment != "production":
            raise ConfigProblem("A live Stripe key is only allowed with ENVIRONMENT=production")
        url = urlsplit(public_url or "")
        if url.scheme != "https" or not url.hostname:
            raise ConfigProblem("A live Stripe key needs an https PUBLIC_URL (https://...)")
        if urlsplit(api_base or "").scheme == "http":
            raise ConfigProblem("A live Stripe key is never sent to a plain-http STRIPE_API_BASE")


def check_stripe_api_base(value: str) -> str:
    """STRIPE_API_BASE normalised ("" = Stripe's own address), or ValueError.

    An https URL, or http on loopback only: every request carries the secret key, which plain http
    would send in clear. No credentials, query or fragment (the SDK appends /v1/... to it).
    """
    value = (value or "").strip()
    if not value:
        return ""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ConfigProblem("STRIPE_API_BASE must be a URL such as https://api.stripe.com") from None
    if url.scheme not in ("https", "http") or not url.hostname or url.username or url.password:
        raise ConfigProblem("STRIPE_API_BASE must be an http(s) URL with a host and no credentials")
    if url.query or url.fragment:
        raise ConfigProblem("STRIPE_API_BASE must not have a query or a fragment")
    if url.scheme == "http" and url.hostname not in LOCAL_HOSTS:
        raise ConfigProblem(
            "STRIPE_API_BASE may use plain http only on localhost (it would carry the secret key in clear)"
        )
    return value.rstrip("/")


def check_production(*, environment: str, gateway: str, demo_mode: bool) -> None:
    """Production takes real payments: the simulated gateway only when DEMO_MODE=true says it is a demo."""
    if environment == "production" and gateway == "simulated" and not demo_mode:
        raise ConfigProblem(
            "ENVIRONMENT=production with the simulated gateway: set GATEWAY=stripe "
            "(or DEMO_MODE=true for a public demo that takes no real payments)"
        )
