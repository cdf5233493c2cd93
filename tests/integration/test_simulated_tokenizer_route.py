"""The simulated gateway's tokenizer endpoint: a card in, a pm_ id out, Stripe's error shape for
refusals, rate-limited, same-origin, and no card data in any log line."""

from __future__ import annotations

import logging
import types
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from portal_app import routes
from portal_app.api import build_api
from portal_app.api import simulated_gateway as tokenizer_route
from portal_app.billing.gateways.base import CardEntry
from portal_app.billing.gateways.simulated_tokens import read_card_token
from portal_app.ratelimit import RateLimiter

NEXT_YEAR = str(datetime.now(UTC).year + 1)
URL = routes.API_SIMULATED_PAYMENT_METHODS


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(
        tokenizer_route, "tokenize_limiter", RateLimiter("test-card-tokens", limit=100, window_seconds=60)
    )
    return TestClient(build_api())


def post(client, number="4242 4242 4242 4242", month="12", year=NEXT_YEAR, cvc="123", **kw):
    return client.post(URL, json={"card": {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}}, **kw)


def test_a_test_card_answers_a_pm_id_and_what_a_saved_card_may_show(client, caplog):
    caplog.set_level(logging.DEBUG)
    response = post(client)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["object"] == "payment_method" and body["id"].startswith("pm_")
    assert body["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": int(NEXT_YEAR)}
    assert read_card_token(body["id"]).behaviour == "succeeds"
    assert "4242424242424242" not in response.text.replace(" ", "")
    assert "4242 4242" not in caplog.text and "4242424242424242" not in caplog.text


def test_stripes_form_encoding_works_too(client):
    data = {"card[number]": "4000002500003155", "card[exp_month]": "1", "card[exp_year]": NEXT_YEAR, "card[cvc]": "1"}
    response = client.post(URL, data=data)
    assert response.status_code == 402 and response.json()["error"]["code"] == "invalid_cvc"
    data["card[cvc]"] = "123"
    assert read_card_token(client.post(URL, data=data).json()["id"]).behaviour == "3ds_once"


@pytest.mark.parametrize(
    ("card", "code", "param", "message"),
    [
        ({"number": "4242 4242 4242 4241"}, "incorrect_number", "number", "Your card number is incorrect."),
        ({"month": "13"}, "invalid_expiry_month", "exp_month", "Your card's expiration month is invalid."),
        ({"year": "2020"}, "invalid_expiry_year", "exp_year", "Your card's expiration year is invalid."),
        ({"cvc": "12"}, "invalid_cvc", "cvc", "Your card's security code is invalid."),
    ],
)
def test_refusals_have_stripes_shape_and_words(client, card, code, param, message):
    response = post(client, **card)
    assert response.status_code == 402
    assert response.json() == {"error": {"type": "card_error", "code": code, "param": param, "message": message}}


def test_a_real_card_is_refused_in_test_mode(client):
    error = post(client, number="4111 1111 1111 1111").json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "test_mode_live_card",
    )


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"card": "4242"}', b'{"card": {"number": "4242424242424242", "extra": 1}}', b"x" * 5000],
)
def test_malformed_or_oversized_bodies_are_invalid_requests(client, body):
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_rate_limited_per_client(client, monkeypatch):
    monkeypatch.setattr(
        tokenizer_route, "tokenize_limiter", RateLimiter("test-card-tokens-2", limit=2, window_seconds=60)
    )
    assert [post(client).status_code for _ in range(3)] == [200, 200, 429]
    assert post(client).json()["error"]["code"] == "rate_limit"


def test_cross_site_posts_are_refused(client):
    assert post(client, headers={"origin": "https://evil.example"}).status_code == 403


def test_absent_unless_the_simulated_gateway_is_configured(client, monkeypatch):
    stripe_like = types.SimpleNamespace(card_entry=CardEntry.STRIPE_ELEMENTS)
    monkeypatch.setattr(tokenizer_route, "get_gateway", lambda: stripe_like)
    assert post(client).status_code == 404
