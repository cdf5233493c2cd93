"""Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser that signed
in to an account gets a token that marks it as a known device of that account.

The token is `v1.<issued>.<nonce>.<HMAC-SHA256(SECRET_KEY, email|issued|nonce)>`: nothing is stored,
nothing secret is in it, and it is only worth anything for the account it was issued to. Strangers'
failed logins lock out untrusted clients of an account; a known device keeps its own, separate limit
(api/login_throttle.py), so the owner can still sign in while the account is under attack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from portal_app.settings import get_settings

DEVICE_TOKEN_MAX_AGE_SECONDS = 180 * 24 * 3600
_VERSION = "v1"
MAX_TOKEN_LENGTH = 120
_CLOCK_SKEW_SECONDS = 300  # workers whose clocks differ a little still accept each other's tokens


def _signature(email: str, issued: int, nonce: str) -> str:
    key = get_settings().secret_key.encode()
    message = f"console-device|{email}|{issued}|{nonce}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def login_key(email: str) -> str:
    """The account name a token and the throttles are keyed by: the typed email, trimmed, lower-cased."""
    return (email or "").strip().lower()[:254]


def issue_device_token(email: str, *, now: float | None = None) -> str:
    """A fresh device token for a browser that just signed in as `email` (a new one at every login)."""
    issued = int(now if now is not None else time.time())
    nonce = secrets.token_urlsafe(12)
    return f"{_VERSION}.{issued}.{nonce}.{_signature(login_key(email), issued, nonce)}"


def trusted_device(token: str, email: str, *, now: float | None = None) -> str | None:
    """The device id (the token's nonce) if `token` is a valid, unexpired device token for `email`."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not (parts[1].isascii() and parts[1].isdigit()):
        return None
    issued, nonce, signature = int(parts[1]), parts[2], parts[3]
    age = (now if now is not None else time.time()) - issued
    if not -_CLOCK_SKEW_SECONDS <= age <= DEVICE_TOKEN_MAX_AGE_SECONDS:
        return None
    if not hmac.compare_digest(signature, _signature(login_key(email), issued, nonce)):
        return None
    return nonce
