"""STRIPE_API_BASE: where the Stripe adapter sends its API calls (a local mock in tests), and the rule
that the secret key never travels over plain http off this machine."""

from __future__ import annotations

import json

import pytest
import stripe
from pydantic import ValidationError

from portal_app.billing.gateways.stripe.config import check_stripe_settings
from portal_app.billing.gateways.stripe.errors import StripeSettingsError
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from portal_app.config_rules import check_stripe_api_base
from portal_app.settings import Settings

SECRET = "sk_test_51Abc"


class UrlRecorder(stripe.HTTPClient):
    """Notes the URL of each request and answers a customer."""

    name = "recorder"

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.urls.append(url)
        return json.dumps({"id": "cus_T1", "object": "customer"}), 200, {"request-id": "req_1"}

    def request_stream(self, *args, **kwargs):  # pragma: no cover - never streams
        raise NotImplementedError

    def close(self):
        pass


def stripe_settings(**overrides) -> Settings:
    values = dict(
        gateway="stripe",
        environment="development",
        stripe_secret_key=SECRET,
        stripe_publishable_key="pk_test_51Abc",
        stripe_webhook_secret="whsec_Abc123",
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("  ", ""),
        ("https://api.stripe.com", "https://api.stripe.com"),
        ("https://stripe-egress.internal:8443/", "https://stripe-egress.internal:8443"),
        ("http://localhost:12111", "http://localhost:12111"),
        ("http://127.0.0.1:8420/", "http://127.0.0.1:8420"),
        ("http://[::1]:8420", "http://[::1]:8420"),
    ],
)
def test_accepted_addresses(value, expected):
    assert check_stripe_api_base(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "http://stripe-mock.internal:12111",  # the secret key in clear over a network
        "http://10.0.0.5:12111",
        "http://localhost.attacker.example",
        "http://127.0.0.1@attacker.example",
        "https://user:secret@api.stripe.com",
        "ftp://api.stripe.com",
        "api.stripe.com",
        "https://",
        "https://api.stripe.com?x=1",
        "https://api.stripe.com#v1",
        "https://api.stripe.com:99999",
    ],
)
def test_refused_addresses(value):
    with pytest.raises(ValueError, match="STRIPE_API_BASE"):
        check_stripe_api_base(value)


def test_the_setting_reads_the_environment_and_refuses_plain_http_off_loopback(monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420/")
    assert Settings(_env_file=None).stripe_api_base == "http://127.0.0.1:8420"
    monkeypatch.setenv("STRIPE_API_BASE", "http://stripe-mock:12111")
    with pytest.raises(ValidationError, match="plain http only on localhost"):
        Settings(_env_file=None)


def test_the_gateway_from_settings_calls_that_address():
    http = UrlRecorder()
    gw = StripeGateway.from_settings(
        stripe_settings(stripe_api_base="https://stripe-egress.internal:8443"), http_client=http
    )
    assert gw.create_customer(email="a@example.com", name="A", metadata={}) == "cus_T1"
    assert http.urls == ["https://stripe-egress.internal:8443/v1/customers"]


def test_unset_it_is_stripe_itself():
    http = UrlRecorder()
    StripeGateway.from_settings(stripe_settings(), http_client=http).create_customer(
        email="a@example.com", name="A", metadata={}
    )
    assert http.urls == ["https://api.stripe.com/v1/customers"]


def test_a_gateway_built_by_hand_checks_it_too():
    with pytest.raises(ValueError, match="plain http only on localhost"):
        StripeGateway(SECRET, api_base="http://stripe-mock:12111")


def test_a_live_key_is_never_sent_to_a_plain_http_address():
    live = dict(
        environment="production",
        secret_key="x" * 40,
        public_url="https://billing.example.com",
        stripe_secret_key="sk_live_51Abc",
        stripe_publishable_key="pk_live_51Abc",
    )
    check_stripe_settings(stripe_settings(**live, stripe_api_base="https://stripe-egress.internal"))
    # Start-up refuses it (the settings check) ...
    with pytest.raises(ValidationError, match="plain-http STRIPE_API_BASE"):
        stripe_settings(**live, stripe_api_base="http://localhost:12111")
    # ... and so does the gateway's own check of a settings-like object built without validation.
    unchecked = Settings.model_construct(
        **{**stripe_settings(**live).model_dump(), "stripe_api_base": "http://localhost:12111"}
    )
    with pytest.raises(StripeSettingsError, match="plain-http"):
        check_stripe_settings(unchecked)
