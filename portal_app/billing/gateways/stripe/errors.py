"""What the Stripe gateway raises: Stripe unreachable, a request Stripe refused, unsafe settings."""

from __future__ import annotations

import stripe

from portal_app.billing.gateways.base import IdempotencyKeyReused


class StripeUnavailable(RuntimeError):
    """Stripe stayed unreachable (timeout, connection, rate limit, 5xx) after bounded retries."""


class StripeRequestRejected(RuntimeError):
    """Stripe refused the request itself (bad key, missing permission, invalid parameters).

    Nothing was processed: this is a bug or a misconfiguration to fix, not a card decline.
    """

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None, request_id: str = ""):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.request_id = request_id


class StripeSettingsError(ValueError):
    """The Stripe settings are unsafe or inconsistent; the process must not start."""


class TransientFailure(Exception):
    """The call kept failing with retryable errors (`last` is the final one); the gateway decides what that means."""

    def __init__(self, last: stripe.StripeError):
        super().__init__(str(last))
        self.last = last


def rejection_of(err: stripe.StripeError) -> Exception:
    """Our exception for a request Stripe refused (never a card decline)."""
    if isinstance(err, stripe.IdempotencyError):
        return IdempotencyKeyReused(err.user_message or "idempotency key reused with different parameters")
    return StripeRequestRejected(
        f"Stripe refused the request ({type(err).__name__}): {err.user_message or ''}",
        code=err.code or "",
        http_status=err.http_status,
        request_id=err.request_id or "",
    )
