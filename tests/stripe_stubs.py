"""Offline Stripe doubles: the SDK's HTTP client replaced by a scripted stub, API-shaped objects,
and webhook signing by Stripe's documented scheme (computed independently of the SDK)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

SECRET = "sk_test_51Tst0000000000000000000000"
CUSTOMER = "cus_T1a2b3c4d5"
PM = "pm_1Qcard0000000001"
PI = "pi_3Qintent000000001"
SETI = "seti_1Qsetup00000001"
KEY = "m1-20260101000000000000-attempt-42"


# --------------------------------------------------------------------------- the stub HTTP client


@dataclasses.dataclass
class SentRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


class StubStripeHTTP(stripe.HTTPClient):
    """Answers scripted responses in order and records what the SDK sent (stripe 16.1.0 interface:
    `request(method, url, headers, post_data)` -> (body, status, headers), raising APIConnectionError
    for network failures)."""

    name = "stub"

    def __init__(self) -> None:
        super().__init__()
        self.script: deque[tuple[str, str, Any]] = deque()
        self.sent: list[SentRequest] = []

    def reply(self, method: str, path: str, body: dict, status: int = 200, headers: dict | None = None) -> None:
        self.script.append((method, path, (status, body, headers or {})))

    def fail(self, method: str, path: str, error: Exception) -> None:
        self.script.append((method, path, error))

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname == "api.stripe.com", url
        self.sent.append(
            SentRequest(
                method=method.upper(),
                path=parts.path,
                query=dict(parse_qsl(parts.query)),
                headers=dict(headers),
                form=dict(parse_qsl(post_data or "", keep_blank_values=True)),
            )
        )
        assert self.script, f"unexpected request {method.upper()} {parts.path}"
        want_method, want_path, answer = self.script.popleft()
        assert (method.upper(), parts.path) == (want_method, want_path), (method, parts.path)
        if isinstance(answer, Exception):
            raise answer
        status, body, extra = answer
        return json.dumps(body), status, {"request-id": "req_stub123", **extra}

    def request_stream(self, *args, **kwargs):  # pragma: no cover - the gateway never streams
        raise NotImplementedError

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- API-shaped objects


def card_pm(
    pm_id: str = PM,
    *,
    customer: str | None = CUSTOMER,
    brand: str = "visa",
    last4: str = "4242",
    exp_month: int = 12,
    exp_year: int = 2031,
) -> dict:
    return {
        "id": pm_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": {
            "brand": brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "display_brand": brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "last4": last4,
            "networks": {"available": [brand], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": 1767225600,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def payment_intent(
    status: str = "succeeded",
    *,
    pi_id: str = PI,
    key: str | None = KEY,
    last_payment_error: dict | None = None,
    next_action: dict | None = None,
    amount: int = 2900,
    currency: str = "usd",
    created: int = 1767225600,
) -> dict:
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "capture_method": "automatic_async",
        "client_secret": f"{pi_id}_secret_Xyz",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": CUSTOMER,
        "description": "Invoice ACME-2026-000123",
        "last_payment_error": last_payment_error,
        "latest_charge": "ch_3Qcharge0001" if status != "requires_action" else None,
        "livemode": False,
        "metadata": {"idempotency_key": key} if key else {},
        "next_action": next_action,
        "payment_method": PM,
        "payment_method_types": ["card"],
        "setup_future_usage": None,
        "status": status,
    }


def card_error(
    code: str,
    decline_code: str | None,
    message: str,
    *,
    advice_code: str | None = None,
    pi_status: str = "requires_payment_method",
) -> dict:
    error = {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "advice_code": advice_code,
        "doc_url": f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}",
        "message": message,
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_stub123?t=1767225600",
        "charge": "ch_3Qcharge0001",
    }
    error["payment_intent"] = payment_intent(pi_status, last_payment_error=dict(error.items()))
    error["payment_method"] = card_pm()
    return {"error": error}


def setup_intent(
    status: str, *, customer: str = CUSTOMER, payment_method: Any = None, last_setup_error: dict | None = None
) -> dict:
    return {
        "id": SETI,
        "object": "setup_intent",
        "client_secret": f"{SETI}_secret_Abc",
        "created": 1767225600,
        "customer": customer,
        "last_setup_error": last_setup_error,
        "livemode": False,
        "metadata": {},
        "next_action": {"type": "use_stripe_sdk", "use_stripe_sdk": {}} if status == "requires_action" else None,
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "status": status,
        "usage": "off_session",
    }


def api_error(type_: str, message: str, code: str | None = None) -> dict:
    return {"error": {"type": type_, "code": code, "message": message}}


WHSEC = "whsec_test_5e3b1c2d4f6a8b0c"


def sign(payload: bytes, secret: str = WHSEC, timestamp: int | None = None) -> str:
    """Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_body(event_type: str, obj: dict, *, event_id: str = "evt_1QwebhookA", livemode: bool = False) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": livemode,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    ).encode()


def refund_object(status: str = "succeeded", *, amount: int = 2900, currency: str = "usd", key: str = KEY) -> dict:
    return {
        "id": "re_3Qrefund0000001",
        "object": "refund",
        "amount": amount,
        "charge": "ch_3Qcharge0001",
        "created": 1767225600,
        "currency": currency,
        "failure_reason": "lost_or_stolen_card" if status == "failed" else None,
        "metadata": {"idempotency_key": key},
        "payment_intent": PI,
        "reason": "requested_by_customer",
        "status": status,
    }
