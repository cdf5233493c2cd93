"""The REST API's rate limit: per API key, shared by every worker through Redis when configured."""

from __future__ import annotations

from portal_app.api.v1.errors import ApiError
from portal_app.ratelimit import RateLimiter

WINDOW_SECONDS = 10
# 100 requests per 10 s and key, about what Stripe allows in live mode per second, spread out.
api_key_limiter = RateLimiter("api-key", limit=100, window_seconds=WINDOW_SECONDS)


def spend(key_id: int) -> None:
    """Count one request of the key; ApiError 429 with Retry-After once it is over its limit."""
    if not api_key_limiter.hit(str(key_id)):
        raise ApiError(
            429,
            "rate_limit",
            "Too many requests with this API key: slow down and retry after the time in Retry-After.",
            type="rate_limit_error",
            headers={"Retry-After": str(api_key_limiter.window)},
        )
