"""The Stripe SDK client with our retry policy: one place decides what is retried, with which key, and when
an answer becomes "unknown"."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import stripe

from portal_app.billing.gateways.stripe.errors import StripeUnavailable, TransientFailure, rejection_of
from portal_app.config_rules import check_stripe_api_base

log = logging.getLogger(__name__)

T = TypeVar("T")


def _default_http_client(timeout: float) -> stripe.HTTPClient:
    """requests with a bounded timeout (the SDK default is 80 s, too long while a customer waits)."""
    try:
        return stripe.RequestsClient(timeout=timeout)
    except ImportError:
        return stripe.new_default_http_client()


class StripeApi:
    """The SDK's v1 services (`api.v1`), called through `call` (retried) or `read` (retried, then raises).

    Retries live here, not in the SDK (max_network_retries=0). `api_base` (STRIPE_API_BASE) points the
    client at another address, a local mock in tests: StripeClient reads only its own `base_addresses`,
    never the module-level `stripe.api_base`. "" keeps Stripe's.
    """

    def __init__(
        self,
        secret_key: str,
        *,
        http_client: stripe.HTTPClient | None = None,
        max_retries: int = 2,
        backoff_seconds: tuple[float, ...] = (0.5, 1.5),
        sleep: Callable[[float], None] = time.sleep,
        timeout_seconds: float = 30.0,
        api_base: str = "",
    ):
        if max_retries < 0 or not backoff_seconds:
            raise ValueError("max_retries must be >= 0 and backoff_seconds non-empty")
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        api_base = check_stripe_api_base(api_base)
        client = stripe.StripeClient(
            secret_key,
            http_client=http_client or _default_http_client(timeout_seconds),
            max_network_retries=0,
            base_addresses={"api": api_base} if api_base else None,
        )
        self.v1 = client.v1

    def call(self, fn: Callable[[], T]) -> T:
        """Run one API call, retrying transient failures a bounded number of times.

        Callers pass the same idempotency key on every try (POSTs), so a retry of a request that
        did reach Stripe replays its first answer instead of doing the work twice.
        """
        for attempt in range(self._max_retries + 1):
            try:
                return fn()
            except (stripe.RateLimitError, stripe.APIConnectionError) as err:
                last = err
            except stripe.APIError as err:  # 5xx, 409 (concurrent use of a key), unreadable body
                last = err
                if (err.headers or {}).get("stripe-should-retry") == "false":
                    break
            if attempt < self._max_retries:
                delay = self._backoff[min(attempt, len(self._backoff) - 1)]
                log.info("Stripe transient error (%s), retry %d in ~%.1fs", type(last).__name__, attempt + 1, delay)
                self._sleep(delay * random.uniform(0.5, 1.0))
        raise TransientFailure(last)

    def read(self, fn: Callable[[], T]) -> T:
        """A call whose contract has no ERROR result: transient failures raise StripeUnavailable."""
        try:
            return self.call(fn)
        except TransientFailure as exc:
            raise StripeUnavailable(f"Stripe is unavailable: {exc.last.user_message or exc.last}") from exc.last
        except stripe.StripeError as err:
            raise rejection_of(err) from err

    @staticmethod
    def new_key(purpose: str) -> dict[str, str]:
        """Request options with a fresh idempotency key, reused by every retry of this one call."""
        return {"idempotency_key": f"portal-{purpose}-{uuid.uuid4()}"}
