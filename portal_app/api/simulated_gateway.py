"""The simulated gateway's tokenizer endpoint (its api.stripe.com/v1/payment_methods): the card
component posts a card here from the browser and gets a pm_ id, which is all Reflex ever sees.

Like Stripe: test numbers only, Stripe's error shape and wording ({"error": {"type": "card_error",
"code", "param", "message"}} with 402), 429 when rate-limited. Unlike Stripe: same-origin only, and
it exists only while the simulated gateway is configured (404 otherwise). Nothing here logs or
stores the body; the answer carries what a saved card may show (brand, last4, expiry).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from portal_app.api.headers import client_ip, same_origin
from portal_app.billing.gateways import get_gateway
from portal_app.billing.gateways.base import CardEntry
from portal_app.billing.gateways.simulated_tokens import CardRefused, tokenize_card
from portal_app.ratelimit import RateLimiter
from portal_app.settings import get_settings

MAX_BODY_BYTES = 2048
CARD_FIELDS = ("number", "exp_month", "exp_year", "cvc")
# CARD_TOKEN_IP_LIMIT per client address in 5 minutes (settings.card_token_ip_limit).
tokenize_limiter = RateLimiter("card_tokens", limit=get_settings().card_token_ip_limit, window_seconds=300)


def _error(status: int, type_: str, code: str, message: str, param: str = "", decline_code: str = "") -> JSONResponse:
    error = {"type": type_, "code": code, "message": message}
    if param:
        error["param"] = param
    if decline_code:
        error["decline_code"] = decline_code
    return JSONResponse({"error": error}, status_code=status, headers={"Cache-Control": "no-store"})


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY_BYTES (read no further)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return body


def _card_from(body: bytes, content_type: str) -> dict[str, str] | None:
    """{"card": {...}} as JSON, or Stripe's form encoding card[number]=...; None when malformed."""
    try:
        if content_type.startswith("application/json"):
            data = json.loads(body)
            card = data.get("card") if isinstance(data, dict) else None
        elif content_type.startswith("application/x-www-form-urlencoded"):
            fields = parse_qs(body.decode(), strict_parsing=False)
            card = {name: fields.get(f"card[{name}]", [""])[0] for name in CARD_FIELDS}
        else:
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(card, dict) or set(card) - set(CARD_FIELDS):
        return None
    if not all(isinstance(card.get(name, ""), (str, int)) for name in CARD_FIELDS):
        return None
    return {name: str(card.get(name, "")) for name in CARD_FIELDS}


async def create_payment_method(request: Request) -> JSONResponse:
    """POST a card, get {"id": "pm_...", "object": "payment_method", "card": {brand, last4, exp_*}}."""
    if get_gateway().card_entry is not CardEntry.FORM:
        return _error(404, "invalid_request_error", "resource_missing", "Unrecognized request URL.")
    if not same_origin(request):
        return _error(403, "invalid_request_error", "cross_site_refused", "Cross-site requests are refused.")
    if not tokenize_limiter.hit(client_ip(request)):
        return _error(429, "invalid_request_error", "rate_limit", "Too many requests. Please try again later.")
    try:
        body = await _read_body(request)
    except ClientDisconnect:
        body = None
    card = _card_from(body, request.headers.get("content-type", "")) if body is not None else None
    if card is None:
        return _error(
            400,
            "invalid_request_error",
            "parameter_invalid",
            "Send card[number], card[exp_month], card[exp_year] and card[cvc].",
        )
    try:
        token = tokenize_card(card)
    except CardRefused as refused:
        r = refused.refusal
        return _error(402, "card_error", r.code, r.message, param=r.param, decline_code=r.decline_code)
    return JSONResponse(
        {
            "id": token.id,
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": token.brand,
                "last4": token.last4,
                "exp_month": token.exp_month,
                "exp_year": token.exp_year,
            },
            "livemode": False,
        },
        headers={"Cache-Control": "no-store"},
    )
