"""The endpoint URL rule (SSRF): https and public hosts only in production; http and loopback
allowed elsewhere for local receivers. Also the secret's shape and the event type filter."""

from __future__ import annotations

import base64

import pytest

from portal_app.billing.webhooks_out import urls
from portal_app.billing.webhooks_out.endpoints import clean_event_types, new_secret
from portal_app.billing.webhooks_out.events import EVENT_TYPES, subscribed
from portal_app.billing.webhooks_out.urls import EndpointUrlError, check_endpoint_url, resolves_to_internal

INTERNAL = [
    "https://localhost/h",
    "https://app.localhost/h",
    "https://127.0.0.1/h",
    "https://127.1.2.3:8443/h",
    "https://[::1]/h",
    "https://10.0.0.5/h",
    "https://192.168.1.1/h",
    "https://172.16.0.1/h",
    "https://169.254.169.254/latest/meta-data",
    "https://[::ffff:127.0.0.1]/h",
    "https://0.0.0.0/h",
    "https://[fd00::1]/h",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_production_refuses_local_and_private_hosts(url):
    with pytest.raises(EndpointUrlError) as info:
        check_endpoint_url(url, production=True)
    assert info.value.field == "url" and info.value.code == "invalid_url"


def test_production_requires_https():
    with pytest.raises(EndpointUrlError, match="https"):
        check_endpoint_url("http://hooks.example.com/h", production=True)
    assert check_endpoint_url("https://hooks.example.com/h", production=True) == "https://hooks.example.com/h"
    assert check_endpoint_url("https://93.184.216.34:8443/x?y=1", production=True)


def test_elsewhere_http_and_loopback_are_allowed():
    assert check_endpoint_url("http://127.0.0.1:8000/hooks", production=False)
    assert check_endpoint_url("http://localhost/hooks", production=False)


@pytest.mark.parametrize(
    "bad",
    [None, 3, "", "   ", "javascript:alert(1)", "file:///etc/passwd", "https://", "https://a b/", "https://x:99999/"],
)
def test_garbage_is_refused_everywhere(bad):
    for production in (True, False):
        with pytest.raises(EndpointUrlError):
            check_endpoint_url(bad, production=production)


def test_resolution_is_checked_before_each_production_delivery(monkeypatch):
    monkeypatch.setattr(urls.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 0))])
    assert resolves_to_internal("https://rebinding.example/h")
    monkeypatch.setattr(urls.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 0))])
    assert not resolves_to_internal("https://public.example/h")
    assert resolves_to_internal("https://127.0.0.1/h")


def test_secret_is_standard_webhooks_shaped():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    assert new_secret() != secret


def test_event_type_filter():
    assert clean_event_types(None) == () and clean_event_types([]) == ()
    assert clean_event_types(["invoice.paid", "subscription.created"]) == ("subscription.created", "invoice.paid")
    assert subscribed("", "invoice.paid") and subscribed("invoice.paid", "invoice.paid")
    assert not subscribed("invoice.paid", "invoice.payment_failed")
    # + subscription.paused, .resumed, .trial_will_end and credit_note.issued (issue 14)
    assert len(EVENT_TYPES) == 12 and "credit_note.issued" in EVENT_TYPES
